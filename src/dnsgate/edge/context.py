"""A request's ``RequestContext`` (client address, user agent, request id), as
the edge middleware settled them."""

from __future__ import annotations

from starlette.requests import Request

from dnsgate.services.context import RequestContext


async def get_context(request: Request) -> RequestContext:
    """The context of a REST API request; a facade replaces ``surface``."""
    edge = request.scope.get("dnsgate")
    return RequestContext(
        source_ip=edge.client_ip if edge else None,
        user_agent=request.headers.get("user-agent"),
        request_id=edge.request_id if edge else None,
        surface="api",
    )
