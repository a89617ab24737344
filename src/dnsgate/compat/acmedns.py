"""The acme-dns API (joohoi/acme-dns) under ``/acme-dns``: ``POST /register``,
``POST /update``, ``GET /health``, so acme-dns clients (lego's ``acme-dns``
provider, certbot-dns-multi, acme.sh ``dns_acmedns``, goacmedns) work with the
base URL ``http://host/acme-dns``.

How acme-dns's account maps onto dnsgate:

============  ==============================================================
acme-dns      dnsgate
============  ==============================================================
register      authenticated (an account API key, ``Authorization: Bearer
              dgk_...``; never open): mints a realm token limited to TXT at
              ``_acme-challenge.<domain>`` with the ``allowfrom`` CIDRs as its
              source networks. The body is acme-dns's ``{"allowfrom": [...]}``
              plus an optional ``"domain"`` (the certificate's name, e.g.
              ``www.example.com``; ``*.`` is dropped); without it the caller's
              only realm is meant.
username      the token id (``X-Api-User``)
password      the whole token text ``dg_<id>_<secret>`` (``X-Api-Key``); the
              bare secret works too, joined with the username
subdomain     the token id again: a stable label, and the one ``update`` must
              name (as in acme-dns, another subdomain is ``forbidden``)
fulldomain    ``_acme-challenge.<domain>`` itself, so no CNAME is needed
allowfrom     the token's CIDRs, normalized
============  ==============================================================

``update`` writes to the token's challenge name: its one name when that is an
``_acme-challenge`` name, else ``_acme-challenge.<its realm's name>``. Like
acme-dns it keeps the two newest values (a wildcard and its base name can be
validated together): the older of two is the first record as the backend
returns them, so this relies on backends keeping the order records were
written in (the built-in store does; PowerDNS does in practice).

Errors are acme-dns's ``{"error": "..."}``: ``forbidden`` (401) for every
credential or scope refusal, ``bad_subdomain``/``bad_txt`` (400), and
``malformed_json_payload``/``invalid_allowfrom_cidr`` (400) on register.
Two deviations, both still non-2xx: a body that is not JSON is
``malformed_json_payload`` (400) on update too (acme-dns says ``forbidden``),
and a subdomain that is no valid label is ``bad_subdomain`` (acme-dns
reports it as ``forbidden``, after comparing). dnsgate's own conditions keep
their codes in the same shape: ``rate_limited`` (429), ``backend_unavailable``
(502/504), and on register ``name_outside_realm``/``type_not_allowed``/...
(403), ``domain_required``/``invalid_name`` (400).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from dnsgate.compat.txt import add_txt
from dnsgate.domain import names, tokens
from dnsgate.domain.errors import (
    BackendTimeout,
    BackendUnavailable,
    DatabaseBusy,
    Denied,
    DnsgateError,
    InvalidInput,
    NotFound,
    RateLimited,
    Unauthenticated,
)
from dnsgate.domain.policy import RealmScope, decide, realm_covers
from dnsgate.edge import refused
from dnsgate.edge.context import get_context
from dnsgate.observability import metrics
from dnsgate.security.text import is_clean_tree, load_json
from dnsgate.services import auth, records
from dnsgate.services import tokens as token_service
from dnsgate.services.context import Caller, Env, RequestContext
from dnsgate.services.zones import find_zone_by_id

log = logging.getLogger("dnsgate.acmedns")
router = APIRouter(prefix="/acme-dns", include_in_schema=False)

SURFACE = "acme-dns"
#: acme-dns keeps this many TXT values per account.
KEEP = 2
# acme-dns's validation.go: a label, and a 43-character base64url value.
_SUBDOMAIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_TXT = re.compile(r"^[A-Za-z0-9_-]{43}$")


class AcmeDnsError(Exception):
    """A refusal in acme-dns's words: HTTP status and its ``error`` string."""

    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status, self.error = status, error


@router.get("/health")
async def health() -> Response:
    """Liveness, as acme-dns answers it: 200 and no body."""
    return Response(status_code=200)


@router.post("/register")
async def register(request: Request) -> Response:
    """Mint a token that may write the DNS-01 TXT record of one name."""
    env: Env = request.app.state.env
    ctx = dataclasses.replace(await get_context(request), surface=SURFACE)
    try:
        caller = _account(env, request)
        allowfrom, domain = _register_body(await request.body())
        records.require_standing(env, ctx, caller, action="acme-dns.register")
        realm, challenge = _choose_realm(env, ctx, caller, domain)
        row, text = token_service.create_token(
            env, ctx, caller=caller, realm_id=realm.id, name=f"acme-dns {challenge}"[:100],
            names_=[challenge], types=["TXT"], cidrs=allowfrom or None)
    except Exception as exc:
        return refused.answered(env, request, _failure(exc, ctx), exc, surface=SURFACE)
    return JSONResponse({
        "username": row.id, "password": text, "fulldomain": challenge,
        "subdomain": row.id, "allowfrom": list(row.cidrs or []),
    }, status_code=201)


@router.post("/update")
async def update(request: Request) -> Response:
    """Set the account's TXT value (the two newest values stay)."""
    env: Env = request.app.state.env
    ctx = dataclasses.replace(await get_context(request), surface=SURFACE)
    try:
        caller = _api_user(env, request)
        subdomain, txt = _update_body(await request.body())
        if subdomain != caller.actor_id:
            raise AcmeDnsError(401, "forbidden")
        if not isinstance(txt, str) or not _TXT.fullmatch(txt):
            raise AcmeDnsError(400, "bad_txt")
        zone = caller.token_zone
        assert zone is not None  # a realm token always comes with its zone
        await add_txt(env, ctx, caller, zone, _challenge_name(caller), txt, keep=KEEP)
    except Exception as exc:
        return refused.answered(env, request, _failure(exc, ctx), exc, surface=SURFACE)
    return JSONResponse({"txt": txt})


@router.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"])
async def unknown(rest: str) -> Response:
    if rest in ("register", "update", "health"):
        return _answer(405, "method_not_allowed",
                       {"Allow": "GET" if rest == "health" else "POST"})
    return _answer(404, "not_found")


# --- the one error mapping of this facade ------------------------------------

def _answer(status: int, error: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error}, status_code=status, headers=dict(headers or {}))


def _failure(exc: Exception, ctx: RequestContext) -> JSONResponse:
    """Any failure of a request as acme-dns's ``{"error": ...}``."""
    if isinstance(exc, AcmeDnsError):
        return _answer(exc.status, exc.error)
    if isinstance(exc, (Unauthenticated, Denied)):
        return _answer(401, "forbidden")
    if isinstance(exc, RateLimited):
        return _answer(429, exc.code, {"Retry-After": str(exc.retry_after)})
    if isinstance(exc, DatabaseBusy):
        return _answer(503, exc.code, {"Retry-After": str(exc.retry_after)})
    if isinstance(exc, BackendUnavailable):
        return _answer(504 if isinstance(exc, BackendTimeout) else 502, exc.code)
    if isinstance(exc, NotFound):
        return _answer(404, exc.code)
    if isinstance(exc, InvalidInput):
        return _answer(400, exc.code)
    if isinstance(exc, DnsgateError):
        return _answer(500, exc.code)
    log.error("acme-dns request %s failed", ctx.request_id, exc_info=exc)
    return _answer(500, "internal_error")


# --- register ----------------------------------------------------------------

def _account(env: Env, request: Request) -> Caller:
    """The account behind ``Authorization: Bearer dgk_...`` (tokens cannot register)."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    key = value.strip()
    if scheme.lower() != "bearer" or not key.startswith(f"{tokens.API_KEY_PREFIX}_"):
        raise Unauthenticated("an account API key is required", code="token_missing")
    return auth.authenticate_credential(env, key)


def _json(body: bytes) -> Any:
    try:
        data = load_json(body)
    except ValueError:  # UnicodeDecodeError is one
        raise AcmeDnsError(400, "malformed_json_payload") from None
    if not is_clean_tree(data):  # lone surrogates, NUL
        raise AcmeDnsError(400, "malformed_json_payload")
    return data


def _register_body(body: bytes) -> tuple[list[str], str | None]:
    """(allowfrom CIDRs, domain or None) of a register request; the body may be empty."""
    if not body.strip():
        return [], None
    data = _json(body)
    if not isinstance(data, dict):
        raise AcmeDnsError(400, "malformed_json_payload")
    allowfrom = data.get("allowfrom") or []
    if not isinstance(allowfrom, list) or not all(isinstance(c, str) for c in allowfrom):
        raise AcmeDnsError(400, "malformed_json_payload")
    domain = data.get("domain")
    if domain is not None and not isinstance(domain, str):
        raise AcmeDnsError(400, "malformed_json_payload")
    return _cidrs(allowfrom), domain


def _cidrs(values: Sequence[str]) -> list[str]:
    """acme-dns's rule: each entry a CIDR (brackets around IPv6 allowed)."""
    out = []
    for value in values:
        text = value.replace("[", "").replace("]", "").strip()
        if "/" not in text:
            raise AcmeDnsError(400, "invalid_allowfrom_cidr")
        try:
            out.append(str(ipaddress.ip_network(text, strict=False)))
        except ValueError:
            raise AcmeDnsError(400, "invalid_allowfrom_cidr") from None
    return out


def _challenge_of(domain: str) -> str:
    text = domain.strip()
    if text.startswith("*."):
        text = text[2:]
    name = names.normalize(text, allow_wildcard=False)
    if name.startswith(f"{names.ACME_CHALLENGE}."):
        return name
    return names.normalize(names.acme_challenge_of(name), allow_wildcard=False)


def _choose_realm(env: Env, ctx: RequestContext, caller: Caller,
                  domain: str | None) -> tuple[RealmScope, str]:
    """The caller's realm that holds the challenge name of ``domain`` (or of its
    only realm), asked of ``decide`` before a useless token is minted."""
    realms = caller.principal.realms
    if domain is None:
        if len(realms) != 1:
            raise AcmeDnsError(400, "domain_required")
        challenge = _challenge_of(realms[0].name)
    else:
        try:
            challenge = _challenge_of(domain)
        except InvalidInput:
            raise AcmeDnsError(400, "invalid_name") from None
    holding = [r for r in realms if names.is_at_or_below(challenge, r.zone)]
    if not holding:
        raise AcmeDnsError(403, "name_outside_realm")
    deepest = max(holding, key=lambda r: len(names.labels(r.zone)))
    with env.db.read() as session:
        zone = find_zone_by_id(session, deepest.zone_id)
    now = env.clock()
    decisions = [decide(caller.principal, op, zone.policy, challenge, "TXT", ctx.address, now)
                 for op in ("create", "update")]
    for op, decision in zip(("create", "update"), decisions, strict=True):
        metrics.count_decision(op, decision.code)
    if not any(decisions):
        raise AcmeDnsError(403, decisions[0].code)
    realm = next((r for r in holding if r.zone_id == zone.id and "TXT" in r.types
                  and realm_covers(r, challenge, "TXT", zone.policy.attached_labels)), None)
    if realm is None:  # an admin may write anywhere, but a token needs a realm
        raise AcmeDnsError(403, "name_outside_realm")
    return realm, challenge


# --- update ------------------------------------------------------------------

def _api_user(env: Env, request: Request) -> Caller:
    """The realm token of ``X-Api-User`` (its id) and ``X-Api-Key``."""
    user = request.headers.get("x-api-user", "").strip()
    key = request.headers.get("x-api-key", "").strip()
    if not user or not key:
        raise AcmeDnsError(401, "forbidden")
    text = key if tokens.parse(key) is not None else f"{tokens.TOKEN_PREFIX}_{user}_{key}"
    parsed = tokens.parse(text)
    if parsed is None or parsed[0] != user:
        raise AcmeDnsError(401, "forbidden")
    return auth.authenticate_credential(env, text)


def _update_body(body: bytes) -> tuple[str, Any]:
    """(subdomain, txt as sent) of an update request."""
    data = _json(body)
    if not isinstance(data, dict):
        raise AcmeDnsError(400, "malformed_json_payload")
    subdomain, txt = data.get("subdomain"), data.get("txt")
    if subdomain is None:
        raise AcmeDnsError(401, "forbidden")  # acme-dns: no subdomain is another's
    if not isinstance(subdomain, str) or not _SUBDOMAIN.fullmatch(subdomain):
        raise AcmeDnsError(400, "bad_subdomain")
    return subdomain, txt


def _challenge_name(caller: Caller) -> str:
    """Where a token's update goes: its one ``_acme-challenge`` name, else the
    challenge name of its realm (the realm's own name when it is one already,
    e.g. a host realm on ``_acme-challenge.www``)."""
    token = caller.principal.token
    if token is not None and token.names is not None and len(token.names) == 1:
        (only,) = token.names
        if only.startswith(f"{names.ACME_CHALLENGE}."):
            return only
    realm = caller.principal.realms[0]
    if realm.name.startswith(f"{names.ACME_CHALLENGE}."):
        return realm.name
    return names.acme_challenge_of(realm.name)
