"""``/api/v1/auth``: trade a username and password for an account API key."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter

from dnsgate.api.deps import Ctx, EnvDep, Throttle
from dnsgate.api.openapi import ANONYMOUS
from dnsgate.api.schemas import ApiKeyCreated, ApiKeyLogin, ApiKeyPublic
from dnsgate.domain.errors import Denied, RateLimited, Unauthenticated
from dnsgate.services import accounts, audit, auth, site_settings, twofactor
from dnsgate.services.context import Env, RequestContext
from dnsgate.throttling.login_throttle import LoginThrottle

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/api-keys", response_model=ApiKeyCreated, status_code=201,
             openapi_extra=ANONYMOUS)
async def login_for_api_key(env: EnvDep, ctx: Ctx, throttle: Throttle,
                            body: ApiKeyLogin) -> ApiKeyCreated:
    """Log in with name and password; the new API key is in this response only.

    Throttled as the web sign-in is: per address, and per (name, address), plus
    growing delays after consecutive failures (``throttling/login_throttle.py``).
    A stranger guessing an admin's name spends only their own budget, so they
    cannot lock the admin out.
    """
    ip = ctx.source_ip or "-"
    username = body.username.lower()
    keys = (f"user:{username}|{ip}", f"ip:{ip}")
    await _throttled(env, ctx, throttle, action="auth.login",
                     user_key=f"{username}|{ctx.source_ip}", keys=keys,
                     details={"username": body.username})
    try:
        account = await auth.authenticate_password(env, username=body.username,
                                                   password=body.password)
        with env.db.read() as session:
            caller = auth.account_caller(session, account.id)
            must_enrol = (not twofactor.enabled(account)
                          and site_settings.two_factor_required(session, account))
    except Unauthenticated as refused:
        if refused.code != "account_pending":  # told only to who knows the password
            throttle.failed(keys)
        with env.db.write() as session:
            audit.record(session, ctx, caller=None, action="auth.login", when=env.clock(),
                         outcome="denied", code="login_failed",
                         details={"username": body.username})
        raise
    throttle.succeeded(keys[:1])  # the address keeps its count, as on the web
    if twofactor.enabled(account):  # the password alone is not enough: the same second
        await _second_factor(env, ctx, throttle, account.id, body.totp_code)  # factor as the web
    elif must_enrol:  # the site demands 2FA of this account: enrol in the web UI first
        with env.db.write() as session:
            audit.record(session, ctx, caller=caller, action="auth.login", when=env.clock(),
                         outcome="denied", code="twofactor_required",
                         target=f"account:{account.id}")
        raise Denied("this account must turn on two-factor sign-in (in the web UI) first",
                     code="twofactor_required")
    expires = env.clock() + timedelta(seconds=body.expires_in) if body.expires_in else None
    key, text = accounts.create_api_key(env, ctx, caller=caller, account_id=account.id,
                                        name=body.name, expires_at=expires)
    return ApiKeyCreated.model_validate({**ApiKeyPublic.model_validate(key).model_dump(),
                                         "key": text})


async def _throttled(env: Env, ctx: RequestContext, throttle: LoginThrottle, *, action: str,
                     user_key: str, keys: tuple[str, ...], target: str | None = None,
                     details: dict[str, Any] | None = None) -> None:
    """The flat limits and the growing delay of a sign-in step; a refusal is
    audited and raised (429 with Retry-After)."""
    try:
        await env.limiter.hit("login_ip", ctx.source_ip or "-")
        await env.limiter.hit("login_user", user_key)
        throttle.check(keys)
    except RateLimited:
        with env.db.write() as session:
            audit.record(session, ctx, caller=None, action=action, when=env.clock(),
                         outcome="denied", code="rate_limited", target=target,
                         details=details or {})
        raise


async def _second_factor(env: Env, ctx: RequestContext, throttle: LoginThrottle, account_id: int,
                         code: str | None) -> None:
    """A current TOTP code or an unused recovery code (audited by the service);
    a wrong or missing one is the same 401 as a wrong password."""
    ip = ctx.source_ip or "-"
    keys = (f"2fa:{account_id}|{ip}", f"2fa-ip:{ip}")
    await _throttled(env, ctx, throttle, action="auth.2fa", user_key=f"2fa:{account_id}|{ip}",
                     keys=keys, target=f"account:{account_id}")
    try:
        twofactor.verify_second_factor(env, ctx, account_id=account_id, code=code or "")
    except Unauthenticated:
        throttle.failed(keys)
        raise Unauthenticated("invalid username, password or two-factor code",
                              code="login_failed") from None
    throttle.succeeded(keys[:1])
