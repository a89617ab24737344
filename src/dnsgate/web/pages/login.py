"""Sign in and out.

Login trades a name and argon2id password for a brand-new session (a new
cookie value every time: a value planted before login is worthless). It is
throttled like the API's login -- ``login_ip`` per address and ``login_user``
per (name, address) -- plus growing delays after consecutive failures, and
every failure says the same thing. An account with 2FA gets no session here:
the password step hands over to ``login_2fa.py``, which calls ``complete_login``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dnsgate.domain.errors import Unauthenticated
from dnsgate.services import audit, auth, sessions, twofactor
from dnsgate.services.context import Caller
from dnsgate.web import attempts, deps, second_factor
from dnsgate.web.render import clear_cookie, redirect, render, set_cookie

router = APIRouter()
FAILED = "Invalid username or password."
PENDING = ("Your account is not active yet: confirm your e-mail address with the link we "
           "mailed you, and if this site approves accounts, wait for an admin to approve it.")


def _safe_next(target: str) -> str:
    """Only a path inside the UI (no ``//host``, no scheme): no open redirect."""
    if target.startswith("/ui/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/ui/"


@router.get("/login")
async def login_page(request: Request) -> Response:
    if deps.current(request) is not None:
        return redirect(request, "/ui/")
    return render(request, "login.html", form={}, errors={},
                  next=_safe_next(request.query_params.get("next", "")))


@router.post("/login")
async def login(request: Request) -> Response:
    state = deps.ui(request)
    env, ctx = state.env, deps.context(request)
    data = await deps.form(request)
    username, password = data.text("username").lower(), data.get("password")
    next_ = _safe_next(data.get("next"))
    shown = {"username": data.get("username")}  # never the password
    errors: dict[str, str] = {}
    if not username:
        errors["username"] = "Enter your username."
    if not password:
        errors["password"] = "Enter your password."  # noqa: S105 - a message
    if errors:
        return render(request, "login.html", 422, form=shown, errors=errors, next=next_)
    ip = ctx.source_ip or "-"
    keys = (f"user:{username}|{ip}", f"ip:{ip}")
    limited = await attempts.throttled(request, action="auth.login",
                                       user_key=f"{username}|{ctx.source_ip}", keys=keys,
                                       details={"username": username})
    if limited is not None:
        return attempts.too_many(request, "login.html", limited, form=shown, next=next_)
    try:
        account = await auth.authenticate_password(env, username=username, password=password)
        with env.db.read() as session:
            caller = auth.account_caller(session, account.id)
    except Unauthenticated as refused:
        pending = refused.code == "account_pending"  # told only to who knows the password
        if not pending:
            state.throttle.failed(keys)
        with env.db.write() as session:
            audit.record(session, ctx, caller=None, action="auth.login", when=env.clock(),
                         outcome="denied", code=refused.code, details={"username": username})
        return render(request, "login.html", 401, form=shown, next=next_,
                      errors={"": PENDING if pending else FAILED})
    state.throttle.succeeded(keys[:1])  # the address keeps its count: one account's
    if twofactor.enabled(account):      # success must not reset guessing at others
        return second_factor.ask(request, caller=caller, username=username, next_=next_)
    return complete_login(request, caller=caller, username=username, next_=next_)


def complete_login(request: Request, *, caller: Caller, username: str, next_: str) -> Response:
    """Every factor is checked: a brand-new session, and on to ``next_``."""
    state = deps.ui(request)
    env, ctx = state.env, deps.context(request)
    old = deps.current(request)
    if old is not None:
        sessions.end_session(env, old.session.id)
    value, _ = sessions.start_session(env, ctx, account_id=caller.account_id,
                                      timeouts=state.timeouts)
    with env.db.write() as session:
        audit.record(session, ctx, caller=caller, action="auth.login", when=env.clock(),
                     target=f"account:{caller.account_id}", details={"username": username})
    moved = redirect(request, next_)
    set_cookie(request, moved, deps.SESSION_COOKIE, value,
               max_age=int(state.timeouts.absolute.total_seconds()))
    clear_cookie(request, moved, deps.PRE_COOKIE)
    return moved


@router.post("/logout")
async def logout(request: Request) -> Response:
    who = deps.current(request)
    state = deps.ui(request)
    if who is not None:
        sessions.end_session(state.env, who.session.id)
        with state.env.db.write() as session:
            audit.record(session, deps.context(request), caller=who.caller,
                         action="auth.logout", when=state.env.clock(),
                         target=f"account:{who.caller.account_id}")
    response = redirect(request, "/ui/login", done="logged_out")
    clear_cookie(request, response, deps.SESSION_COOKIE)
    return response


@router.post("/logout-everywhere")
async def logout_everywhere(request: Request, who: deps.Enrolling) -> Response:
    state = deps.ui(request)
    sessions.end_all_sessions(state.env, deps.context(request), caller=who.caller)
    response = redirect(request, "/ui/login", done="logged_out_everywhere")
    clear_cookie(request, response, deps.SESSION_COOKIE)
    return response
