"""Realms: an account's claim on part of a zone, and the rules for claiming.

Claims of different accounts never hold a common name (``domain/claims.py``
decides, and says when a claim waits for an admin). The check and the insert run in
one transaction under a per-zone lock (SQLite: the database write lock;
PostgreSQL: an advisory lock), so two concurrent claims cannot both win.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from dnsgate.backends.base import TransactionalBackend
from dnsgate.db.models import Account, Realm, Zone
from dnsgate.domain import names
from dnsgate.domain.claims import ClaimVerdict, conflicting_claim, held_names, judge_claim
from dnsgate.domain.errors import Conflict, Denied, DnsgateError, InvalidInput, NotFound
from dnsgate.domain.permissions import Target
from dnsgate.domain.policy import REALM_KINDS, RealmKind, ZoneClaim
from dnsgate.domain.records import RRset
from dnsgate.services import audit, permissions
from dnsgate.services.context import Caller, Env, RequestContext, ZoneInfo
from dnsgate.services.rrset_writers import handover_rows, last_writers
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
log = logging.getLogger("dnsgate.realms")


def request_realm(
    env: Env, ctx: RequestContext, *, caller: Caller, zone: str, name: str, kind: str,
    types: Sequence[str] | None = None, operations: Sequence[str] | None = None,
    account_id: int | None = None, upstream: Sequence[RRset] | None = None,
) -> Realm:
    """Claim ``name`` in ``zone`` (``domain/claims.py`` decides): approved at once
    by an admin or an auto zone, pending otherwise -- and always pending when it
    reaches the apex, an attached name of a name the claimant does not hold, or
    RRsets someone else wrote. ``account_id`` (admins only) claims for another
    account.

    The zone's current RRsets are read inside the claim's transaction for the
    built-in backend; for a provider they are ``upstream``, read beforehand
    with :func:`read_upstream` (without them the claim waits: nobody can say
    the names are free).

    A denied claim is audited in a transaction of its own (the claim's own
    transaction rolls back)."""
    try:
        return _request_realm(env, ctx, caller=caller, zone=zone, name=name, kind=kind,
                              types=types, operations=operations, account_id=account_id,
                              upstream=upstream)
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


@dataclass(frozen=True, slots=True)
class _Wanted:
    """A claim checked against the zone's policy, before the claim rules."""

    info: ZoneInfo
    claim: ZoneClaim
    types: list[str]
    ops: list[str]


def _request_realm(
    env: Env, ctx: RequestContext, *, caller: Caller, zone: str, name: str, kind: str,
    types: Sequence[str] | None, operations: Sequence[str] | None, account_id: int | None,
    upstream: Sequence[RRset] | None,
) -> Realm:
    owner_id = caller.account_id if account_id is None else account_id
    if owner_id != caller.account_id and not caller.is_admin:
        raise Denied("only admins create realms for other accounts", code="forbidden")
    if kind not in REALM_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(REALM_KINDS)}")
    with env.db.read() as session:
        wanted = _check_policy(session, env, caller, normalize_zone(zone), name,
                               kind, types, operations, owner_id)
    info, claim = wanted.info, wanted.claim
    backend = env.backends.get(info.backend_id)
    now = env.clock()
    with env.db.write() as session:
        env.db.lock(session, f"realms:{info.name}")
        current = (cast(TransactionalBackend, backend).read_in(session, info.name)
                   if backend.capabilities.transactional else upstream)
        existing = None if current is None else _held_rrsets(info, claim, current)
        live = _live_claims(session, info.id)
        other = conflicting_claim(claim, info.policy, [c for c, _ in live])
        if other is not None:
            raise Conflict(f"{claim.name} overlaps a name claimed by another account "
                           f"({other.kind} {other.name})")
        if not caller.is_admin:
            _check_quota(session, caller, info, owner_id, now)
        found = ([] if existing is None else
                 last_writers(session, zone_id=info.id, claimant_id=owner_id, rrsets=existing))
        trusted = caller.is_admin or info.policy.owner_id == owner_id  # its own DNS
        verdict = judge_claim(
            claim=claim, zone=info.policy, auto_approve=info.approval == "auto",
            by_admin=trusted,
            approved_own=[c for c, status in live
                          if c.account_id == owner_id and status == "approved"],
            found=found)
        if existing is None and not trusted:  # nobody can say the names are free
            verdict = ClaimVerdict(False, (*verdict.reasons, "backend_unreadable"), ())
        handover = handover_rows(session, verdict.handover)
        realm = Realm(account_id=owner_id, zone_id=info.id, name=claim.name, kind=kind,
                      types=wanted.types, ops=wanted.ops,
                      status="approved" if verdict.approved else "pending", created_at=now,
                      decided_at=now if verdict.approved else None,
                      decided_by=caller.account_ref if caller.is_admin else None,
                      pending_reasons=list(verdict.reasons), handover=handover)
        session.add(realm)
        session.flush()
        audit.record(session, ctx, caller=caller, action="realm.request", when=now,
                     zone=info.name, name=claim.name, target=f"realm:{realm.id}",
                     details={"kind": kind, "status": realm.status, "account_id": owner_id,
                              "pending_reasons": realm.pending_reasons,
                              "handover": [f"{h['name']} {h['type']}" for h in handover]})
        return realm


def _check_policy(session: Session, env: Env, caller: Caller, zone_name: str, name: str,
                  kind: RealmKind, types: Sequence[str] | None,
                  operations: Sequence[str] | None, owner_id: int) -> _Wanted:
    """The zone, name, types and operations of a claim, within the zone's policy."""
    now = env.clock()
    if owner_id != caller.account_id and session.get(Account, owner_id) is None:
        raise NotFound(f"account {owner_id} not found")
    info = find_zone(session, zone_name, owner_id=owner_id)
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
    realm_ops: list[str] = parse_operations(list(operations)) if operations else [
        op for op in ("read", "create", "update", "delete") if op in allowed_ops]
    if not set(realm_types) <= allowed_types:
        raise Denied(f"types not allowed here: {sorted(set(realm_types) - allowed_types)}",
                     code="type_not_allowed")
    if not set(realm_ops) <= allowed_ops:
        raise Denied(f"operations not allowed here: {sorted(set(realm_ops) - allowed_ops)}",
                     code="operation_not_allowed")
    if not caller.is_admin:
        _check_depth(info, fqdn, kind)
    return _Wanted(info, ZoneClaim(owner_id, fqdn, kind), realm_types, realm_ops)


async def read_upstream(env: Env, caller: Caller, zone: str) -> list[RRset] | None:
    """A provider zone's RRsets, for :func:`request_realm` to judge a claim by
    (None for the built-in store, read in the claim's transaction, and when the
    provider does not answer: the claim then waits for an admin)."""
    try:
        with env.db.read() as session:
            info = find_zone(session, normalize_zone(zone), owner_id=caller.account_id)
        backend = env.backends.get(info.backend_id)
        if backend.capabilities.transactional:
            return None
        return await backend.read(info.name)
    except DnsgateError:
        return None
    except Exception:  # any failure of the provider: the claim waits instead
        log.warning("claim in %s: the backend could not be read", zone)
        return None


def _held_rrsets(info: ZoneInfo, claim: ZoneClaim, rrsets: Sequence[RRset]) -> list[RRset]:
    """The RRsets a claim would hold (the SOA is the zone's, never a claim's)."""
    held = set(held_names(claim, info.policy, {rr.name for rr in rrsets}))
    return [rr for rr in rrsets if rr.name in held and rr.type != "SOA"]


def _live_claims(session: Session, zone_id: int) -> list[tuple[ZoneClaim, str]]:
    rows = session.execute(select(Realm.account_id, Realm.name, Realm.kind, Realm.status)
                           .where(Realm.zone_id == zone_id, Realm.status.in_(LIVE)))
    return [(ZoneClaim(r.account_id, r.name, r.kind), r.status) for r in rows]


def zone_claims(session: Session, zone_id: int) -> list[ZoneClaim]:
    """The live claims of a zone, for ``decide()``'s reach rule (NS, DNAME, CAA)."""
    return [claim for claim, _ in _live_claims(session, zone_id)]


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

    Admins may do all three; an owner may only revoke (give up) its own realm
    (``domain/permissions.py``); another account's realm is not found.
    """
    if status not in ("approved", "rejected", "revoked"):
        raise InvalidInput("status must be approved, rejected or revoked")
    if status == "rejected" and not reason.strip():
        raise InvalidInput("a rejection needs a reason")
    now = env.clock()
    with env.db.write() as session:
        realm = session.get(Realm, realm_id)
        if realm is None:
            raise NotFound(f"realm {realm_id} not found")
        permissions.require(caller, "revoke" if status == "revoked" else "approve",
                            Target("realm", owner_id=realm.account_id),
                            what=f"realm {realm_id}")
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
    if realm is None:
        raise NotFound(f"realm {realm_id} not found")
    permissions.require(caller, "see", Target("realm", owner_id=realm.account_id),
                        what=f"realm {realm_id}")
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
