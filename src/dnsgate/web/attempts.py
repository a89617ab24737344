"""The one throttle of the sign-in steps (password, then code).

``login_ip`` per address and ``login_user`` per (who, address) from the
shared limiter, plus growing delays after consecutive failures keyed by
``keys`` (``services.login_throttle``). A refusal is audited and shown on the
step's own page with ``Retry-After``.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from dnsgate.domain.errors import RateLimited
from dnsgate.services import audit
from dnsgate.web import deps
from dnsgate.web.render import render


async def throttled(request: Request, *, action: str, user_key: str, keys: tuple[str, ...],
                    target: str | None = None, details: dict[str, Any] | None = None
                    ) -> RateLimited | None:
    """None when the attempt may go ahead; else the refusal (already audited)."""
    state = deps.ui(request)
    env, ctx = state.env, deps.context(request)
    try:
        await env.limiter.hit("login_ip", ctx.source_ip or "-")
        await env.limiter.hit("login_user", user_key)
        state.throttle.check(keys)
    except RateLimited as limited:
        with env.db.write() as session:
            audit.record(session, ctx, caller=None, action=action, when=env.clock(),
                         outcome="denied", code="rate_limited", target=target,
                         details=details or {})
        return limited
    return None


def too_many(request: Request, template: str, limited: RateLimited,
             **values: Any) -> Response:
    """The step's page again, 429, saying when to try again."""
    response = render(request, template, 429, errors={
        "": f"Too many attempts. Try again in {limited.retry_after} seconds."}, **values)
    response.headers["Retry-After"] = str(limited.retry_after)
    return response
