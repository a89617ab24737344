"""Every error of the HTTP surface becomes ``application/problem+json`` here, once."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from dnsgate.domain.errors import BackendTimeout, DnsgateError, RateLimited

log = logging.getLogger("dnsgate.api")
PROBLEM = "application/problem+json"
GENERIC_401 = "missing or invalid credentials"

STATUS: dict[str, int] = {
    "token_missing": 401, "token_invalid": 401, "token_expired": 401, "token_revoked": 401,
    "login_failed": 401, "account_pending": 401,
    "forbidden": 403, "admin_required": 403, "account_disabled": 403, "ip_not_allowed": 403,
    "twofactor_required": 403,
    "name_outside_realm": 403, "type_not_allowed": 403, "operation_not_allowed": 403,
    "zone_policy": 403, "realm_inactive": 403, "zone_disabled": 403,
    "not_found": 404, "zone_not_found": 404,
    "method_not_allowed": 405,
    "conflict": 409,
    "body_too_large": 413,
    "unsupported_media_type": 415,
    "invalid_request": 422, "invalid_name": 422, "invalid_record": 422,
    "rate_limited": 429,
    "internal_error": 500,
    "backend_unavailable": 502,
}

TITLES: dict[str, str] = {
    "token_missing": "Authentication required",
    "token_invalid": "Authentication required",
    "token_expired": "Credential expired",
    "token_revoked": "Credential revoked",
}


def problem(code: str, detail: str, *, status: int | None = None,
            request_id: str | None = None, headers: dict[str, str] | None = None,
            extra: dict[str, Any] | None = None) -> JSONResponse:
    """One problem document (RFC 9457) with dnsgate's stable ``code``."""
    status = status or STATUS.get(code, 400)
    body: dict[str, Any] = {
        "type": f"urn:dnsgate:problem:{code}",
        "title": TITLES.get(code, code.replace("_", " ").capitalize()),
        "status": status,
        "code": code,
        "detail": detail,
    }
    if request_id:
        body["request_id"] = request_id
    if extra:
        body.update(extra)
    all_headers = dict(headers or {})
    if request_id:
        # also here, not only at the edge: a 500 is sent from outside the edge middleware
        all_headers.setdefault("X-Request-ID", request_id)
    if status == 401:
        all_headers.setdefault("WWW-Authenticate", 'Bearer realm="dnsgate"')
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=all_headers)


def _request_id(request: Request) -> str | None:
    edge = request.scope.get("dnsgate")
    return edge.request_id if edge else None


def install(app: FastAPI) -> None:
    """Map the domain error tree and framework errors to problems."""

    @app.exception_handler(DnsgateError)
    async def _domain(request: Request, exc: DnsgateError) -> JSONResponse:
        headers = {}
        status = None
        detail = exc.message
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(exc.retry_after)
        if isinstance(exc, BackendTimeout):
            status = 504
        if exc.code in ("token_missing", "token_invalid"):
            detail = GENERIC_401
        return problem(exc.code, detail, status=status, headers=headers,
                       request_id=_request_id(request))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", "")}
                  for e in exc.errors()]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        loc, msg = ".".join(first["loc"]), str(first["msg"])
        detail = f"{loc}: {msg}" if loc else msg
        return problem("invalid_request", detail, request_id=_request_id(request),
                       extra={"errors": errors})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large",
                415: "unsupported_media_type"}.get(exc.status_code, "invalid_request")
        return problem(code, str(exc.detail), status=exc.status_code,
                       request_id=_request_id(request))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The traceback goes to the server log; the request line is not logged,
        # since dyndns-style clients put credentials in query strings.
        log.error("unhandled error in request %s", _request_id(request), exc_info=exc)
        return problem("internal_error", "internal error; see the server log",
                       request_id=_request_id(request))
