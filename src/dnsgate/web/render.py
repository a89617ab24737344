"""Pages: Jinja2 templates (autoescaped) shipped in the package, rendered with
what every page needs (who is signed in, the CSRF token, the navigation)."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from dnsgate.web import deps

#: Fixed notices a redirect may ask for (``?done=<key>``): nothing user-typed
#: is ever reflected from a URL.
NOTICES = {
    # --- sign-in, portal
    "logged_out": "You are signed out.",
    "logged_out_everywhere": "You are signed out on every device.",
    "token_revoked": "The token is revoked; its next request gets 401.",
    "realm_requested": "Your realm request is saved.",
    "realm_approved": "The realm is approved.",
    "realm_rejected": "The realm is rejected; the owner sees your reason.",
    "already_decided": "That request was already decided.",
    "session_expired": "Your session has ended; please sign in again.",
    # --- account security (2FA, sessions, API keys)
    "2fa_disabled": "Two-factor sign-in is off.",
    "2fa_already_on": "Two-factor sign-in is already on.",
    "2fa_already_off": "Two-factor sign-in is not on.",
    "recovery_code_used": "You signed in with a recovery code; it is now used up. "
                          "See below how many you have left.",
    "session_revoked": "That session is signed out.",
    "api_key_revoked": "The API key is revoked; its next request gets 401.",
    "settings_saved": "The settings are saved.",
    "2fa_reset": "Two-factor sign-in of the account is reset; it can sign in with its "
                 "password and set it up again.",
    # --- registration, verification, invites, password reset
    "registered": "Your account is ready: sign in.",
    "registered_verify": "Your account is created. Open the link we mailed you to confirm "
                         "your e-mail address, then sign in.",
    "registered_verify_approval": "Your account is created. Open the link we mailed you to "
                                  "confirm your e-mail address; an admin then approves it.",
    "registered_mail_failed": "Your account is created, but the confirmation mail could not "
                              "be sent. Ask for a new confirmation link in a few minutes.",
    "verification_sent": "If that account still needs its e-mail address confirmed, "
                         "we mailed it a new link.",
    "reset_sent": "If an account with a confirmed e-mail address matches, we mailed it a "
                  "link to choose a new password.",
    "password_reset": "Your new password is set; you are signed out everywhere. Sign in.",
    "password_changed": "Your new password is set; your other sessions are signed out.",
    "registration_saved": "The registration settings are saved.",
    "invite_revoked": "The invitation is revoked; its link no longer works.",
    "account_approved": "The account is approved and active.",
    "account_unverified": "That account has not confirmed its e-mail address yet.",
    "account_not_pending": "That account is not waiting for approval.",
    # --- realm page, activity, audit
    "rrset_saved": "The record set is saved.",
    "rrset_unchanged": "The record set already had these records; nothing changed.",
    "rrset_deleted": "The record set is deleted.",
    "change_undone": "The change is undone: the record set is back as it was before it "
                     "(the undo is a new change in the history).",
    # --- admin: accounts, zones, grants, tokens
    "account_disabled": "The account is disabled; its tokens and API keys stop working.",
    "account_enabled": "The account is enabled again.",
    "account_deleted": "The account and everything it held are deleted.",
    "zone_added": "The zone is added. Check its policy: it starts private, with admin approval.",
    "zone_updated": "The policy is saved; it applies from the next request.",
    "grant_created": "The grant is saved.",
    "grant_revoked": "The grant is revoked; realms already approved stay until revoked.",
    # --- backends (mine and admin)
    "backend_added": "The backend is saved. Test the connection to see whether it works.",
    "backend_saved": "The configuration is saved.",
    "backend_checked": "The connection was tested; the result is shown below.",
    "backend_disabled": "The backend is disabled; its zones refuse every change.",
    "backend_enabled": "The backend is enabled.",
    "own_zone_used": "The zone is yours in dnsgate and your realm on it is approved. "
                     "Create a token for it here.",
}

#: The navigation: (path, label). A page is marked current when the path matches.
NAV_MAIN: list[tuple[str, str]] = [
    ("/ui/", "Dashboard"),
    ("/ui/tokens", "Tokens"),
    ("/ui/realms/request", "Request a realm"),
    ("/ui/activity", "Activity"),
    ("/ui/backends", "My backends"),
    ("/ui/security", "Security"),
]
NAV_ADMIN: list[tuple[str, str]] = [
    ("/ui/admin/", "Overview"),
    ("/ui/admin/approvals", "Approvals"),
    ("/ui/admin/accounts", "Accounts"),
    ("/ui/admin/zones", "Zones"),
    ("/ui/admin/tokens", "Tokens"),
    ("/ui/admin/backends", "Backends"),
    ("/ui/admin/settings", "Settings"),
    ("/ui/admin/registration", "Registration"),
    ("/ui/admin/invites", "Invitations"),
    ("/ui/admin/audit", "Audit log"),
]


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "never"


@cache
def templates() -> Environment:
    env = Environment(loader=PackageLoader("dnsgate.web", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["when"] = _when
    return env


def render(request: Request, name: str, status: int = 200, **values: Any) -> HTMLResponse:
    """A full page or an htmx fragment; sets the pre-session cookie a new form needs."""
    who = deps.current(request)
    token = deps.csrf_token(request)
    done = request.query_params.get("done", "")
    page = templates().get_template(name).render(
        who=who, csrf_token=token, notice=NOTICES.get(done, ""), path=request.url.path,
        nav_main=NAV_MAIN, nav_admin=NAV_ADMIN,
        **values)
    response = HTMLResponse(page, status_code=status)
    new_pre = getattr(request.state, "new_pre", None)
    if new_pre is not None:
        set_cookie(request, response, deps.PRE_COOKIE, new_pre, max_age=None)
    return response


def set_cookie(request: Request, response: Response, name: str, value: str, *,
               max_age: int | None) -> None:
    """HttpOnly, SameSite=Lax, path /ui; Secure whenever the browser uses https."""
    response.set_cookie(name, value, max_age=max_age, path=deps.COOKIE_PATH, httponly=True,
                        samesite="lax", secure=deps.https(request))


def clear_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(name, path=deps.COOKIE_PATH, httponly=True, samesite="lax",
                           secure=deps.https(request))


def redirect(request: Request, to: str, *, done: str | None = None) -> Response:
    """303 after a POST; for htmx an ``HX-Redirect`` so the whole page moves."""
    target = f"{to}?done={done}" if done else to
    if request.headers.get("hx-request") == "true":
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)
