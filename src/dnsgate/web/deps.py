"""Who is looking at the UI, and the one CSRF check.

``guard`` runs before every UI route (it is the UI app's global dependency):
it resumes the session from its cookie, and for every method that changes
state reads the form and checks the CSRF token -- one place, no route can
forget it. Routes then ask for ``Viewer`` (signed in) or ``AdminViewer``;
both send an account the site requires 2FA of, and which has none yet, to
enrolment. Only enrolment and signing out take ``Enrolling`` instead.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request

from dnsgate.config import Settings
from dnsgate.db.models import Account
from dnsgate.domain.errors import Unauthenticated
from dnsgate.services import audit, auth, sessions, site_settings, twofactor
from dnsgate.services.context import Caller, Env, RequestContext
from dnsgate.throttling.login_throttle import LoginThrottle
from dnsgate.web import csrf
from dnsgate.web.forms import Form
from dnsgate.web.headers import is_https

SESSION_COOKIE = "dnsgate_session"
PRE_COOKIE = "dnsgate_pre"
COOKIE_PATH = "/ui"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfFailed(Exception):
    """A state-changing request without the right token (403, nothing done)."""


class LoginRequired(Exception):
    """No live session: off to the login page."""


class AdminRequired(Exception):
    """A signed-in account that is not an admin (403)."""


class EnrolmentRequired(Exception):
    """The site requires 2FA of this account and it has none yet: off to enrolment."""


@dataclass(frozen=True, slots=True)
class UiState:
    """What the UI app keeps: the services' env, settings, login throttle."""

    env: Env
    settings: Settings
    throttle: LoginThrottle

    @property
    def timeouts(self) -> sessions.Timeouts:
        return sessions.Timeouts(idle=timedelta(minutes=self.settings.session_idle_minutes),
                                 absolute=timedelta(hours=self.settings.session_max_hours))


@dataclass(frozen=True, slots=True)
class Who:
    """A signed-in person: their session, and them as a Caller of the services."""

    session: sessions.SessionInfo
    caller: Caller
    name: str
    must_enrol: bool = False  # the site requires 2FA of this account, which has none

    @property
    def is_admin(self) -> bool:
        return self.caller.is_admin


def ui(request: Request) -> UiState:
    state: UiState = request.app.state.ui
    return state


def context(request: Request) -> RequestContext:
    """Where the request came from (the edge middleware resolved trusted proxies)."""
    edge = request.scope.get("dnsgate")
    return RequestContext(source_ip=edge.client_ip if edge else None,
                          user_agent=request.headers.get("user-agent"),
                          request_id=edge.request_id if edge else None, surface="web")


def https(request: Request) -> bool:
    settings = ui(request).settings
    return is_https(request.scope, settings.trusted_proxy_networks, settings.proxy_header)


def current(request: Request) -> Who | None:
    """The signed-in person, once per request (None: nobody)."""
    if hasattr(request.state, "who"):
        who: Who | None = request.state.who
        return who
    state = ui(request)
    found: Who | None = None
    info = sessions.resume_session(state.env, request.cookies.get(SESSION_COOKIE, ""),
                                   timeouts=state.timeouts)
    if info is not None:
        try:
            with state.env.db.read() as session:
                caller = auth.account_caller(session, info.account_id)
                account = session.get(Account, info.account_id)
                name = account.name if account else ""
                must_enrol = account is not None and not twofactor.enabled(account) \
                    and site_settings.two_factor_required(session, account)
            found = Who(info, caller, name, must_enrol)
        except Unauthenticated:
            found = None
    request.state.who = found
    return found


def csrf_binding(request: Request, *, create: bool = False) -> str | None:
    """What this request's CSRF token is bound to: the session, or the
    pre-session cookie (minted on demand when a page needs a token)."""
    who = current(request)
    if who is not None:
        return who.session.id
    pre = request.cookies.get(PRE_COOKIE) or getattr(request.state, "new_pre", None)
    if pre is None and create:
        pre = secrets.token_urlsafe(32)
        request.state.new_pre = pre
    return f"pre|{pre}" if pre else None


def csrf_token(request: Request) -> str:
    binding = csrf_binding(request, create=True)
    assert binding is not None
    return csrf.token_for(ui(request).env.key, binding)


async def form(request: Request) -> Form:
    """The parsed form of this request (read once, by ``guard``)."""
    cached: Form | None = getattr(request.state, "form", None)
    if cached is None:
        cached = Form.parse(await request.body(), request.headers.get("content-type", ""))
        request.state.form = cached
    return cached


async def guard(request: Request) -> None:
    """Every UI request: resume the session; unsafe methods need the CSRF token."""
    current(request)
    if request.method in SAFE_METHODS:
        return
    data = await form(request)
    presented = request.headers.get(csrf.HEADER) or data.get(csrf.FIELD)
    if not csrf.valid(ui(request).env.key, csrf_binding(request), presented):
        raise CsrfFailed()


async def signed_in_enrolling(request: Request) -> Who:
    """Signed in, whether or not the 2FA the site requires is set up yet (only
    enrolment and signing out accept that)."""
    who = current(request)
    if who is None:
        raise LoginRequired()
    return who


async def signed_in(request: Request,
                    who: Annotated[Who, Depends(signed_in_enrolling)]) -> Who:
    if who.must_enrol:
        raise EnrolmentRequired()
    return who


async def admin_only(request: Request, who: Annotated[Who, Depends(signed_in)]) -> Who:
    if not who.is_admin:
        state = ui(request)
        with state.env.db.write() as session:
            audit.record(session, context(request), caller=who.caller, action="web.access",
                         when=state.env.clock(), outcome="denied", code="admin_required",
                         target=request.url.path)
        raise AdminRequired()
    return who


Viewer = Annotated[Who, Depends(signed_in)]
Enrolling = Annotated[Who, Depends(signed_in_enrolling)]
AdminViewer = Annotated[Who, Depends(admin_only)]
