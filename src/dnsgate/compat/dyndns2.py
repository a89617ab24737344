"""The dyndns2 protocol (``/nic/update``, ``/nic/checkip.html``) for ddclient,
inadyn and the DDNS clients built into routers.

A thin translation onto ``services.records.apply_changes``: each hostname of
a request is one change set (its A and/or AAAA RRset), authorized, rate
limited and audited there. This module only reads the request the way these
clients send it and maps the outcome to dyndns2's result codes, one line per
hostname in request order (``badauth`` and ``numhost`` once for the whole
request), always HTTP 200 -- except a request with no credential at all,
which gets 401 with a Basic challenge so clients that wait for one (wget, some
routers) send theirs.

The credential is a dnsgate token or account API key: the Basic password
(username ignored, or the token id with the secret as password), a Bearer
header, or ``?username=&password=`` for routers that can only fill in a URL.
Nothing here logs a URL unmasked (see ``basicauth.redact_query``).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
from collections.abc import Mapping, Sequence
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from dnsgate.compat import basicauth, credentials
from dnsgate.domain import names
from dnsgate.domain.errors import (
    BackendUnavailable,
    Denied,
    DnsgateError,
    InvalidInput,
    NotFound,
    RateLimited,
    Unauthenticated,
)
from dnsgate.edge import refused
from dnsgate.edge.context import get_context
from dnsgate.services import records
from dnsgate.services.context import Caller, Env, RequestContext, ZoneInfo
from dnsgate.services.records import ChangeInput

log = logging.getLogger("dnsgate.dyndns2")
router = APIRouter(include_in_schema=False)

SURFACE = "dyndns2"
MAX_HOSTS = 20
_FORM = "application/x-www-form-urlencoded"
#: Denial codes that refuse the credential itself, not one hostname.
_CREDENTIAL_CODES = frozenset({"token_revoked", "token_expired", "account_disabled",
                               "ip_not_allowed"})
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class BadAddress(ValueError):
    """``myip``/``myipv4``/``myipv6`` is not one address per family."""


def _answer(lines: Sequence[str], status: int = 200,
            headers: Mapping[str, str] | None = None) -> Response:
    return PlainTextResponse("\n".join(lines) + "\n", status_code=status,
                             headers={"Cache-Control": "no-store", **(headers or {})})


@router.get("/nic/checkip.html")
async def checkip(request: Request) -> Response:
    """The caller's address, as checkip.dyndns.org words it (ddclient ``use=web``)."""
    ctx = await get_context(request)
    address = ctx.source_ip or ""
    return HTMLResponse(
        "<html><head><title>Current IP Check</title></head>"
        f"<body>Current IP Address: {address}</body></html>\n",
        headers={"Cache-Control": "no-store"})


def update_route() -> Route:
    """The update as a plain Starlette route, which app.py puts first in its
    route table (the protocol's hot request; not in the OpenAPI document).
    GET and POST only: Starlette would take HEAD with GET, and a HEAD is
    no update."""
    route = Route("/nic/update", nic_update, methods=["GET", "POST"])
    assert route.methods is not None
    route.methods.discard("HEAD")
    return route


async def nic_update(request: Request) -> Response:
    """Set the A/AAAA records of up to 20 hostnames to the given or the caller's address."""
    env: Env = request.app.state.env
    ctx = dataclasses.replace(await get_context(request), surface=SURFACE)
    try:
        params = await _params(request)
        return _reported(env, request, await _update(env, ctx, request, params))
    except Exception:  # the protocol has an answer for this too; never a problem+json
        log.exception("dyndns2 update failed (request %s, query %s)", ctx.request_id,
                      basicauth.redact_query(request.url.query))
        return _answer(["911"])


#: Result codes that refuse the request's credential, name no zone of it, or refuse its
#: input (``dnserr`` is not one: it also says the provider failed).
_REFUSALS = ((b"badauth", 401), (b"notfqdn", 404), (b"numhost", 422))


def _reported(env: Env, request: Request, answer: Response) -> Response:
    """Report the answer's worst refusal, if any (``edge.refused``); the answer."""
    body = bytes(answer.body)
    if body.startswith((b"good", b"nochg")) and body.count(b"\n") == 1:
        return answer  # the common case: one hostname updated
    lines = body.split()
    for code, status in _REFUSALS:
        if code in lines:
            refused.report(env, request, status=status, code=code.decode(), surface=SURFACE)
            break
    return answer


async def _params(request: Request) -> dict[str, str]:
    """Query parameters, and those of a form body (which win) on POST."""
    params = dict(request.query_params)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if request.method == "POST" and content_type == _FORM:
        body = (await request.body()).decode("utf-8", errors="replace")
        params.update(parse_qsl(body, keep_blank_values=True))
    return params


async def _update(env: Env, ctx: RequestContext, request: Request,
                  params: dict[str, str]) -> Response:
    try:
        presented = basicauth.presented(request.headers.get("authorization", ""), params)
    except Unauthenticated:
        return _answer(["badauth"])
    if presented is None:
        return _answer(["badauth"], status=401,
                       headers={"WWW-Authenticate": 'Basic realm="dnsgate", charset="UTF-8"'})
    try:
        caller = credentials.authenticate(env, presented)
    except Unauthenticated:
        return _answer(["badauth"])
    try:  # revoked, expired, disabled, wrong address: refused (and audited) once
        records.require_standing(env, ctx, caller, action="dyndns2.update")
    except Denied:
        return _answer(["badauth"])
    hostnames = [h.strip() for h in params.get("hostname", "").split(",") if h.strip()]
    if not hostnames:
        return _answer(["notfqdn"])
    if len(hostnames) > MAX_HOSTS:
        return _answer(["numhost"])
    try:
        addresses = _addresses(params, ctx)
    except BadAddress:
        return _answer(["dnserr"] * len(hostnames))
    zones = credentials.reachable_zones(env, caller)
    lines = []
    for hostname in hostnames:
        lines.append(await _update_host(env, ctx, caller, zones, hostname, addresses))
    return _answer(lines)


def _addresses(params: Mapping[str, str], ctx: RequestContext) -> list[tuple[str, str]]:
    """(type, address) to set: from ``myip`` (one IPv4 and/or one IPv6, comma-
    separated), ``myipv4``, ``myipv6``; without any, the caller's address."""
    given = [part.strip() for key in ("myip", "myipv4", "myipv6")
             for part in params.get(key, "").split(",") if part.strip()]
    found: dict[str, Address] = {}
    for text in given:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            raise BadAddress(text) from None
        rtype = "A" if address.version == 4 else "AAAA"
        if rtype in found and found[rtype] != address:
            raise BadAddress(text)
        found[rtype] = address
    if not given:
        if ctx.address is None:
            raise BadAddress("no client address")
        found["A" if ctx.address.version == 4 else "AAAA"] = ctx.address
    return [(rtype, str(found[rtype])) for rtype in ("A", "AAAA") if rtype in found]


async def _update_host(env: Env, ctx: RequestContext, caller: Caller,
                       zones: Sequence[ZoneInfo], hostname: str,
                       addresses: Sequence[tuple[str, str]]) -> str:
    """One hostname's result line."""
    try:
        name = names.normalize(hostname, allow_wildcard=False)
    except InvalidInput:
        return "notfqdn"
    zone = credentials.zone_of(zones, name)
    if zone is None:
        return "notfqdn"
    inputs = [ChangeInput("upsert", name, rtype, None, [address])
              for rtype, address in addresses]
    # A provider that cannot apply a batch atomically gets one RRset at a time.
    batches = [inputs]
    if len(inputs) > 1 and not env.backends.get(zone.backend_id).capabilities.atomic_batches:
        batches = [[change] for change in inputs]
    changed = 0
    try:
        for batch in batches:
            result = await records.apply_changes(env, ctx, caller=caller, zone=zone.name,
                                                 inputs=batch)
            changed += result.changed
    except RateLimited:
        return "abuse"
    except Denied as denied:
        return "badauth" if denied.code in _CREDENTIAL_CODES else "nohost"
    except NotFound:
        return "notfqdn"
    except (BackendUnavailable, InvalidInput):
        return "dnserr"
    except DnsgateError as exc:
        log.warning("dyndns2 update of %s failed: %s (request %s)", name, exc.code,
                    ctx.request_id)
        return "911"
    shown = ",".join(address for _, address in addresses)
    return f"good {shown}" if changed else f"nochg {shown}"
