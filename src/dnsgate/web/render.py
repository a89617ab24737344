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
    # --- registration, verification, invites, password reset
    # --- realm page, activity, audit
    # --- admin: accounts, zones, grants, tokens
    # --- backends (mine and admin)
}

#: The navigation: (path, label). A page is marked current when the path matches.
NAV_MAIN: list[tuple[str, str]] = [
    ("/ui/", "Dashboard"),
    ("/ui/tokens", "Tokens"),
    ("/ui/realms/request", "Request a realm"),
]
NAV_ADMIN: list[tuple[str, str]] = [
    ("/ui/admin/approvals", "Approvals"),
    ("/ui/admin/accounts", "Accounts"),
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
