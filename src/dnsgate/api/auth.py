"""``/api/v1/auth``: trade a username and password for an account API key."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter

from dnsgate.api.deps import Ctx, EnvDep
from dnsgate.api.schemas import ApiKeyCreated, ApiKeyLogin, ApiKeyPublic
from dnsgate.domain.errors import Denied, Unauthenticated
from dnsgate.services import accounts, audit, auth, site_settings, twofactor
from dnsgate.services.context import Env, RequestContext

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/api-keys", response_model=ApiKeyCreated, status_code=201)
async def login_for_api_key(env: EnvDep, ctx: Ctx, body: ApiKeyLogin) -> ApiKeyCreated:
    """Log in with name and password; the new API key is in this response only.

    Throttled per address, and per (name, address): guessing is slow, and a
    stranger guessing an admin's name spends only their own budget, so they
    cannot lock the admin out.
    """
    env.limiter.hit("login_ip", ctx.source_ip or "-")
    env.limiter.hit("login_user", f"{body.username.lower()}|{ctx.source_ip}")
    try:
        with env.db.read() as session:
            account = auth.authenticate_password(session, body.username, body.password)
            caller = auth.account_caller(session, account.id)
            must_enrol = (not twofactor.enabled(account)
                          and site_settings.two_factor_required(session, account))
    except Unauthenticated:
        with env.db.write() as session:
            audit.record(session, ctx, caller=None, action="auth.login", when=env.clock(),
                         outcome="denied", code="login_failed",
                         details={"username": body.username})
        raise
    if twofactor.enabled(account):  # the password alone is not enough: the same second
        _second_factor(env, ctx, account.id, body.totp_code)  # factor as the web login
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


def _second_factor(env: Env, ctx: RequestContext, account_id: int, code: str | None) -> None:
    """A current TOTP code or an unused recovery code (audited by the service);
    a wrong or missing one is the same 401 as a wrong password."""
    env.limiter.hit("login_user", f"2fa:{account_id}|{ctx.source_ip}")
    try:
        twofactor.verify_second_factor(env, ctx, account_id=account_id, code=code or "")
    except Unauthenticated:
        raise Unauthenticated("invalid username, password or two-factor code",
                              code="login_failed") from None
