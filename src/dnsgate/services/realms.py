"""Realms: an account's claim on part of a zone, and the rules for claiming.

Claims of different accounts never overlap. The check and the insert run in
one transaction under a per-zone lock (SQLite: the database write lock;
PostgreSQL: an advisory lock), so two concurrent claims cannot both win.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from dnsgate.db.models import Realm, Zone
from dnsgate.domain import names
from dnsgate.domain.errors import Conflict, Denied, DnsgateError, InvalidInput, NotFound
from dnsgate.domain.policy import REALM_KINDS
from dnsgate.services import audit
from dnsgate.services.context import Caller, Env, RequestContext, ZoneInfo
from dnsgate.services.zones import (
    find_zone,
    has_grant,
    may_see,
    normalize_zone,
    parse_operations,
    parse_types,
    zone_realm_count,
)

LIVE = ("pending", "approved")


def request_realm(
    env: Env, ctx: RequestContext, *, caller: Caller, zone: str, name: str, kind: str,
    types: Sequence[str] | None = None, operations: Sequence[str] | None = None,
    account_id: int | None = None,
) -> Realm:
    """Claim ``name`` in ``zone``: approved at once by an admin or an auto zone,
    pending otherwise. ``account_id`` (admins only) claims for another account.

    A denied claim is audited in a transaction of its own (the claim's own
    transaction rolls back)."""
    try:
        return _request_realm(env, ctx, caller=caller, zone=zone, name=name, kind=kind,
                              types=types, operations=operations, account_id=account_id)
    except Denied as denied:
        _audit_denied_claim(env, ctx, caller, zone, name, kind, account_id, denied)
        raise


def _audit_denied_claim(env: Env, ctx: RequestContext, caller: Caller, zone: str, name: str,
                        kind: str, account_id: int | None, denied: Denied) -> None:
    zone_name: str | None = None
    fqdn: str | None = None
    try:
        zone_name = normalize_zone(zone)
        fqdn = names.resolve(name, zone_name, allow_wildcard=False)
    except DnsgateError:
        pass
    owner_id = caller.account_id if account_id is None else account_id
    with env.db.write() as session:
        audit.record(session, ctx, caller=caller, action="realm.request", when=env.clock(),
                     outcome="denied", code=denied.code, zone=zone_name, name=fqdn,
                     details={"kind": kind, "account_id": owner_id})


def _request_realm(
    env: Env, ctx: RequestContext, *, caller: Caller, zone: str, name: str, kind: str,
    types: Sequence[str] | None, operations: Sequence[str] | None, account_id: int | None,
) -> Realm:
    owner_id = caller.account_id if account_id is None else account_id
    if owner_id != caller.account_id and not caller.is_admin:
        raise Denied("only admins create realms for other accounts", code="forbidden")
    if kind not in REALM_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(REALM_KINDS)}")
    zone_name = normalize_zone(zone)
    now = env.clock()
    with env.db.write() as session:
        info = find_zone(session, zone_name)
        if not may_see(session, caller, info, now):
            raise NotFound(f"zone {zone_name} not found", code="zone_not_found")
        if info.policy.owner_id not in (None, owner_id):
            raise Denied("this zone is another account's own DNS; only its owner "
                         "claims names in it", code="zone_policy")
        fqdn = names.resolve(name, info.name, allow_wildcard=False)
        if not names.is_at_or_below(fqdn, info.name):
            raise InvalidInput(f"{fqdn} is not in zone {info.name}", code="invalid_name")
        allowed_types, allowed_ops = _ceiling(session, caller, info, owner_id, now)
        realm_types = parse_types(list(types)) if types else sorted(allowed_types)
        realm_ops = parse_operations(list(operations)) if operations else [
            op for op in ("read", "create", "update", "delete") if op in allowed_ops]
        if not set(realm_types) <= allowed_types:
            raise Denied(f"types not allowed here: {sorted(set(realm_types) - allowed_types)}",
                         code="type_not_allowed")
        if not set(realm_ops) <= allowed_ops:
            raise Denied(f"operations not allowed here: {sorted(set(realm_ops) - allowed_ops)}",
                         code="operation_not_allowed")
        if not caller.is_admin:
            _check_depth(info, fqdn, kind)
        env.db.lock(session, f"realms:{info.name}")
        _check_free(session, info, owner_id, fqdn, kind)
        if not caller.is_admin:
            _check_quota(session, caller, info, owner_id, now)
        approved = caller.is_admin or info.approval == "auto"
        realm = Realm(account_id=owner_id, zone_id=info.id, name=fqdn, kind=kind,
                      types=realm_types, ops=realm_ops,
                      status="approved" if approved else "pending", created_at=now,
                      decided_at=now if approved else None,
                      decided_by=caller.account_ref if caller.is_admin else None)
        session.add(realm)
        session.flush()
        audit.record(session, ctx, caller=caller, action="realm.request", when=now,
                     zone=info.name, name=fqdn, target=f"realm:{realm.id}",
                     details={"kind": kind, "status": realm.status, "account_id": owner_id})
        return realm


def _ceiling(session: Session, caller: Caller, info: ZoneInfo, owner_id: int,
             now: object) -> tuple[frozenset[str], frozenset[str]]:
    """The most a realm in this zone may allow: the zone's policy narrowed by a grant."""
    types, ops = info.policy.types, info.policy.operations
    if caller.is_admin or info.policy.owner_id == owner_id:
        return types, ops  # an owner needs no grant for its own DNS
    grant = has_grant(session, info.id, owner_id, now)
    if info.visibility != "public" and grant is None:
        raise Denied("this zone needs a grant from an admin", code="zone_policy")
    if grant is not None:
        if grant.types is not None:
            types = types & frozenset(grant.types)
        if grant.ops is not None:
            ops = ops & frozenset(grant.ops)
    return types, ops


def _check_depth(info: ZoneInfo, fqdn: str, kind: str) -> None:
    policy = info.policy
    depth = names.depth_below(fqdn, info.name)
    first = depth + 1 if kind == "below" else depth  # shallowest name the claim covers
    if first == 0 and not policy.apex_allowed:
        raise Denied("the zone apex may not be claimed", code="zone_policy")
    if first > 0 and first < policy.min_depth:
        raise Denied(f"names must be at least {policy.min_depth} labels below the zone",
                     code="zone_policy")
    if policy.max_depth is not None and first > policy.max_depth:
        raise Denied(f"names may be at most {policy.max_depth} labels below the zone",
                     code="zone_policy")


def _check_free(session: Session, info: ZoneInfo, owner_id: int, fqdn: str, kind: str) -> None:
    rows = session.execute(select(Realm.name, Realm.kind, Realm.account_id).where(
        Realm.zone_id == info.id, Realm.status.in_(LIVE), Realm.account_id != owner_id))
    for other in rows:
        if names.overlaps(fqdn, kind, other.name, other.kind):
            raise Conflict(f"{fqdn} overlaps a name claimed by another account")


def _check_quota(session: Session, caller: Caller, info: ZoneInfo, owner_id: int,
                 now: object) -> None:
    count = zone_realm_count(session, info.id, owner_id)
    if info.realm_quota is not None and count >= info.realm_quota:
        raise Denied(f"quota of {info.realm_quota} realms in this zone reached",
                     code="zone_policy")
    grant = has_grant(session, info.id, owner_id, now)
    if grant is not None and grant.max_realms is not None and count >= grant.max_realms:
        raise Denied(f"quota of {grant.max_realms} realms under your grant reached",
                     code="zone_policy")


def decide_realm(env: Env, ctx: RequestContext, *, caller: Caller, realm_id: int,
                 status: str, reason: str = "") -> Realm:
    """Approve, reject (reason required) or revoke a realm.

    Admins may do all three; an owner may only revoke (give up) its own realm.
    """
    if status not in ("approved", "rejected", "revoked"):
        raise InvalidInput("status must be approved, rejected or revoked")
    if status == "rejected" and not reason.strip():
        raise InvalidInput("a rejection needs a reason")
    now = env.clock()
    with env.db.write() as session:
        realm = session.get(Realm, realm_id)
        if realm is None or not (caller.is_admin or (
                status == "revoked" and realm.account_id == caller.account_id)):
            raise NotFound(f"realm {realm_id} not found")
        if status in ("approved", "rejected") and realm.status != "pending":
            raise Conflict(f"realm {realm_id} is {realm.status}, not pending")
        if status == "revoked" and realm.status not in LIVE:
            raise Conflict(f"realm {realm_id} is {realm.status}; only a live realm is revoked")
        realm.status = status
        realm.reason = reason.strip()
        realm.decided_at = now
        realm.decided_by = caller.account_ref
        zone = session.get(Zone, realm.zone_id)
        audit.record(session, ctx, caller=caller, action=f"realm.{status}", when=now,
                     zone=zone.name if zone else None, name=realm.name,
                     target=f"realm:{realm_id}", details={"reason": realm.reason})
        return realm


def get_realm(session: Session, caller: Caller, realm_id: int) -> Realm:
    """A realm the caller owns (or any, for admins); NotFound otherwise."""
    realm = session.get(Realm, realm_id)
    if realm is None or not (caller.is_admin or realm.account_id == caller.account_id):
        raise NotFound(f"realm {realm_id} not found")
    return realm


def find_realm(env: Env, caller: Caller, realm_id: int) -> tuple[Realm, str]:
    """A realm the caller may see, with its zone's name."""
    with env.db.read() as session:
        realm = get_realm(session, caller, realm_id)
        zone = session.get(Zone, realm.zone_id)
        assert zone is not None
        return realm, zone.name


def list_realms(env: Env, *, account_id: int | None = None, status: str | None = None,
                zone: str | None = None) -> list[tuple[Realm, str]]:
    """Realms with their zone names, filtered."""
    with env.db.read() as session:
        stmt = select(Realm, Zone.name).join(Zone, Zone.id == Realm.zone_id).order_by(Realm.id)
        if account_id is not None:
            stmt = stmt.where(Realm.account_id == account_id)
        if status:
            stmt = stmt.where(Realm.status == status)
        if zone:
            stmt = stmt.where(Zone.name == normalize_zone(zone))
        return [(r, z) for r, z in session.execute(stmt)]
