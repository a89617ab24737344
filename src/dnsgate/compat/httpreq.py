"""lego's ``httpreq`` DNS provider (``/httpreq/present``, ``/httpreq/cleanup``).

lego (``--dns httpreq``, ``HTTPREQ_ENDPOINT=http://host/httpreq``) POSTs JSON:

- default mode: ``{"fqdn": "_acme-challenge.www.example.com.", "value": "<digest>"}``
- ``HTTPREQ_MODE=RAW``: ``{"domain", "token", "keyAuth"}``; the DNS-01 value is
  base64url(sha256(keyAuth)) without padding, at ``_acme-challenge.<domain>``.

It sends Basic auth when ``HTTPREQ_USERNAME`` and ``HTTPREQ_PASSWORD`` are set
and treats any 2xx as success, anything else as failure. Here the password is
a dnsgate token (``dg_...``; the username is free, e.g. the token id -- or the
username is the token id and the password its secret part); an account API key
or ``Authorization: Bearer`` work too.

``present`` adds the value to the TXT RRset at the name and ``cleanup``
removes only that value: other values stay, so a wildcard and a base-name
challenge can be pending at once. Both go through ``services.records`` (which
authorizes, rate-limits and audits, ``surface`` = ``httpreq``).

The TXT value handling is shared with the acme-dns facade (``compat/txt.py``).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import logging
from collections.abc import Mapping

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from dnsgate.compat import basicauth, credentials, txt
from dnsgate.domain import names
from dnsgate.domain.errors import (
    BackendTimeout,
    BackendUnavailable,
    DatabaseBusy,
    DnsgateError,
    InvalidInput,
    RateLimited,
    Unauthenticated,
    ZoneNotFound,
)
from dnsgate.edge import refused
from dnsgate.edge.codes import status_of
from dnsgate.edge.context import get_context
from dnsgate.security import text
from dnsgate.services.context import Caller, Env

log = logging.getLogger("dnsgate.httpreq")
router = APIRouter(prefix="/httpreq", include_in_schema=False)

SURFACE = "httpreq"
_CHALLENGE_WWW_AUTH = 'Basic realm="dnsgate", charset="UTF-8"'


class BadRequest(Exception):
    """The body is not what lego sends (the message is safe to show)."""


@router.post("/present")
async def present(request: Request) -> Response:
    """Add the challenge value to the TXT RRset at its name."""
    return await _handle(request, "present")


@router.post("/cleanup")
async def cleanup(request: Request) -> Response:
    """Remove the challenge value (only it) from the TXT RRset at its name."""
    return await _handle(request, "cleanup")


@router.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"])
async def unknown(rest: str) -> Response:
    if rest in ("present", "cleanup"):
        return _error(405, "method_not_allowed", "use POST", headers={"Allow": "POST"})
    return _error(404, "not_found", "no such endpoint")


async def _handle(request: Request, action: str) -> Response:
    env: Env = request.app.state.env
    ctx = dataclasses.replace(await get_context(request), surface=SURFACE)
    try:
        caller = _authenticate(env, request)
        fqdn, value = parse_body(await request.body())
        zone = credentials.zone_of(credentials.reachable_zones(env, caller), fqdn)
        if zone is None:
            raise ZoneNotFound(f"no zone of this credential holds {fqdn}")
        if action == "present":
            await txt.add_txt(env, ctx, caller, zone, fqdn, value)
        else:
            await txt.remove_txt(env, ctx, caller, zone, fqdn, value)
    except BadRequest as exc:
        return refused.answered(env, request, _error(400, "invalid_request", str(exc)), exc,
                                surface=SURFACE)
    except DnsgateError as exc:
        return refused.answered(env, request, _failure(exc), exc, surface=SURFACE)
    except Exception:  # lego shows the status; the traceback stays in the server log
        log.exception("httpreq %s failed (request %s)", action, ctx.request_id)
        return _error(500, "internal_error", "internal error; see the server log")
    return JSONResponse({"fqdn": f"{fqdn}.", "value": value})


# --- the one error mapping of this facade ------------------------------------

def _error(status: int, code: str, detail: str,
           headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status,
                        headers=dict(headers or {}))


def _failure(exc: DnsgateError) -> JSONResponse:
    """A dnsgate error as this facade's JSON (REST status codes, no problem+json)."""
    if isinstance(exc, Unauthenticated):
        return _error(401, exc.code, basicauth.GENERIC,
                      headers={"WWW-Authenticate": _CHALLENGE_WWW_AUTH})
    if isinstance(exc, (RateLimited, DatabaseBusy)):
        return _error(503 if isinstance(exc, DatabaseBusy) else 429, exc.code, exc.message,
                      headers={"Retry-After": str(exc.retry_after)})
    if isinstance(exc, BackendUnavailable):
        return _error(504 if isinstance(exc, BackendTimeout) else 502, exc.code, exc.message)
    return _error(status_of(exc.code), exc.code, exc.message)


# --- request -----------------------------------------------------------------

def _authenticate(env: Env, request: Request) -> Caller:
    presented = basicauth.from_authorization(request.headers.get("authorization", ""))
    if presented is None:
        raise Unauthenticated(basicauth.GENERIC, code="token_missing")
    return credentials.authenticate(env, presented)


def dns01_value(key_authorization: str) -> str:
    """The DNS-01 TXT value of a key authorization (RFC 8555 8.4)."""
    digest = hashlib.sha256(key_authorization.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def parse_body(body: bytes) -> tuple[str, str]:
    """(normalized owner name, TXT value) from either of lego's two shapes."""
    try:
        data = text.load_json(body)
    except ValueError:  # UnicodeDecodeError is one
        raise BadRequest("the body is not JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    if not text.is_clean_tree(data):
        raise BadRequest("the body holds text that is not Unicode, or NUL")
    if "fqdn" in data or "value" in data:
        fqdn, value = data.get("fqdn"), data.get("value")
        if not isinstance(fqdn, str) or not fqdn.strip():
            raise BadRequest("fqdn must be a non-empty string")
        if not isinstance(value, str) or not value:
            raise BadRequest("value must be a non-empty string")
    elif "domain" in data or "keyAuth" in data:
        domain, key_auth = data.get("domain"), data.get("keyAuth")
        if not isinstance(domain, str) or not domain.strip():
            raise BadRequest("domain must be a non-empty string")
        if not isinstance(key_auth, str) or not key_auth:
            raise BadRequest("keyAuth must be a non-empty string")
        if not isinstance(data.get("token", ""), str):
            raise BadRequest("token must be a string")
        domain = domain.strip()
        if domain.startswith("*."):
            domain = domain[2:]
        fqdn, value = names.acme_challenge_of(domain.rstrip(".")), dns01_value(key_auth)
    else:
        raise BadRequest('expected {"fqdn", "value"} or {"domain", "token", "keyAuth"}')
    try:
        name = names.normalize(fqdn, allow_wildcard=False)
    except InvalidInput as exc:
        raise BadRequest(exc.message) from None
    return name, value
