"""ASGI middleware around everything: each HTTP request counted and timed by
surface, route template, method and status; written to the access log when
that is on; and bound as the current request for log lines (``logs``).

Outermost, so what the edge answers itself (a URL with NUL, a body too
large) is counted too. Plain ASGI, as the edge is: it runs on every request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from dnsgate.observability import logs, metrics
from dnsgate.observability.routes import OTHER, RouteTemplates

ASGIApp = Any
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
access_log = logging.getLogger(logs.ACCESS)


class ObservedRequests:
    """``routes``: the app whose route table names the templates;
    ``surface_of(path)``: the surface a path or template belongs to; ``access``:
    write the access log."""

    def __init__(self, app: ASGIApp, *, routes: Any, surface_of: Callable[[str], str],
                 access: bool = False) -> None:
        self.app = app
        self.templates = RouteTemplates(routes)
        self.surface_of = surface_of
        self.access = access
        self._surfaces: dict[str, str] = {}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 0

        async def observed_send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        token = logs.bind_request(scope)
        try:
            await self.app(scope, receive, observed_send)
        except asyncio.CancelledError:
            status = status or 499  # the client went away first (nginx's number)
            raise
        finally:
            # An app that raised or returned without answering: the server answers 500.
            self._observed(scope, status or 500, time.perf_counter() - start)
            logs.unbind_request(token)

    def _observed(self, scope: dict[str, Any], status: int, seconds: float) -> None:
        route = self.templates.of(scope)
        surface = self._surfaces.get(route)
        if surface is None:
            surface = self.surface_of(scope.get("path", "") if route == OTHER else route)
            if route != OTHER:
                self._surfaces[route] = surface
        method = scope["method"]
        metrics.observe_request(surface, route, method if method in _METHODS else "OTHER",
                                status, seconds)
        if self.access:
            self._log(scope, method, route, status, seconds)

    @staticmethod
    def _log(scope: dict[str, Any], method: str, route: str, status: int,
             seconds: float) -> None:
        # The path, never the query: dyndns-style clients put credentials there.
        path: str = scope.get("path", "")
        if not path.isprintable():  # no line breaks or escapes into a text log
            path = path.encode("unicode_escape").decode("ascii")
        if method not in _METHODS:
            method = method.encode("unicode_escape").decode("ascii")[:16]
        edge = scope.get("dnsgate")
        client = getattr(edge, "client_ip", None) or "-"
        access_log.info("%s %s %s %d %.1fms", client, method, path, status, seconds * 1000,
                        extra={"client_ip": client, "method": method, "path": path,
                               "route": route, "status": status,
                               "duration_ms": round(seconds * 1000, 3)})
