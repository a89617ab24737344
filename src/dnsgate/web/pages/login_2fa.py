"""The second step of signing in: a code from the authenticator app, or a
recovery code, for the login the password step left pending.

Throttled like the password step: ``login_ip`` per address and
``login_user`` per (account, address), plus growing delays after consecutive
wrong codes, keyed by account *and* address -- whoever guesses (they already
needed the password) slows down only themselves, never the owner at their
own address.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dnsgate.domain.errors import Unauthenticated
from dnsgate.services import auth, twofactor
from dnsgate.web import attempts, deps, second_factor
from dnsgate.web.pages.login import complete_login
from dnsgate.web.render import clear_cookie, redirect, render

router = APIRouter()
WRONG = "That code is not valid. Try the current code, or one of your recovery codes."


@router.get("/login/2fa")
async def code_page(request: Request) -> Response:
    if second_factor.pending(request) is None:
        return redirect(request, "/ui/login")
    return render(request, "login_2fa.html", errors={})


@router.post("/login/2fa")
async def check_code(request: Request) -> Response:
    state = deps.ui(request)
    env, ctx = state.env, deps.context(request)
    waiting = second_factor.pending(request)
    if waiting is None:  # expired or never started: from the top
        return redirect(request, "/ui/login")
    code = (await deps.form(request)).text("code")
    if not code:
        return render(request, "login_2fa.html", 422, errors={"code": "Enter a code."})
    ip = ctx.source_ip or "-"
    keys = (f"2fa:{waiting.account_id}|{ip}", f"2fa-ip:{ip}")
    limited = await attempts.throttled(request, action="auth.2fa",
                                       user_key=f"2fa:{waiting.account_id}|{ip}", keys=keys,
                                       target=f"account:{waiting.account_id}")
    if limited is not None:
        return attempts.too_many(request, "login_2fa.html", limited)
    try:
        method = twofactor.verify_second_factor(env, ctx, account_id=waiting.account_id,
                                                code=code)
        with env.db.read() as session:
            caller = auth.account_caller(session, waiting.account_id)
    except Unauthenticated:
        state.throttle.failed(keys)
        return render(request, "login_2fa.html", 401, errors={"code": WRONG})
    state.throttle.succeeded(keys[:1])
    next_ = "/ui/security?done=recovery_code_used" if method == "recovery" else waiting.next
    moved = complete_login(request, caller=caller, username=waiting.username, next_=next_)
    clear_cookie(request, moved, second_factor.PENDING_COOKIE)
    return moved
