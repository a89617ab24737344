"""Zones offered to accounts: adding them from a backend, their policy, who sees them."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dnsgate.backends.base import ZoneDefaults
from dnsgate.backends.registry import BUILTIN
from dnsgate.db.models import Backend, Grant, Realm, Zone, table_of
from dnsgate.db.raw import Raw
from dnsgate.domain import names
from dnsgate.domain.errors import Conflict, InvalidInput, NotFound, ZoneNotFound
from dnsgate.domain.policy import OPERATIONS, ZonePolicy
from dnsgate.domain.records import WRITABLE_TYPES
from dnsgate.services import audit
from dnsgate.services.context import Caller, Env, RequestContext, ZoneInfo

DEFAULT_TYPES = ("A", "AAAA", "CNAME", "TXT", "MX", "SRV", "CAA")
VISIBILITIES = ("public", "private", "invite")
APPROVALS = ("auto", "admin")
_Z = table_of(Zone)
_B = table_of(Backend)

ZONE_COLUMNS = (
    _Z.c.id, _Z.c.name, _Z.c.status, _Z.c.visibility, _Z.c.approval, _Z.c.min_depth,
    _Z.c.max_depth, _Z.c.apex_allowed, _Z.c.allowed_types, _Z.c.allowed_ops,
    _Z.c.realm_quota, _Z.c.ttl_min, _Z.c.ttl_max, _Z.c.default_ttl, _Z.c.backend_id,
    _B.c.name.label("backend_name"), _B.c.provider, _B.c.status.label("backend_status"),
    _B.c.owner_account_id.label("backend_owner_id"), _Z.c.attached_labels,
)


ZONE_KEYS = ("id", "name", "status", "visibility", "approval", "min_depth", "max_depth",
             "apex_allowed", "allowed_types", "allowed_ops", "realm_quota", "ttl_min",
             "ttl_max", "default_ttl", "backend_id", "backend_name", "provider",
             "backend_status", "backend_owner_id", "attached_labels")


def zone_info_from_row(row: Any, raw: Raw | None = None) -> ZoneInfo:
    """A ZoneInfo from a mapping with ``ZONE_KEYS`` (a ``ZONE_COLUMNS`` row, or a
    hand-written query's row, whose JSON ``raw`` decodes)."""
    m = row._mapping if hasattr(row, "_mapping") else row
    types, ops, attached = m["allowed_types"], m["allowed_ops"], m["attached_labels"]
    if raw is not None:
        types, ops, attached = (raw.json_set(types), raw.json_set(ops),
                                raw.json_set(attached))
    return ZoneInfo(
        id=m["id"], name=m["name"], backend_id=m["backend_id"],
        backend_name=m["backend_name"], provider=m["provider"],
        visibility=m["visibility"], approval=m["approval"], realm_quota=m["realm_quota"],
        ttl_min=m["ttl_min"], ttl_max=m["ttl_max"], default_ttl=m["default_ttl"],
        policy=ZonePolicy(
            name=m["name"], id=m["id"], active=m["status"] == "active",
            backend_active=m["backend_status"] == "active",
            min_depth=m["min_depth"], max_depth=m["max_depth"],
            apex_allowed=bool(m["apex_allowed"]), types=frozenset(types),
            operations=frozenset(ops), owner_id=m["backend_owner_id"],
            attached_labels=frozenset(attached or ()),
        ),
    )


def find_zone(session: Session, zone: str, *, owner_id: int | None = None) -> ZoneInfo:
    """The platform zone named ``zone`` (normalized), or ZoneNotFound.

    With ``owner_id``, that account's own zone of the name comes first: an
    account's own zone is seen by name by its owner alone, and never shadows
    the platform zone for anyone else.
    """
    owners = (_Z.c.owner_account_id.is_(None) if owner_id is None
              else _Z.c.owner_account_id.is_(None) | (_Z.c.owner_account_id == owner_id))
    rows = session.execute(
        select(*ZONE_COLUMNS).join(_B, _B.c.id == _Z.c.backend_id)
        .where(_Z.c.name == zone, owners)
        .order_by(_Z.c.owner_account_id.is_(None))  # own (False) before platform (True)
    ).all()
    if not rows:
        raise ZoneNotFound(f"zone {zone} not found")
    return zone_info_from_row(rows[0])


def find_zone_by_id(session: Session, zone_id: int) -> ZoneInfo:
    """The zone with row id ``zone_id``, or ZoneNotFound."""
    row = session.execute(
        select(*ZONE_COLUMNS).join(_B, _B.c.id == _Z.c.backend_id).where(_Z.c.id == zone_id)
    ).one_or_none()
    if row is None:
        raise ZoneNotFound(f"zone {zone_id} not found")
    return zone_info_from_row(row)


def platform_zone_covering(session: Session, name: str) -> str | None:
    """The platform zone at or above ``name``, if any (an account's own zone
    may not take a name the platform serves)."""
    rows = session.scalars(select(Zone.name).where(Zone.owner_account_id.is_(None)))
    for zone in rows:
        if names.is_at_or_below(name, zone):
            return zone
    return None


def normalize_zone(text: str) -> str:
    """A zone name from user input; an unusable name is a zone nobody can see."""
    try:
        return names.normalize(text, allow_wildcard=False)
    except InvalidInput as exc:
        raise ZoneNotFound(f"zone {text!r} not found") from exc


def has_grant(session: Session, zone_id: int, account_id: int, now: Any) -> Grant | None:
    grant = session.scalars(select(Grant).where(
        Grant.zone_id == zone_id, Grant.account_id == account_id,
        Grant.revoked_at.is_(None))).first()
    if grant is None or (grant.expires_at is not None and grant.expires_at <= now):
        return None
    return grant


def may_see(session: Session, caller: Caller, zone: ZoneInfo, now: Any) -> bool:
    """Whether a caller may see a zone at all (404 otherwise).

    Tokens see their realm's zone; admins see every zone; an account's own
    zone (bring your own DNS) is seen by that account alone (and admins); other
    accounts see public and invite zones (requesting a realm in an invite zone
    needs a grant), private zones they hold a grant for, and zones where they
    have a realm.
    """
    if caller.principal.token is not None:
        return caller.token_zone is not None and caller.token_zone.id == zone.id
    owner = zone.policy.owner_id
    if owner is not None:
        return caller.is_admin or caller.account_id == owner
    if caller.is_admin:
        return True
    if any(r.zone == zone.name for r in caller.principal.realms):
        return True
    if zone.visibility in ("public", "invite"):
        return True
    return has_grant(session, zone.id, caller.account_id, now) is not None


def visible_zones(session: Session, caller: Caller, now: Any) -> list[ZoneInfo]:
    """Zones a caller may see, by name."""
    rows = session.execute(
        select(*ZONE_COLUMNS).join(_B, _B.c.id == _Z.c.backend_id).order_by(_Z.c.name))
    return [z for z in map(zone_info_from_row, rows) if may_see(session, caller, z, now)]


@dataclass(frozen=True, slots=True)
class PolicyUpdate:
    """Optional fields of a zone's policy; None leaves a field as it is."""

    visibility: str | None = None
    approval: str | None = None
    status: str | None = None
    min_depth: int | None = None
    max_depth: int | None = None
    clear_max_depth: bool = False
    apex_allowed: bool | None = None
    types: list[str] | None = None
    operations: list[str] | None = None
    realm_quota: int | None = None
    clear_realm_quota: bool = False
    ttl_min: int | None = None
    ttl_max: int | None = None
    default_ttl: int | None = None
    attached_labels: list[str] | None = None


def _apply_policy(zone: Zone, update: PolicyUpdate) -> None:
    if update.visibility is not None:
        _one_of("visibility", update.visibility, VISIBILITIES)
        zone.visibility = update.visibility
    if update.approval is not None:
        _one_of("approval", update.approval, APPROVALS)
        zone.approval = update.approval
    if update.status is not None:
        _one_of("status", update.status, ("active", "disabled"))
        zone.status = update.status
    if update.min_depth is not None:
        zone.min_depth = update.min_depth
    if update.clear_max_depth:
        zone.max_depth = None
    elif update.max_depth is not None:
        zone.max_depth = update.max_depth
    if update.apex_allowed is not None:
        zone.apex_allowed = update.apex_allowed
    if update.types is not None:
        zone.allowed_types = parse_types(update.types)
    if update.operations is not None:
        zone.allowed_ops = parse_operations(update.operations)
    if update.clear_realm_quota:
        zone.realm_quota = None
    elif update.realm_quota is not None:
        zone.realm_quota = update.realm_quota
    if update.attached_labels is not None:
        zone.attached_labels = parse_attached_labels(update.attached_labels)
    for field in ("ttl_min", "ttl_max", "default_ttl"):
        value = getattr(update, field)
        if value is not None:
            setattr(zone, field, value)
    if zone.min_depth < 1:
        raise InvalidInput("min_depth must be at least 1 (use apex_allowed for the apex)")
    if zone.max_depth is not None and zone.max_depth < zone.min_depth:
        raise InvalidInput("max_depth must be at least min_depth")
    if not 0 <= zone.ttl_min <= zone.default_ttl <= zone.ttl_max:
        raise InvalidInput("TTLs must satisfy 0 <= ttl_min <= default_ttl <= ttl_max")
    if zone.realm_quota is not None and zone.realm_quota < 0:
        raise InvalidInput("realm_quota must not be negative")


def _one_of(field: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InvalidInput(f"{field} must be one of {', '.join(allowed)}")


def parse_types(values: list[str]) -> list[str]:
    """Validate a list of record types (upper-cased, de-duplicated, sorted)."""
    out = sorted({v.strip().upper() for v in values})
    unknown = [t for t in out if t not in WRITABLE_TYPES]
    if unknown:
        raise InvalidInput(f"unsupported record types: {', '.join(unknown)}")
    return out


def parse_attached_labels(values: list[str]) -> list[str]:
    """Validate labels a zone attaches to their parent (``_name``, as DNS spells
    service labels), lower-cased, de-duplicated and sorted."""
    out: set[str] = set()
    for value in values:
        label = names.normalize(value, allow_wildcard=False) if isinstance(value, str) else ""
        if "." in label or not label.startswith("_") or len(label) < 2:
            raise InvalidInput(f"attached labels are single labels starting with '_': "
                               f"{value!r}")
        out.add(label)
    return sorted(out)


def parse_operations(values: list[str]) -> list[str]:
    """Validate a list of operations (read/create/update/delete), in canonical order."""
    wanted = {v.strip().lower() for v in values}
    unknown = sorted(wanted - set(OPERATIONS))
    if unknown:
        raise InvalidInput(f"unknown operations: {', '.join(unknown)}")
    return [op for op in OPERATIONS if op in wanted]


async def add_zone(
    env: Env, ctx: RequestContext, *, caller: Caller | None, zone: str, backend: str,
    policy: PolicyUpdate | None = None, create: bool | None = None,
) -> ZoneInfo:
    """Offer a zone of a backend to accounts.

    On the built-in backend a zone that does not exist yet is created with
    SOA/NS defaults; on other backends the zone must exist there. An
    account's own backend (bring your own DNS) is used by that account alone.
    """
    name = names.normalize(zone, allow_wildcard=False)
    with env.db.read() as session:
        found = session.execute(select(Backend.id, Backend.provider, Backend.owner_account_id)
                                .where(Backend.name == backend)).one_or_none()
    if found is None or (found.owner_account_id is not None and (
            caller is None or caller.account_id != found.owner_account_id)):
        raise NotFound(f"backend {backend!r} not found")
    if found.provider != BUILTIN:
        await _require_upstream_zone(env, found.id, backend, name)
    now = env.clock()
    with env.db.write() as session:
        backend_row = session.scalars(select(Backend).where(Backend.name == backend)).first()
        if backend_row is None:
            raise NotFound(f"backend {backend!r} not found")
        owner_id = backend_row.owner_account_id
        same = select(Zone.id).where(Zone.name == name, Zone.owner_account_id.is_(None)
                                     if owner_id is None else Zone.owner_account_id == owner_id)
        if session.scalars(same).first() is not None:
            raise Conflict(f"zone {name} already exists")
        if owner_id is not None and platform_zone_covering(session, name) is not None:
            raise Conflict(f"{name} is served by the platform; an account's own DNS cannot "
                           "take a platform name")
        row = Zone(name=name, backend_id=backend_row.id, owner_account_id=owner_id,
                   allowed_types=list(DEFAULT_TYPES), allowed_ops=list(OPERATIONS),
                   attached_labels=[], created_at=now)
        session.add(row)
        session.flush()  # the model's column defaults are the one source of defaults
        _apply_policy(row, policy or PolicyUpdate())
        if backend_row.provider == BUILTIN:
            builtin = env.backends.builtin()
            if not builtin.has_zone_in(session, name):
                if create is False:
                    raise NotFound(f"zone {name} does not exist on backend {backend}")
                builtin.create_zone_in(session, name, ZoneDefaults(
                    nameservers=(f"ns1.{name}",), hostmaster=f"hostmaster.{name}"))
        session.flush()
        audit.record(session, ctx, caller=caller, action="zone.add", when=now, zone=name,
                     target=f"zone:{row.id}", details={"backend": backend})
        return find_zone_by_id(session, row.id)


async def _require_upstream_zone(env: Env, backend_id: int, backend: str, zone: str) -> None:
    """A provider's zone must exist there (dnsgate does not create zones at providers).

    Providers that list zones are asked for the list; the others must at
    least let us read the zone.
    """
    adapter = env.backends.get(backend_id)
    if adapter.capabilities.list_zones:
        if zone not in await adapter.zones():
            raise NotFound(f"zone {zone} does not exist on backend {backend}")
        return
    await adapter.read(zone, zone)


def update_zone(
    env: Env, ctx: RequestContext, *, caller: Caller | None, zone: str, update: PolicyUpdate,
) -> ZoneInfo:
    """Change a zone's policy; takes effect on the next request."""
    name = normalize_zone(zone)
    now = env.clock()
    with env.db.write() as session:
        row = session.scalars(select(Zone).where(
            Zone.name == name, Zone.owner_account_id.is_(None))).first()
        if row is None:
            raise ZoneNotFound(f"zone {name} not found")
        _apply_policy(row, update)
        session.flush()
        audit.record(session, ctx, caller=caller, action="zone.update", when=now, zone=name,
                     target=f"zone:{row.id}", details=_changed_fields(update))
        return find_zone_by_id(session, row.id)


def _changed_fields(update: PolicyUpdate) -> Mapping[str, Any]:
    return {f.name: getattr(update, f.name) for f in dataclasses.fields(update)
            if getattr(update, f.name) not in (None, False)}


def zone_realm_count(session: Session, zone_id: int, account_id: int) -> int:
    """Live (pending or approved) realms an account holds in a zone."""
    return len(session.scalars(select(Realm.id).where(
        Realm.zone_id == zone_id, Realm.account_id == account_id,
        Realm.status.in_(("pending", "approved")))).all())
