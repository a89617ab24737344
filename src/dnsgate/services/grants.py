"""Grants: an account's access to a private or invite zone."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select

from dnsgate.db.models import Grant, Zone
from dnsgate.domain.errors import Conflict, InvalidInput, NotFound
from dnsgate.domain.permissions import Target
from dnsgate.services import audit, permissions
from dnsgate.services.accounts import get_account
from dnsgate.services.context import Caller, Env, RequestContext
from dnsgate.services.zones import find_zone, normalize_zone, parse_operations, parse_types


def create_grant(
    env: Env, ctx: RequestContext, *, caller: Caller, zone: str, account_id: int,
    types: Sequence[str] | None = None, operations: Sequence[str] | None = None,
    max_realms: int | None = None, expires_at: datetime | None = None,
) -> Grant:
    """Let an account claim realms in a zone, optionally narrowed."""
    now = env.clock()
    if max_realms is not None and max_realms < 0:
        raise InvalidInput("max_realms must not be negative")
    if expires_at is not None and expires_at <= now:
        raise InvalidInput("expires_at must be in the future")
    with env.db.write() as session:
        info = find_zone(session, normalize_zone(zone))
        get_account(session, account_id)
        permissions.require(caller, "create", Target(
            "grant", owner_id=account_id, own_dns_id=info.policy.owner_id),
            what=f"zone {info.name}")
        existing = session.scalars(select(Grant).where(
            Grant.zone_id == info.id, Grant.account_id == account_id)).first()
        if existing is not None and existing.revoked_at is None:
            raise Conflict(f"account {account_id} already has a grant on {info.name}")
        if existing is not None:
            session.delete(existing)
            session.flush()
        grant = Grant(zone_id=info.id, account_id=account_id,
                      types=parse_types(list(types)) if types else None,
                      ops=parse_operations(list(operations)) if operations else None,
                      max_realms=max_realms, expires_at=expires_at, created_at=now)
        session.add(grant)
        session.flush()
        audit.record(session, ctx, caller=caller, action="grant.create", when=now,
                     zone=info.name, target=f"grant:{grant.id}",
                     details={"account_id": account_id})
        return grant


def revoke_grant(env: Env, ctx: RequestContext, *, caller: Caller, grant_id: int) -> Grant:
    """End a grant; realms already approved stay until revoked themselves."""
    now = env.clock()
    with env.db.write() as session:
        grant = session.get(Grant, grant_id)
        if grant is None:
            raise NotFound(f"grant {grant_id} not found")
        permissions.require(caller, "revoke", Target("grant", owner_id=grant.account_id),
                            what=f"grant {grant_id}")
        if grant.revoked_at is None:
            grant.revoked_at = now
            zone = session.get(Zone, grant.zone_id)
            audit.record(session, ctx, caller=caller, action="grant.revoke", when=now,
                         zone=zone.name if zone else None, target=f"grant:{grant_id}")
        return grant


def list_grants(env: Env, *, zone: str | None = None,
                account_id: int | None = None) -> list[tuple[Grant, str]]:
    with env.db.read() as session:
        stmt = select(Grant, Zone.name).join(Zone, Zone.id == Grant.zone_id).order_by(Grant.id)
        if zone:
            stmt = stmt.where(Zone.name == normalize_zone(zone))
        if account_id is not None:
            stmt = stmt.where(Grant.account_id == account_id)
        return [(g, z) for g, z in session.execute(stmt)]


