"""The PowerDNS Authoritative HTTP API, as much of it as DNS clients use:
lego's ``pdns`` provider, octodns-powerdns, certbot-dns-powerdns and
external-dns's ``pdns`` provider.

Mounted twice: under ``/pdns`` (``PDNS_API_URL=http://host/pdns``) and at the
root (``/api/v1/servers/...``, ``/api``) for clients that cannot take a base
path (octodns-powerdns builds ``scheme://host:port/api/v1/...`` itself). The
root mount claims only ``/api`` and ``/api/v1/servers/...``, which the REST API
does not use.

``X-API-Key`` is a dnsgate realm token (or an account API key, as on the REST
API). It fronts whichever backend holds a zone: reads are filtered to what
the credential may read, and a ``PATCH`` is one ``services.records``
change set, authorized all or nothing (``surface`` = ``pdns-api``).

==========================================  ===================================
request                                     answer
==========================================  ===================================
``GET /api``                                ``[{"url": "/api/v1", "version": 1}]``
``GET /api/v1/servers[/localhost]``         the one server, ``localhost``
``GET .../zones[?zone=]``                   zones the credential sees (no rrsets)
``GET .../zones/{zone}[?rrsets=false]``     the zone with its visible rrsets;
``[&rrset_name=&rrset_type=]``              names with a trailing dot,
                                            ``records: [{content, disabled}]``
``PATCH .../zones/{zone}``                  ``{"rrsets": [{name, type, ttl,
                                            changetype: REPLACE|DELETE, records}]}``;
                                            204
``PUT .../zones/{zone}/notify``             200 (nothing to do: the built-in
                                            store notifies its secondaries on
                                            every change)
==========================================  ===================================

Errors are PowerDNS's ``{"error": "..."}``: 401 ``Unauthorized`` for a
missing, bad, revoked or expired key; 403 for a scope denial (PowerDNS has
none: its message names dnsgate's code); 404 ``Not Found`` for an unknown
zone or server; 400 for a body that is not JSON; 422 for invalid input; 429,
502 and 504 for dnsgate's rate limit and backend failures. Records that are
``disabled`` and non-empty ``comments`` are refused (422): dnsgate keeps
neither, and dropping them silently would lie to the client. A ``REPLACE``
with no records deletes the RRset, as in PowerDNS. The client's ``ttl`` is
passed through (left out: the zone's default).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from dnsgate.domain.errors import (
    BackendTimeout,
    BackendUnavailable,
    Conflict,
    DatabaseBusy,
    Denied,
    DnsgateError,
    InvalidInput,
    NotFound,
    RateLimited,
    Unauthenticated,
    ZoneNotFound,
)
from dnsgate.domain.records import RRset
from dnsgate.edge import refused
from dnsgate.edge.codes import status_of
from dnsgate.edge.context import get_context
from dnsgate.security import text
from dnsgate.services import auth, records
from dnsgate.services.context import Caller, Env, RequestContext, ZoneInfo
from dnsgate.services.records import ChangeInput
from dnsgate.services.zones import normalize_zone, visible_zones

log = logging.getLogger("dnsgate.pdns_api")
router = APIRouter(include_in_schema=False)

SURFACE = "pdns-api"
SERVER_ID = "localhost"
#: The PowerDNS version this API answers like (clients parse it: octodns-powerdns
#: expects >= 4.2 for 404 on unknown zones).
VERSION = "4.7.0"
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]
_CHANGETYPES = {"REPLACE": "upsert", "DELETE": "delete"}

Handler = Callable[[Env, RequestContext, Caller], Awaitable[Response]]


class PdnsError(Exception):
    """A refusal in PowerDNS's words."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


# --- the one error mapping of this facade ------------------------------------

def _answer(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=dict(headers or {}))


def _unauthorized() -> JSONResponse:
    return _answer(401, "Unauthorized", {"WWW-Authenticate": 'X-API-Key realm="dnsgate"'})


def _failure(exc: Exception, ctx: RequestContext) -> JSONResponse:
    """Any failure of a request as PowerDNS's ``{"error": ...}``."""
    if isinstance(exc, PdnsError):
        return _answer(exc.status, exc.message)
    if isinstance(exc, Unauthenticated):
        return _unauthorized()
    if isinstance(exc, Denied):
        status = status_of(exc.code, 403)
        return _unauthorized() if status == 401 else _answer(status, exc.message)
    if isinstance(exc, NotFound):
        return _answer(404, "Not Found")
    if isinstance(exc, InvalidInput):
        return _answer(422, exc.message)
    if isinstance(exc, Conflict):
        return _answer(409, exc.message)
    if isinstance(exc, RateLimited):
        return _answer(429, exc.message, {"Retry-After": str(exc.retry_after)})
    if isinstance(exc, DatabaseBusy):
        return _answer(503, exc.message, {"Retry-After": str(exc.retry_after)})
    if isinstance(exc, BackendUnavailable):
        return _answer(504 if isinstance(exc, BackendTimeout) else 502, exc.message)
    if isinstance(exc, DnsgateError):
        return _answer(500, exc.message)
    log.error("PowerDNS API request %s failed", ctx.request_id, exc_info=exc)
    return _answer(500, "Internal Server Error")


async def _serve(request: Request, handler: Handler) -> Response:
    """Authenticate ``X-API-Key`` and run ``handler``; every failure mapped once."""
    env: Env = request.app.state.env
    ctx = dataclasses.replace(await get_context(request), surface=SURFACE)
    try:
        key = request.headers.get("x-api-key", "").strip()
        if not key:
            raise Unauthenticated("X-API-Key is missing", code="token_missing")
        caller = auth.authenticate_credential(env, key)
        return await handler(env, ctx, caller)
    except Exception as exc:
        return refused.answered(env, request, _failure(exc, ctx), exc, surface=SURFACE)


# --- JSON shapes ---------------------------------------------------------------

def _fqdn(name: str) -> str:
    return f"{name}."


def _zone_url(zone: str) -> str:
    return f"/api/v1/servers/{SERVER_ID}/zones/{_fqdn(zone)}"


def _server() -> dict[str, Any]:
    base = f"/api/v1/servers/{SERVER_ID}"
    return {"type": "Server", "id": SERVER_ID, "daemon_type": "authoritative",
            "version": VERSION, "url": base, "config_url": f"{base}/config{{/config_setting}}",
            "zones_url": f"{base}/zones{{/zone}}"}


def _zone(info: ZoneInfo, serial: int = 0) -> dict[str, Any]:
    return {"id": _fqdn(info.name), "name": _fqdn(info.name), "type": "Zone",
            "url": _zone_url(info.name), "kind": "Native", "serial": serial,
            "notified_serial": serial, "edited_serial": serial, "masters": [],
            "dnssec": False, "account": "", "catalog": "", "last_check": 0}


def _rrset(rr: RRset) -> dict[str, Any]:
    return {"name": _fqdn(rr.name), "type": rr.type, "ttl": rr.ttl,
            "records": [{"content": record, "disabled": False} for record in rr.records],
            "comments": []}


def _serial(rrsets: Sequence[RRset]) -> int:
    for rr in rrsets:
        if rr.type == "SOA" and rr.records:
            fields = rr.records[0].split()
            if len(fields) > 2 and fields[2].isdigit():
                return int(fields[2])
    return 0


# --- PATCH body ----------------------------------------------------------------

def _text(item: Mapping[str, Any], key: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value.strip():
        raise PdnsError(422, f"Key '{key}' not present or not a String")
    return value


def _ttl(item: Mapping[str, Any]) -> int | None:
    value = item.get("ttl")
    if value is None:
        return None
    if isinstance(value, str):
        number = text.digits(value, maximum=2**31 - 1)
        if number is None:
            raise PdnsError(422, "Key 'ttl' not an Integer or not present")
        return number
    if not isinstance(value, int) or isinstance(value, bool):
        raise PdnsError(422, "Key 'ttl' not an Integer or not present")
    return value


def _contents(item: Mapping[str, Any]) -> list[str]:
    records = item.get("records")
    if not isinstance(records, list):
        raise PdnsError(422, "Key 'records' not present or not an Array")
    out = []
    for record in records:
        if not isinstance(record, dict):
            raise PdnsError(422, "each record must be an object")
        content = record.get("content")
        if not isinstance(content, str):
            raise PdnsError(422, "Key 'content' not present or not a String")
        disabled = record.get("disabled", False)
        if not isinstance(disabled, bool):
            raise PdnsError(422, "Key 'disabled' not a Boolean")
        if disabled:
            raise PdnsError(422, "disabled records are not supported by dnsgate")
        out.append(content)
    return out


def parse_patch(body: bytes) -> list[ChangeInput]:
    """A PATCH body as dnsgate changes (PowerDNS's messages for bad input)."""
    try:
        data = text.load_json(body)
    except ValueError:  # UnicodeDecodeError is one
        raise PdnsError(400, "Bad Request") from None
    if not text.is_clean_tree(data):
        raise PdnsError(422, "text must be Unicode without NUL characters")
    rrsets = data.get("rrsets") if isinstance(data, dict) else None
    if not isinstance(rrsets, list) or not rrsets:
        raise PdnsError(422, "No rrsets given in update request")
    changes = []
    for item in rrsets:
        if not isinstance(item, dict):
            raise PdnsError(422, "each rrset must be an object")
        name, rtype = _text(item, "name"), _text(item, "type")
        action = _CHANGETYPES.get(_text(item, "changetype").strip().upper())
        if action is None:
            raise PdnsError(422, "Changetype not understood")
        if item.get("comments"):
            raise PdnsError(422, "comments are not supported by dnsgate")
        if action == "delete":
            changes.append(ChangeInput("delete", name, rtype))
            continue
        contents = _contents(item)
        changes.append(ChangeInput("upsert", name, rtype, _ttl(item), contents) if contents
                       else ChangeInput("delete", name, rtype))
    return changes


# --- handlers ------------------------------------------------------------------

def _check_server(server_id: str) -> None:
    if server_id != SERVER_ID:
        raise PdnsError(404, "Not Found")


def _flag(value: str | None, default: bool = True) -> bool:
    if value is None:
        return default
    return value.strip().lower() not in ("false", "0", "no")


async def api_versions(request: Request) -> Response:
    async def handle(env: Env, ctx: RequestContext, caller: Caller) -> Response:
        return JSONResponse([{"url": "/api/v1", "version": 1}])
    return await _serve(request, handle)


async def list_servers(request: Request) -> Response:
    async def handle(env: Env, ctx: RequestContext, caller: Caller) -> Response:
        return JSONResponse([_server()])
    return await _serve(request, handle)


async def get_server(request: Request, server_id: str) -> Response:
    async def handle(env: Env, ctx: RequestContext, caller: Caller) -> Response:
        _check_server(server_id)
        return JSONResponse(_server())
    return await _serve(request, handle)


async def list_zones(request: Request, server_id: str) -> Response:
    async def handle(env: Env, ctx: RequestContext, caller: Caller) -> Response:
        _check_server(server_id)
        records.require_standing(env, ctx, caller, action="zones.list")
        with env.db.read() as session:
            zones = visible_zones(session, caller, env.clock())
        wanted = request.query_params.get("zone")
        if wanted:
            try:
                name = normalize_zone(wanted)
            except ZoneNotFound:
                name = ""
            zones = [z for z in zones if z.name == name]
        return JSONResponse([_zone(z) for z in zones])
    return await _serve(request, handle)


async def get_zone(request: Request, server_id: str, zone: str) -> Response:
    async def handle(env: Env, ctx: RequestContext, caller: Caller) -> Response:
        _check_server(server_id)
        info = records.resolve_zone(env, caller, zone)
        params = request.query_params
        if not _flag(params.get("rrsets")):
            records.require_standing(env, ctx, caller, action="rrset.read", zone=info.name)
            return JSONResponse(_zone(info))
        found = await records.list_rrsets(env, ctx, caller=caller, zone=info.name,
                                          name=params.get("rrset_name") or None,
                                          rtype=params.get("rrset_type") or None)
        body = _zone(info, _serial(found))
        body["rrsets"] = [_rrset(rr) for rr in found]
        return JSONResponse(body)
    return await _serve(request, handle)


async def patch_zone(request: Request, server_id: str, zone: str) -> Response:
    async def handle(env: Env, ctx: RequestContext, caller: Caller) -> Response:
        _check_server(server_id)
        info = records.resolve_zone(env, caller, zone)
        changes = parse_patch(await request.body())
        await records.apply_changes(env, ctx, caller=caller, zone=info.name, inputs=changes)
        return Response(status_code=204)
    return await _serve(request, handle)


async def notify_zone(request: Request, server_id: str, zone: str) -> Response:
    async def handle(env: Env, ctx: RequestContext, caller: Caller) -> Response:
        _check_server(server_id)
        info = records.resolve_zone(env, caller, zone)
        records.require_standing(env, ctx, caller, action="zone.notify", zone=info.name)
        return JSONResponse({"result": "Notification queued"})
    return await _serve(request, handle)


async def not_found(rest: str = "") -> Response:
    return _answer(404, "Not Found")


def _mount(prefix: str, catch_all: str) -> None:
    servers = f"{prefix}/api/v1/servers"
    zone = f"{servers}/{{server_id}}/zones/{{zone}}"
    router.add_api_route(f"{prefix}/api", api_versions, methods=["GET"])
    router.add_api_route(servers, list_servers, methods=["GET"])
    router.add_api_route(f"{servers}/{{server_id}}", get_server, methods=["GET"])
    router.add_api_route(f"{servers}/{{server_id}}/zones", list_zones, methods=["GET"])
    router.add_api_route(zone, get_zone, methods=["GET"])
    router.add_api_route(zone, patch_zone, methods=["PATCH"])
    router.add_api_route(f"{zone}/notify", notify_zone, methods=["PUT"])
    router.add_api_route(f"{prefix}{catch_all}/{{rest:path}}", not_found, methods=_METHODS)


_mount("/pdns", "/api")
_mount("", "/api/v1/servers")
