"""The route template of a request, for labels: ``/api/v1/zones/{zone}/rrsets``,
never the raw path (every name a client sends would be a series of its own).

What the router leaves in the scope names the route it chose: a FastAPI
route itself (``scope["route"]``), as its own router declared it, without
the prefix it was included under; a plain Starlette route or a mount only
by its endpoint (``scope["endpoint"]``), since FastAPI's router sets no
``route`` for them. The app's route table (FastAPI's
``iter_route_contexts``, through mounts such as ``/ui``) maps either to the
full template.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, MutableMapping
from typing import Any

from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Mount, Route, compile_path

#: The template of a request no route took (a 404, or an edge refusal).
OTHER = "other"
#: id(route or endpoint) -> (it, [(full-path pattern, template)]): one object
#: may stand at several templates (a router included under two prefixes, an
#: endpoint of two routes).
Table = dict[int, tuple[Any, list[tuple[re.Pattern[str], str]]]]


def _templates(routes: Iterable[Any], prefix: str = "") -> Iterator[tuple[Any, str]]:
    """(what the scope names a route by, its full template) for every route below
    ``routes``."""
    for context in iter_route_contexts(list(routes)):
        route = context.original_route
        if isinstance(route, Mount):
            yield route.app, f"{prefix}{route.path}/{{path}}"
            yield from _templates(route.routes, prefix + route.path)
        elif isinstance(route, APIRoute) and context.path_format is not None:
            yield route, prefix + context.path_format
        elif isinstance(route, Route):
            yield route.endpoint, prefix + route.path_format


class RouteTemplates:
    """``of(scope)``: the template of the route that answered a request.

    ``app``: what has the routes, read on first use (routes are added after
    the middleware is)."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._known: Table | None = None

    def _table(self) -> Table:
        known: Table = {}
        for key, template in _templates(self._app.routes):
            entry = known.setdefault(id(key), (key, []))
            if all(template != seen for _, seen in entry[1]):
                entry[1].append((compile_path(template)[0], template))
        self._known = known
        return known

    def of(self, scope: MutableMapping[str, Any]) -> str:
        key = scope.get("route") or scope.get("endpoint")
        if key is None:
            return OTHER
        known = self._known if self._known is not None else self._table()
        entry = known.get(id(key))
        if entry is None or entry[0] is not key:
            known = self._table()  # a route added since the table was made
            entry = known.get(id(key))
            if entry is None or entry[0] is not key:  # in no table: other, from now on
                entry = known[id(key)] = (key, [])
        candidates = entry[1]
        if len(candidates) == 1:
            return candidates[0][1]
        path = scope.get("path", "")
        return next((template for pattern, template in candidates if pattern.match(path)),
                    OTHER)
