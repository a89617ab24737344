"""Report a refused request of any HTTP surface to ``services.refusals``.

Each surface calls :func:`report` from its one error mapping. The
credential is named by its public id only, read from wherever the surfaces
take one (``Authorization`` Bearer or Basic, ``X-API-Key`` with
``X-Api-User``, ``?username=&password=``); its secret is never kept.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from dnsgate.compat import basicauth, credentials
from dnsgate.domain import tokens
from dnsgate.domain.errors import DnsgateError, Unauthenticated
from dnsgate.services.context import Env
from dnsgate.services.refusals import CLASSES, Refusal

_ACTORS = ((tokens.TOKEN_PREFIX, "token"), (tokens.API_KEY_PREFIX, "api_key"))


def _public_id(text: str) -> tuple[str, str] | None:
    for prefix, actor_type in _ACTORS:
        parsed = tokens.parse(text, prefix)
        if parsed is not None:
            return actor_type, parsed[0]
    return None


def credential_of(request: Request) -> tuple[str, str] | None:
    """(actor type, public id) of the credential a request presents, if it has
    the shape of one (whether or not it authenticates)."""
    candidates: list[str] = []
    try:
        presented = basicauth.presented(request.headers.get("authorization", ""),
                                        request.query_params)
    except Unauthenticated:
        presented = None
    if presented is not None:
        candidates.append(credentials.credential_text(presented))
    key = request.headers.get("x-api-key", "").strip()
    if key:
        user = request.headers.get("x-api-user", "").strip()
        candidates += [key, f"{tokens.TOKEN_PREFIX}_{user}_{key}"]
    for text in candidates:
        found = _public_id(text)
        if found is not None:
            return found
    return None


def report(env: Env, request: Request, *, status: int, code: str, surface: str,
           credential: tuple[str, str] | None = None) -> int:
    """Count, log and aggregate a refusal (401, 404, 422; other statuses are not
    refusals of this kind and are ignored: 0). ``credential`` overrides what the
    request presents (the web UI's signed-in account). How many refusals the
    aggregate of this one holds, this one included."""
    if status not in CLASSES:
        return 0
    edge = request.scope.get("dnsgate")
    return env.refusals.note(Refusal(
        status=status, code=code, surface=surface,
        source_ip=edge.client_ip if edge else None,
        request_id=edge.request_id if edge else None,
        credential=credential or credential_of(request)), env.clock())


#: Path prefixes of the surfaces, for refusals the edge answers before any surface.
_SURFACES = (("/api/v1/servers", "pdns-api"), ("/api/", "api"), ("/nic/", "dyndns2"),
             ("/acme-dns/", "acme-dns"), ("/httpreq/", "httpreq"), ("/pdns/", "pdns-api"),
             ("/ui/", "web"))


def answered(env: Env, request: Request, response: Response, exc: BaseException, *,
             surface: str) -> Response:
    """Report the answer a protocol facade gave to a failure (its own status
    and format; a 400 is refused input as a 422 is); the answer."""
    status = 422 if response.status_code == 400 else response.status_code
    code = exc.code if isinstance(exc, DnsgateError) else _FACADE_CODES.get(
        status, "invalid_request")
    report(env, request, status=status, code=code, surface=surface)
    return response


_FACADE_CODES = {401: "token_invalid", 404: "not_found"}


def surface_of(path: str) -> str:
    """The surface a path belongs to (``other`` for none)."""
    return next((surface for prefix, surface in _SURFACES if path.startswith(prefix)),
                "other")
