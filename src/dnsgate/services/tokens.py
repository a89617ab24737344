"""Realm tokens: minting (secret returned once), listing, revoking.

A token may only narrow its realm: its names lie inside the realm, its types
and operations are subsets of the realm's.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select

from dnsgate.db.models import Realm, Token, Zone
from dnsgate.domain import names, tokens
from dnsgate.domain.errors import Conflict, InvalidInput, NotFound
from dnsgate.domain.permissions import Target
from dnsgate.domain.policy import RealmScope, realm_covers
from dnsgate.services import audit, permissions
from dnsgate.services.context import Caller, Env, RequestContext
from dnsgate.services.realms import get_realm
from dnsgate.services.zones import parse_operations, parse_types

MAX_TOKEN_NAMES = 100


def create_token(
    env: Env, ctx: RequestContext, *, caller: Caller, realm_id: int, name: str = "",
    names_: Sequence[str] | None = None, types: Sequence[str] | None = None,
    operations: Sequence[str] | None = None, cidrs: Sequence[str] | None = None,
    not_before: datetime | None = None, expires_at: datetime | None = None,
    max_idle_seconds: int | None = None,
) -> tuple[Token, str]:
    """Mint a token for an approved realm of the caller; returns (row, full text)."""
    now = env.clock()
    issued = tokens.issue()
    with env.db.write() as session:
        realm = get_realm(session, caller, realm_id)
        permissions.require(caller, "create", Target("token", owner_id=realm.account_id),
                            what=f"realm {realm_id}")
        if realm.status != "approved":
            raise Conflict(f"realm {realm_id} is {realm.status}; tokens need an approved realm")
        zone = session.get(Zone, realm.zone_id)
        assert zone is not None
        token_types = _subset("types", parse_types(list(types)), realm.types) if types else None
        token_ops = (_subset("operations", parse_operations(list(operations)), realm.ops)
                     if operations else None)
        token_names = (_names_in_realm(realm, zone.name, names_, token_types or realm.types)
                       if names_ else None)
        token_cidrs = _cidrs(cidrs) if cidrs else None
        if expires_at is not None and expires_at <= now:
            raise InvalidInput("expires_at must be in the future")
        if not_before is not None and expires_at is not None and not_before >= expires_at:
            raise InvalidInput("not_before must be before expires_at")
        if max_idle_seconds is not None and max_idle_seconds <= 0:
            raise InvalidInput("max_idle_seconds must be positive")
        row = Token(
            id=issued.id, realm_id=realm.id, account_id=realm.account_id, name=name[:100],
            secret_hash=tokens.hash_secret(env.key, issued.secret), names=token_names,
            types=token_types, ops=token_ops, cidrs=token_cidrs, not_before=not_before,
            expires_at=expires_at, max_idle_seconds=max_idle_seconds, created_at=now,
            use_count=0)
        session.add(row)
        audit.record(session, ctx, caller=caller, action="token.create", when=now,
                     zone=zone.name, name=realm.name, target=f"token:{issued.id}",
                     details={"realm_id": realm.id, "name": name, "types": token_types,
                              "operations": token_ops, "names": token_names,
                              "cidrs": token_cidrs})
    return row, issued.text


def _subset(what: str, wanted: list[str], realm: list[str]) -> list[str]:
    extra = sorted(set(wanted) - set(realm))
    if extra:
        raise InvalidInput(f"{what} outside the realm: {', '.join(extra)}")
    return wanted


def _names_in_realm(realm: Realm, zone: str, wanted: Sequence[str],
                    types: Sequence[str]) -> list[str]:
    if len(wanted) > MAX_TOKEN_NAMES:
        raise InvalidInput(f"at most {MAX_TOKEN_NAMES} names per token")
    scope = RealmScope(id=realm.id, zone=zone, zone_id=realm.zone_id, name=realm.name,
                       kind=realm.kind,  # type: ignore[arg-type]
                       types=frozenset(realm.types), operations=frozenset(realm.ops))
    out: list[str] = []
    for text in wanted:
        fqdn = names.resolve(text, zone)
        if not any(realm_covers(scope, fqdn, rtype) for rtype in types):
            raise InvalidInput(f"{fqdn} is outside the realm", code="invalid_name")
        if fqdn not in out:
            out.append(fqdn)
    return out


def _cidrs(values: Sequence[str]) -> list[str]:
    out = []
    for value in values:
        try:
            out.append(str(ipaddress.ip_network(value.strip(), strict=False)))
        except ValueError as exc:
            raise InvalidInput(f"invalid CIDR {value!r}") from exc
    return out


def revoke_token(env: Env, ctx: RequestContext, *, caller: Caller, token_id: str) -> Token:
    """Revoke a token; it gets 401 on its very next request."""
    now = env.clock()
    with env.db.write() as session:
        token = session.get(Token, token_id)
        if token is None:
            raise NotFound(f"token {token_id} not found")
        permissions.require(caller, "revoke", Target("token", owner_id=token.account_id),
                            what=f"token {token_id}")
        if token.revoked_at is None:
            token.revoked_at = now
            audit.record(session, ctx, caller=caller, action="token.revoke", when=now,
                         target=f"token:{token_id}")
        return token


def list_tokens(env: Env, *, account_id: int | None = None, realm_id: int | None = None,
                query: str | None = None) -> list[Token]:
    """Tokens, newest first, filtered by owner, realm or id prefix."""
    with env.db.read() as session:
        stmt = select(Token).order_by(Token.created_at.desc())
        if account_id is not None:
            stmt = stmt.where(Token.account_id == account_id)
        if realm_id is not None:
            stmt = stmt.where(Token.realm_id == realm_id)
        if query:
            stmt = stmt.where(Token.id.startswith(query.lower(), autoescape=True))
        return list(session.scalars(stmt.limit(1000)))


