"""The hottest machine routes, dispatched before the framework's router.

A record PUT and a dyndns2 update are the requests dnsgate serves most
(routers, ACME clients, DDNS clients), and on the way to their endpoints
FastAPI's app, router and route matching cost more than the decision itself.
This middleware matches those few routes with
Starlette's own path syntax and runs their endpoints with the app's exception
handlers, so a response is byte for byte what the router would have given.
The routes stay in the router too, for OpenAPI.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import compile_path, request_response
from starlette.types import ASGIApp, Receive, Scope, Send

Endpoint = Callable[[Request], Awaitable[Response]]


class FastLane:
    """``routes``: (method, path, endpoint); everything else goes to ``app``."""

    def __init__(self, app: ASGIApp, *, routes: Sequence[tuple[str, str, Endpoint]],
                 handlers: Mapping[Any, Any]) -> None:
        self.app = app
        # Starlette's ExceptionMiddleware takes all handlers but the 500 one,
        # which belongs to ServerErrorMiddleware (outermost, as in the app).
        handled = {key: handler for key, handler in handlers.items()
                   if key not in (500, Exception)}
        self.routes = [(method, compile_path(path)[0],
                        ExceptionMiddleware(request_response(endpoint), handlers=handled))
                       for method, path, endpoint in routes]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            for method, pattern, endpoint in self.routes:
                if scope["method"] != method:
                    continue
                match = pattern.match(scope["path"])
                if match is not None:
                    scope["path_params"] = match.groupdict()
                    await endpoint(scope, receive, send)
                    return
        await self.app(scope, receive, send)
