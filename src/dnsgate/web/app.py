"""The web UI as its own ASGI app, mounted at ``/ui`` by ``dnsgate.app``.

Its own app (not routes of the API's) so everything under ``/ui`` -- pages,
static files, error pages, even a 500 -- gets the UI's security headers and
HTML errors, while the REST API keeps its problem+json.

Errors map to pages here, once:

    CsrfFailed           403  nothing was done (audited)
    LoginRequired        303  to /ui/login?next=...
    EnrolmentRequired    303  to /ui/security/2fa/setup (the site requires 2FA)
    AdminRequired        403
    NotFound (services)  404  (audited: someone asked for an object not theirs;
                              past DETAILED_PER_MINUTE a minute, in aggregate only)
    RateLimited          429
    BackendUnavailable   502
    anything else        500
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from dnsgate.api.errors import allowed_methods
from dnsgate.config import Settings
from dnsgate.domain.errors import BackendUnavailable, NotFound, RateLimited
from dnsgate.edge import refused
from dnsgate.services import audit
from dnsgate.services.context import Env
from dnsgate.throttling.login_throttle import LoginThrottle
from dnsgate.web import deps
from dnsgate.web.headers import SecurityHeaders
from dnsgate.web.pages import (
    activity,
    admin,
    admin_accounts,
    admin_backends,
    admin_grants,
    admin_settings,
    admin_tokens,
    admin_zones,
    backends,
    explain,
    invites,
    login,
    login_2fa,
    overview,
    passwords,
    portal,
    realm,
    registration,
    security,
)
from dnsgate.web.render import render

log = logging.getLogger("dnsgate.web")
PREFIX = "/ui"


class UiApp(FastAPI):
    """FastAPI with the security headers outside everything, error pages included."""

    def build_middleware_stack(self) -> Any:
        state: deps.UiState = self.state.ui
        return SecurityHeaders(super().build_middleware_stack(),
                               proxies=state.settings.trusted_proxy_networks,
                               proxy_header=state.settings.proxy_header)


def create_ui(settings: Settings, env: Env) -> FastAPI:
    """The UI app over the services' ``env``."""
    ui = UiApp(openapi_url=None, docs_url=None, redoc_url=None,
               dependencies=[Depends(deps.guard)])
    ui.state.ui = deps.UiState(env=env, settings=settings,
                               throttle=LoginThrottle(env.db, env.clock))
    for module in (login, portal, admin, admin_accounts, admin_zones, admin_grants,
                   admin_tokens, backends, admin_backends, login_2fa, security,
                   admin_settings, registration, invites, passwords, activity, realm, overview,
                   explain):
        ui.include_router(module.router)
    ui.mount("/static", StaticFiles(packages=[("dnsgate.web", "static")]), name="static")
    _install_errors(ui)
    return ui


def _page(request: Request, status: int, title: str, message: str) -> Response:
    return render(request, "error.html", status, title=title, message=message, code=status)


def _install_errors(ui: FastAPI) -> None:
    @ui.exception_handler(deps.CsrfFailed)
    async def csrf_failed(request: Request, exc: deps.CsrfFailed) -> Response:
        _audit(request, "web.csrf", "csrf_failed")
        return _page(request, 403, "Request refused",
                     "This form was out of date or did not come from this site. "
                     "Nothing was changed. Go back, reload the page and try again.")

    @ui.exception_handler(deps.LoginRequired)
    async def login_required(request: Request, exc: deps.LoginRequired) -> Response:
        back = request.url.path if request.method == "GET" else "/ui/"
        target = f"{PREFIX}/login?next={quote(back, safe='/')}"
        if request.headers.get("hx-request") == "true":
            return Response(status_code=200, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @ui.exception_handler(deps.EnrolmentRequired)
    async def enrolment_required(request: Request, exc: deps.EnrolmentRequired) -> Response:
        target = f"{PREFIX}/security/2fa/setup"
        if request.headers.get("hx-request") == "true":
            return Response(status_code=200, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @ui.exception_handler(deps.AdminRequired)
    async def admin_required(request: Request, exc: deps.AdminRequired) -> Response:
        return _page(request, 403, "Admins only", "This page is part of the admin console.")

    @ui.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        if _refused(request, exc.code) <= DETAILED_PER_MINUTE:
            _audit(request, "web.access", "not_found")
        return _page(request, 404, "Not found", "There is nothing here for your account.")

    @ui.exception_handler(RequestValidationError)
    async def bad_path(request: Request, exc: RequestValidationError) -> Response:
        _refused(request, "not_found")  # an id that is no number, or out of range
        return _page(request, 404, "Not found", "There is no such page.")

    @ui.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        title = {404: "Not found", 405: "Not allowed"}.get(exc.status_code, "Error")
        response = _page(request, exc.status_code, title, "There is no such page.")
        if exc.status_code == 404:
            _refused(request, "not_found")
        if exc.status_code == 405:
            response.headers["Allow"] = (allowed_methods(request)
                                         or (exc.headers or {}).get("Allow", ""))
        return response

    @ui.exception_handler(RateLimited)
    async def limited(request: Request, exc: RateLimited) -> Response:
        response = _page(request, 429, "Slow down",
                         f"Too many requests. Try again in {exc.retry_after} seconds.")
        response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @ui.exception_handler(BackendUnavailable)
    async def backend_down(request: Request, exc: BackendUnavailable) -> Response:
        return _page(request, 502, "DNS provider unavailable",
                     "The DNS provider behind this zone did not answer. Try again later.")

    @ui.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> Response:
        log.exception("web UI error on %s %s", request.method, request.url.path)
        try:
            return _page(request, 500, "Something went wrong",
                         "The error is logged. Go back and try again.")
        except Exception:  # e.g. the database is what failed: no page can be rendered
            return PlainTextResponse("internal error", status_code=500)


#: Refused requests of one account and address a minute that are audited one by
#: one (with their path); beyond, the minute's aggregate event counts them.
DETAILED_PER_MINUTE = 10


def _refused(request: Request, code: str) -> int:
    """Count, log and aggregate a 404 (``edge.refused``); how many of this
    account's and address's this minute holds."""
    who = deps.current(request)
    return refused.report(deps.ui(request).env, request, status=404, code=code,
                          surface="web",
                          credential=("account", str(who.caller.account_id)) if who else None)


def _audit(request: Request, action: str, code: str) -> None:
    """A refused UI request, under the signed-in account if there is one."""
    env = deps.ui(request).env
    who = deps.current(request)
    with env.db.write() as session:
        audit.record(session, deps.context(request), caller=who.caller if who else None,
                     action=action, when=env.clock(), outcome="denied", code=code,
                     target=request.url.path)
