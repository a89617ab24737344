"""Admin invites: list, create (the link shown once, and mailed when an
address is given and mail is set up), revoke."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dnsgate.domain.errors import InvalidInput
from dnsgate.security.text import digits
from dnsgate.services import invites, registration
from dnsgate.web import deps, outbox
from dnsgate.web.render import redirect, render

router = APIRouter(prefix="/admin")
DEFAULT_DAYS = 7


def _page(request: Request, status: int = 200, form: dict[str, Any] | None = None,
          errors: dict[str, str] | None = None) -> Response:
    env = deps.ui(request).env
    return render(request, "admin/invites.html", status, invites=invites.list_invites(env),
                  roles=invites.ROLES, form=form or {"days": str(DEFAULT_DAYS), "role": "user"},
                  errors=errors or {}, can_mail=outbox.mailer(request) is not None,
                  max_days=invites.MAX_DAYS)


@router.get("/invites")
async def invites_page(request: Request, who: deps.AdminViewer) -> Response:
    return _page(request)


@router.post("/invites")
async def create(request: Request, who: deps.AdminViewer) -> Response:
    env, ctx = deps.ui(request).env, deps.context(request)
    data = await deps.form(request)
    shown = {"email": data.get("email"), "role": data.get("role"), "days": data.get("days")}
    errors: dict[str, str] = {}
    email: str | None = None
    if data.text("email"):
        try:
            email = registration.normalize_email(data.text("email"))
        except InvalidInput as exc:
            errors["email"] = exc.message
    if data.text("role") not in invites.ROLES:
        errors["role"] = "Choose user or admin."
    days = data.text("days")
    if not digits(days, maximum=invites.MAX_DAYS):  # None, or 0
        errors["days"] = f"Enter a whole number of days from 1 to {invites.MAX_DAYS}."
    if errors:
        return _page(request, 422, shown, errors)
    invite, text = invites.create_invite(env, ctx, caller=who.caller, email=email,
                                         role=data.text("role"), days=int(days))
    mailer = outbox.mailer(request)
    mailed: bool | None = None
    if email and mailer is not None:
        mailed = await outbox.deliver(mailer, [invites.invite_mail(
            mailer, email=email, text=text, inviter=who.name, expires_at=invite.expires_at)])
    link = f"{deps.ui(request).settings.public_url.rstrip('/')}/ui/register?invite={text}"
    return render(request, "admin/invite_created.html", invite=invite, link=link,
                  mailed=mailed)


@router.post("/invites/{invite_id}/revoke")
async def revoke(request: Request, who: deps.AdminViewer, invite_id: str) -> Response:
    state = deps.ui(request)
    invites.revoke_invite(state.env, deps.context(request), caller=who.caller,
                          invite_id=invite_id[:32])
    return redirect(request, "/ui/admin/invites", done="invite_revoked")
