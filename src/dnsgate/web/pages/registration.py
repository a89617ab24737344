"""Sign-up, e-mail verification, and the admin's side of both: the
registration settings and approving pending accounts (views over
``services/registration.py``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from dnsgate.api.params import RowId
from dnsgate.domain.errors import Conflict, Denied, InvalidInput, RateLimited
from dnsgate.services import invites, registration, site_settings
from dnsgate.web import deps, outbox
from dnsgate.web.render import redirect, render

router = APIRouter()
_FIELD_OF_CODE = {"invalid_email": "email", "weak_password": "password",
                  "invite_invalid": ""}


def _offer(request: Request, text: str) -> invites.Offer | None:
    """The invite a link offers (InvalidInput when it is not usable)."""
    if not text:
        return None
    env = deps.ui(request).env
    with env.db.read() as session:
        return invites.usable(env, session, text, now=env.clock())


def _page(request: Request, *, status: int = 200, invite: str = "",
          offer: invites.Offer | None = None, form: dict[str, Any] | None = None,
          errors: dict[str, str] | None = None) -> Response:
    rules = registration.policy(deps.ui(request).env)
    can_mail = outbox.mailer(request) is not None
    return render(request, "register.html", status, rules=rules, can_mail=can_mail,
                  invite=invite, offer=offer, form=form or {}, errors=errors or {})


@router.get("/register")
async def register_page(request: Request) -> Response:
    if deps.current(request) is not None:
        return redirect(request, "/ui/")
    invite = request.query_params.get("invite", "").strip()[:200]
    try:
        offer = _offer(request, invite)
    except InvalidInput as exc:
        return _page(request, status=400, errors={"": exc.message})
    return _page(request, invite=invite, offer=offer)


@router.post("/register")
async def register(request: Request) -> Response:
    if deps.current(request) is not None:
        return redirect(request, "/ui/")
    env, ctx = deps.ui(request).env, deps.context(request)
    data = await deps.form(request)
    invite = data.text("invite")[:200]
    shown = {"username": data.get("username"), "email": data.get("email")}  # no passwords
    try:
        offer = _offer(request, invite)
    except InvalidInput as exc:
        return _page(request, status=400, form=shown, errors={"": exc.message})
    mailer = outbox.mailer(request)
    if offer is None and (registration.policy(env).registration != "open" or mailer is None):
        return _page(request, status=403, form=shown)  # the page says why
    errors: dict[str, str] = {}
    if not data.text("username"):
        errors["username"] = "Choose a username."
    if (offer is None or not offer.email) and not data.text("email"):
        errors["email"] = "Enter your e-mail address."
    if not data.get("password"):
        errors["password"] = "Choose a password."  # noqa: S105 - a message
    elif data.get("password") != data.get("confirm"):
        errors["confirm"] = "The two passwords differ."
    if not errors:
        try:
            made = await registration.register(
                env, ctx, name=data.text("username"), email=data.text("email"),
                password=data.get("password"), invite=invite or None,
                mail_available=mailer is not None)
        except Denied as exc:
            message = {"registration_invite": "Sign-up is by invitation only.",
                       "mail_unavailable": outbox.NO_MAIL}.get(exc.code, "Sign-up is closed.")
            return _page(request, status=403, invite=invite, offer=offer, form=shown,
                         errors={"": message})
        except Conflict as exc:
            field = "" if exc.code == "invite_invalid" else "username"
            errors[field] = exc.message if field == "" else "That username is taken."
        except InvalidInput as exc:
            errors[_FIELD_OF_CODE.get(exc.code, "username")] = _sentence(exc.message)
        except RateLimited as exc:
            response = _page(request, status=429, invite=invite, offer=offer, form=shown,
                             errors={"": "Too many sign-ups from your address. Try again in "
                                         f"{exc.retry_after} seconds."})
            response.headers["Retry-After"] = str(exc.retry_after)
            return response
    if errors:
        return _page(request, status=422, invite=invite, offer=offer, form=shown, errors=errors)
    if not made.needs_verification:
        return redirect(request, "/ui/login", done="registered")
    assert mailer is not None  # open sign-up is refused without mail
    mail = registration.verification_mail(env, mailer, account_id=made.account_id)
    if not await outbox.deliver(mailer, [mail]):
        return redirect(request, "/ui/login", done="registered_mail_failed")
    approval = registration.policy(env).approval
    return redirect(request, "/ui/login",
                    done="registered_verify_approval" if approval == "admin"
                    else "registered_verify")


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


# --- e-mail verification -------------------------------------------------------

@router.get("/verify")
async def verify(request: Request) -> Response:
    state = deps.ui(request)
    token = request.query_params.get("token", "")
    try:
        account = registration.verify_email(state.env, deps.context(request), token=token)
    except InvalidInput as exc:
        return render(request, "verify.html", 400, account=None, problem=exc.message,
                      can_mail=outbox.mailer(request) is not None)
    return render(request, "verify.html", account=account, problem="", can_mail=True)


def _resend_page(request: Request, status: int = 200, form: dict[str, Any] | None = None,
                 errors: dict[str, str] | None = None) -> Response:
    return render(request, "verify_resend.html", status, form=form or {}, errors=errors or {},
                  can_mail=outbox.mailer(request) is not None)


@router.get("/verify/resend")
async def resend_page(request: Request) -> Response:
    return _resend_page(request)


@router.post("/verify/resend")
async def resend(request: Request) -> Response:
    env, ctx = deps.ui(request).env, deps.context(request)
    data = await deps.form(request)
    shown = {"login": data.get("login")}
    if not data.text("login"):
        return _resend_page(request, 422, shown,
                            {"login": "Enter your username or e-mail address."})
    mailer = outbox.mailer(request)
    if mailer is None:
        return _resend_page(request, 503, shown, {"": outbox.NO_MAIL})
    try:
        account_id = await registration.request_verification(env, ctx, login=data.text("login"))
    except RateLimited as exc:
        response = _resend_page(request, 429, shown, {
            "": f"Too many requests. Try again in {exc.retry_after} seconds."})
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    response = redirect(request, "/ui/login", done="verification_sent")
    if account_id is not None:  # sent after the answer: its timing tells nothing
        mail = registration.verification_mail(env, mailer, account_id=account_id)
        response.background = BackgroundTask(outbox.deliver, mailer, [mail])
    return response


# --- admin: registration settings, approving accounts ---------------------------

SETTINGS = (site_settings.REGISTRATION, site_settings.ACCOUNT_APPROVAL)


def _settings_page(request: Request, status: int = 200, form: dict[str, Any] | None = None,
                   errors: dict[str, str] | None = None) -> Response:
    env = deps.ui(request).env
    current = site_settings.read_all(env)
    return render(request, "admin/registration.html", status,
                  form=form or {key: current[key] for key in SETTINGS}, errors=errors or {},
                  choices={key: site_settings.KNOWN[key][0] for key in SETTINGS},
                  can_mail=outbox.mailer(request) is not None)


@router.get("/admin/registration")
async def settings_page(request: Request, who: deps.AdminViewer) -> Response:
    return _settings_page(request)


@router.post("/admin/registration")
async def save_settings(request: Request, who: deps.AdminViewer) -> Response:
    env, ctx = deps.ui(request).env, deps.context(request)
    data = await deps.form(request)
    chosen = {key: data.text(key) for key in SETTINGS}
    errors = {key: "Choose one of the options." for key, value in chosen.items()
              if value not in site_settings.KNOWN[key][0]}
    if errors:
        return _settings_page(request, 422, chosen, errors)
    with env.db.read() as session:
        changed = {key: value for key, value in chosen.items() if _get(session, key) != value}
    for key, value in changed.items():
        site_settings.put(env, ctx, caller=who.caller, key=key, value=value)
    return redirect(request, "/ui/admin/registration", done="registration_saved")


def _get(session: Session, key: str) -> Any:
    return site_settings.get(session, key)


@router.post("/admin/accounts/{account_id}/approve")
async def approve(request: Request, who: deps.AdminViewer, account_id: RowId) -> Response:
    env, ctx = deps.ui(request).env, deps.context(request)
    back = (await deps.form(request)).text("back")
    if back != f"/ui/admin/accounts/{account_id}":
        back = "/ui/admin/accounts"
    try:
        registration.approve_account(env, ctx, caller=who.caller, account_id=account_id)
    except Conflict as exc:
        return redirect(request, back, done="account_unverified"
                        if exc.code == "email_unverified" else "account_not_pending")
    return redirect(request, back, done="account_approved")
