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

The TXT helpers at the bottom (:func:`add_txt`, :func:`remove_txt`) are shared
with the acme-dns facade. They read, then write: a process-local lock per name
keeps two requests to one node from losing a value; the services have no
compare-and-set, so two nodes racing on one name still could.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import json
import logging
import weakref
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from dnsgate.api.deps import get_context
from dnsgate.api.errors import STATUS
from dnsgate.compat import basicauth
from dnsgate.domain import names, tokens
from dnsgate.domain.errors import (
    BackendTimeout,
    BackendUnavailable,
    DnsgateError,
    InvalidInput,
    RateLimited,
    Unauthenticated,
    ZoneNotFound,
)
from dnsgate.domain.records import canonical_rdata
from dnsgate.services import auth, records
from dnsgate.services.context import Caller, Env, RequestContext, ZoneInfo
from dnsgate.services.records import ChangeInput, ChangeResult
from dnsgate.services.zones import visible_zones

log = logging.getLogger("dnsgate.httpreq")
router = APIRouter(prefix="/httpreq", include_in_schema=False)

SURFACE = "httpreq"
#: The TTL asked for challenge TXT records (clamped to the zone's bounds).
CHALLENGE_TTL = 60
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
        return _error(405, "method_not_allowed", "use POST")
    return _error(404, "not_found", "no such endpoint")


async def _handle(request: Request, action: str) -> Response:
    env: Env = request.app.state.env
    ctx = dataclasses.replace(await get_context(request), surface=SURFACE)
    try:
        caller = _authenticate(env, request)
        fqdn, value = parse_body(await request.body())
        zone = _zone_for(env, caller, fqdn)
        if action == "present":
            await add_txt(env, ctx, caller, zone, fqdn, value)
        else:
            await remove_txt(env, ctx, caller, zone, fqdn, value)
    except BadRequest as exc:
        return _error(400, "invalid_request", str(exc))
    except DnsgateError as exc:
        return _failure(exc)
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
    if isinstance(exc, RateLimited):
        return _error(429, exc.code, exc.message,
                      headers={"Retry-After": str(exc.retry_after)})
    if isinstance(exc, BackendUnavailable):
        return _error(504 if isinstance(exc, BackendTimeout) else 502, exc.code, exc.message)
    return _error(STATUS.get(exc.code, 400), exc.code, exc.message)


# --- request -----------------------------------------------------------------

def _credential_text(presented: basicauth.Presented) -> str:
    """The password, or ``dg_<username>_<password>`` when the username is a
    token id and the password that token's secret."""
    password = presented.password.strip()
    if presented.placement == "bearer" or password.startswith(f"{tokens.API_KEY_PREFIX}_"):
        return password
    if tokens.parse(password) is not None:
        return password
    joined = f"{tokens.TOKEN_PREFIX}_{presented.username.strip()}_{password}"
    return joined if tokens.parse(joined) is not None else password


def authenticate_text(env: Env, text: str) -> Caller:
    """A realm token or an account API key as a Caller (Unauthenticated otherwise)."""
    if text.startswith(f"{tokens.API_KEY_PREFIX}_"):
        with env.db.write() as session:
            return auth.authenticate_api_key(env, session, text)
    with env.db.transaction(write=False) as tx:
        return auth.authenticate_token(env, tx, text)


def _authenticate(env: Env, request: Request) -> Caller:
    presented = basicauth.from_authorization(request.headers.get("authorization", ""))
    if presented is None:
        raise Unauthenticated(basicauth.GENERIC, code="token_missing")
    return authenticate_text(env, _credential_text(presented))


def dns01_value(key_authorization: str) -> str:
    """The DNS-01 TXT value of a key authorization (RFC 8555 8.4)."""
    digest = hashlib.sha256(key_authorization.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def parse_body(body: bytes) -> tuple[str, str]:
    """(normalized owner name, TXT value) from either of lego's two shapes."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("the body is not JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
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


def _zone_for(env: Env, caller: Caller, name: str) -> ZoneInfo:
    """The zone holding ``name`` among those the caller reaches (404 otherwise)."""
    if caller.principal.token is not None and caller.token_zone is not None:
        zones = [caller.token_zone]
    else:
        with env.db.read() as session:
            zones = visible_zones(session, caller, env.clock())
    found = [z for z in zones if names.is_at_or_below(name, z.name)]
    if not found:
        raise ZoneNotFound(f"no zone of this credential holds {name}")
    return max(found, key=lambda z: len(names.labels(z.name)))


# --- TXT values at one name (shared with the acme-dns facade) -----------------

_name_locks: weakref.WeakValueDictionary[tuple[int, str, str], asyncio.Lock] = (
    weakref.WeakValueDictionary())


@asynccontextmanager
async def _hold(zone: str, name: str) -> AsyncIterator[None]:
    key = (id(asyncio.get_running_loop()), zone, name)
    lock = _name_locks.get(key)
    if lock is None:
        lock = asyncio.Lock()
        _name_locks[key] = lock
    async with lock:
        yield


def challenge_ttl(env: Env, zone: ZoneInfo) -> int | None:
    """A short TTL for challenge records, within the zone's bounds (None where
    the provider has one TTL for the whole zone)."""
    if not env.backends.get(zone.backend_id).capabilities.per_record_ttl:
        return None
    return min(max(CHALLENGE_TTL, zone.ttl_min), zone.ttl_max)


async def txt_values(env: Env, ctx: RequestContext, caller: Caller, zone: ZoneInfo,
                     name: str) -> list[str]:
    """The TXT records at ``name`` the caller may read, in stored order."""
    found = await records.list_rrsets(env, ctx, caller=caller, zone=zone.name, name=name,
                                      rtype="TXT")
    return [record for rr in found if rr.name == name for record in rr.records]


def _canonical(value: str) -> str:
    return canonical_rdata("TXT", value)


async def add_txt(env: Env, ctx: RequestContext, caller: Caller, zone: ZoneInfo, name: str,
                  value: str, *, keep: int | None = None) -> ChangeResult:
    """Add ``value`` to the TXT RRset at ``name`` as its newest record; with
    ``keep``, only the ``keep`` newest records stay (acme-dns keeps two)."""
    new = _canonical(value)
    async with _hold(zone.name, name):
        current = [r for r in await txt_values(env, ctx, caller, zone, name) if r != new]
        if keep is not None:
            current = current[-(keep - 1):] if keep > 1 else []
        return await records.apply_changes(env, ctx, caller=caller, zone=zone.name, inputs=[
            ChangeInput("upsert", name, "TXT", challenge_ttl(env, zone), [*current, new])])


async def remove_txt(env: Env, ctx: RequestContext, caller: Caller, zone: ZoneInfo,
                     name: str, value: str) -> ChangeResult | None:
    """Remove ``value`` from the TXT RRset at ``name`` (the RRset goes with its
    last record); None when the value was not there."""
    gone = _canonical(value)
    async with _hold(zone.name, name):
        current = await txt_values(env, ctx, caller, zone, name)
        if gone not in current:
            return None
        rest = [r for r in current if r != gone]
        change = (ChangeInput("upsert", name, "TXT", challenge_ttl(env, zone), rest) if rest
                  else ChangeInput("delete", name, "TXT"))
        return await records.apply_changes(env, ctx, caller=caller, zone=zone.name,
                                           inputs=[change])
