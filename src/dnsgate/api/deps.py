"""FastAPI dependencies: they return principals; handlers never read headers.

They are ``async def`` so FastAPI runs them on the event loop instead of
handing each to a worker thread (three hand-offs cost ~0.5 ms per request).

``Authorization: Bearer <credential>`` carries either a realm token
(``dg_...``) or an account API key (``dgk_...``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from dnsgate.domain import tokens
from dnsgate.domain.errors import Denied, Unauthenticated
from dnsgate.domain.policy import credential_standing
from dnsgate.edge.context import get_context
from dnsgate.services import audit, auth
from dnsgate.services.context import Caller, Env, RequestContext
from dnsgate.throttling.login_throttle import LoginThrottle


async def get_env(request: Request) -> Env:
    env: Env = request.app.state.env
    return env


EnvDep = Annotated[Env, Depends(get_env)]
Ctx = Annotated[RequestContext, Depends(get_context)]


def bearer(request: Request) -> str:
    """The credential of ``Authorization: Bearer``, or ``token_missing``."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthenticated(auth.GENERIC, code="token_missing")
    return value.strip()


async def get_caller(request: Request, env: EnvDep) -> Caller:
    """A realm token or an account API key."""
    return auth.authenticate_credential(env, bearer(request))


async def get_account_caller(request: Request, env: EnvDep, ctx: Ctx) -> Caller:
    """An account (API key) in good standing; realm tokens do not manage anything."""
    credential = bearer(request)
    if not credential.startswith(tokens.API_KEY_PREFIX + "_"):
        raise Unauthenticated(auth.GENERIC, code="token_invalid")
    with env.db.write() as session:
        caller = auth.authenticate_api_key(env, session, credential)
    standing = credential_standing(caller.principal, ctx.address, env.clock())
    if not standing.allowed:
        raise await _refuse(request, env, caller, standing.code,
                            "this account is disabled" if standing.code == "account_disabled"
                            else f"this credential may not be used: {standing.code}")
    return caller


async def get_admin(request: Request, env: EnvDep,
              caller: Annotated[Caller, Depends(get_account_caller)]) -> Caller:
    if not caller.is_admin:
        raise await _refuse(request, env, caller, "admin_required", "this needs an admin account")
    return caller


async def _refuse(request: Request, env: Env, caller: Caller, code: str, message: str) -> Denied:
    """Audit a credential refused at the door of the management API; the error to raise."""
    with env.db.write() as session:
        audit.record(session, await get_context(request), caller=caller, action="api.access",
                     when=env.clock(), outcome="denied", code=code, target=request.url.path)
    return Denied(message, code=code)


async def get_login_throttle(request: Request, env: EnvDep) -> LoginThrottle:
    """The growing delays of the API's sign-in, one per app (the counts are in
    the database, shared with the web sign-in and every worker and node)."""
    state = request.app.state
    throttle: LoginThrottle | None = getattr(state, "login_throttle", None)
    if throttle is None:
        throttle = LoginThrottle(env.db, env.clock)
        state.login_throttle = throttle
    return throttle


AnyCaller = Annotated[Caller, Depends(get_caller)]
Throttle = Annotated[LoginThrottle, Depends(get_login_throttle)]
AccountCaller = Annotated[Caller, Depends(get_account_caller)]
AdminCaller = Annotated[Caller, Depends(get_admin)]
