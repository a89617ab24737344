"""Every error of the HTTP surface becomes ``application/problem+json`` here, once."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse
from starlette.routing import Match

from dnsgate.domain.errors import BackendTimeout, DatabaseBusy, DnsgateError, RateLimited
from dnsgate.edge import refused
from dnsgate.edge.codes import status_of
from dnsgate.security import text

log = logging.getLogger("dnsgate.api")
PROBLEM = "application/problem+json"
GENERIC_401 = "missing or invalid credentials"


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
    status = status or status_of(code)
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


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> str:
    """``Allow`` of a 405: every method some route takes at the request's path
    (a route has one method; Starlette names the first route's only)."""
    routes = request.app.router.routes
    return ", ".join(method for method in _METHODS if any(
        route.matches({**request.scope, "method": method})[0] == Match.FULL
        for route in routes))


def _reported(request: Request, response: JSONResponse, code: str) -> JSONResponse:
    """Count, log and aggregate a refusal (services.refusals); the response."""
    refused.report(request.app.state.env, request, status=response.status_code, code=code,
                   surface=refused.surface_of(request.url.path))
    return response


def install(app: FastAPI) -> None:
    """Map the domain error tree and framework errors to problems."""

    @app.exception_handler(DnsgateError)
    async def _domain(request: Request, exc: DnsgateError) -> JSONResponse:
        headers = {}
        status = None
        detail = exc.message
        if isinstance(exc, (RateLimited, DatabaseBusy)):
            headers["Retry-After"] = str(exc.retry_after)
        if isinstance(exc, BackendTimeout):
            status = 504
        if exc.code in ("token_missing", "token_invalid"):
            detail = GENERIC_401
        return _reported(request, problem(exc.code, text.scrub(detail), status=status,
                                          headers=headers, request_id=_request_id(request)),
                         exc.code)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        # a field name may be the client's own text (an unknown key): scrubbed
        errors = [{"loc": [text.scrub(str(p)) for p in e.get("loc", ())],
                   "msg": text.scrub(str(e.get("msg", "")))} for e in exc.errors()]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        loc, msg = ".".join(first["loc"]), str(first["msg"])
        detail = f"{loc}: {msg}" if loc else msg
        return _reported(request, problem("invalid_request", detail,
                                          request_id=_request_id(request),
                                          extra={"errors": errors}), "invalid_request")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large",
                415: "unsupported_media_type"}.get(exc.status_code, "invalid_request")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request) or headers.get("Allow", "")
        # FastAPI's 400 is a body it could not read (not UTF-8): refused input, as all is
        status = 422 if exc.status_code == 400 else exc.status_code
        return _reported(request, problem(code, str(exc.detail), status=status,
                                          headers=headers, request_id=_request_id(request)),
                         code)

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        # The database is the last word on references and uniqueness: a service
        # that checked first can still lose a race, or forget to check. Logged
        # with the traceback all the same, for the service to check next time.
        broken = _violation(exc)
        if broken is None:
            return _internal_error(request, exc)
        log.warning("request %s broke a %s constraint", _request_id(request), broken,
                    exc_info=exc)
        if broken == "foreign key":
            return _reported(request, problem(
                "not_found", "something this request refers to does not exist",
                request_id=_request_id(request)), "not_found")
        return problem("conflict", "this exists already", request_id=_request_id(request))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return _internal_error(request, exc)


def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    # The traceback goes to the server log; the request line is not logged,
    # since dyndns-style clients put credentials in query strings.
    log.error("unhandled error in request %s", _request_id(request), exc_info=exc)
    return problem("internal_error", "internal error; see the server log",
                   request_id=_request_id(request))


def _violation(exc: IntegrityError) -> str | None:
    """The constraint a write broke: ``foreign key``, ``unique``, or None (another
    kind: a bug, not input). PostgreSQL names it by SQLSTATE, SQLite in words."""
    state = getattr(exc.orig, "sqlstate", None)
    message = str(exc.orig)
    if state == "23503" or "FOREIGN KEY constraint failed" in message:
        return "foreign key"
    if state == "23505" or "UNIQUE constraint failed" in message:
        return "unique"
    return None
