"""The one decision function. Every surface asks :func:`decide`; nothing else
says yes or no to a DNS operation.

Inputs are plain frozen values built by the services from the database; the
function does no I/O, so it is cheap (a few microseconds) and exhaustively
testable.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, Literal

from dnsgate.domain import names, ownership

Operation = Literal["read", "create", "update", "delete"]
OPERATIONS: Final[tuple[Operation, ...]] = ("read", "create", "update", "delete")
RealmKind = Literal["host", "subtree", "below"]
REALM_KINDS: Final[tuple[RealmKind, ...]] = ("host", "subtree", "below")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class ZonePolicy:
    """What a zone allows anyone below the admin to do."""

    name: str
    #: The zone's row: two zones may share a name (an account's own zone and a
    #: platform zone), so a realm belongs to a zone by id, not by name.
    id: int = 0
    active: bool = True
    backend_active: bool = True
    min_depth: int = 1
    max_depth: int | None = None
    apex_allowed: bool = False
    types: frozenset[str] = frozenset()
    operations: frozenset[str] = frozenset(OPERATIONS)
    #: The account whose own backend serves the zone (bring your own DNS): only
    #: that account uses it, admins included. None: a platform zone.
    owner_id: int | None = None
    #: Labels this zone attaches to their parent besides ``ownership``'s list.
    attached_labels: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ZoneClaim:
    """A live (pending or approved) claim in a zone, as the reach rule sees it."""

    account_id: int
    name: str
    kind: RealmKind


@dataclass(frozen=True, slots=True)
class RealmScope:
    """An account's claim on part of a zone."""

    id: int
    zone: str
    name: str
    kind: RealmKind
    types: frozenset[str]
    operations: frozenset[str]
    status: str = "approved"
    zone_id: int = 0


@dataclass(frozen=True, slots=True)
class TokenScope:
    """A token's narrowing of its realm. ``None`` means "as the realm"."""

    id: str
    names: frozenset[str] | None = None
    types: frozenset[str] | None = None
    operations: frozenset[str] | None = None
    networks: tuple[Network, ...] | None = None
    not_before: datetime | None = None
    expires_at: datetime | None = None
    max_idle: timedelta | None = None
    last_used_at: datetime | None = None
    revoked: bool = False


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: an account, possibly through one of its realm tokens."""

    account_id: int
    account_active: bool
    is_admin: bool
    realms: tuple[RealmScope, ...]
    token: TokenScope | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """An answer of :func:`decide`: allowed or not, the stable code, and the row
    of the table that gave it (what ``whoami/explain`` shows)."""

    allowed: bool
    code: str
    #: Not part of equality: two decisions with the same answer and code agree.
    row: int = field(default=0, compare=False)

    def __bool__(self) -> bool:
        return self.allowed


#: Row 6: an admin account acting as itself.
ADMIN_ALLOW: Final = Decision(True, "ok", 6)
#: Row 15: a realm allows it.
ALLOW: Final = Decision(True, "ok", 15)


def _deny(code: str, row: int) -> Decision:
    return Decision(False, code, row)


def decide(
    principal: Principal,
    operation: Operation,
    zone: ZonePolicy,
    name: str,
    rtype: str,
    source_ip: Address | None,
    now: datetime,
    *,
    claims: Sequence[ZoneClaim] | None = None,
) -> Decision:
    """Decide one operation on one RRset. ``name`` is normalized and in ``zone``.

    ``claims`` are the live claims of the zone; only a write of a type that
    reaches below its owner (NS, DNAME, CAA) needs them, and without them such
    a write is refused (row 14).

    Checks run in this order; the first that fails gives the code:

    ====  ==============================================  =====================
    row   condition                                       code
    ====  ==============================================  =====================
    1     token revoked                                   token_revoked
    2     now before not-before, after expiry, or idle    token_expired
          longer than the token's max idle time
    3     account not active                              account_disabled
    4     token has CIDRs and the source IP is in none    ip_not_allowed
    5     zone or its backend is disabled                 zone_disabled
    6     principal is an admin account (no token) and    allowed
          the zone is not another account's own DNS
    7     the token's names do not include the name       name_outside_realm
    8     no realm of the principal in this zone holds    name_outside_realm
          the name (``ownership.holds``: kinds host /
          subtree / below; an attached name such as
          ``_acme-challenge.X`` is held by the realm that
          holds ``X``; a wildcard ``*.P`` of TXT, CNAME,
          TLSA or SRV, which would answer for ``P``'s
          attached names, only by a realm that holds
          ``P``)
    9     the holding realm is not approved               realm_inactive
    10    the name (an attached name: its base) breaks    zone_policy
          the zone's apex/depth policy
    11    type not allowed by zone, realm and token       type_not_allowed
    12    operation not allowed by zone, realm and token  operation_not_allowed
    13    a write of NS, DNAME or CAA by a realm that     subtree_required
          does not hold the name and everything below
          it (a ``host`` realm never does)
    14    a write of NS, DNAME or CAA with another        claim_inside
          account's claim at or below the name (or the
          zone's claims unknown)
    15    otherwise                                       allowed
    ====  ==============================================  =====================

    With several holding realms (an account acting through a session), the
    operation is allowed if any realm allows it; otherwise the code of the
    realm that got furthest down the table is returned.
    """
    return decide_by_realm(principal, operation, zone, name, rtype, source_ip, now,
                           claims=claims)[0]


def decide_by_realm(
    principal: Principal,
    operation: Operation,
    zone: ZonePolicy,
    name: str,
    rtype: str,
    source_ip: Address | None,
    now: datetime,
    *,
    claims: Sequence[ZoneClaim] | None = None,
) -> tuple[Decision, RealmScope | None]:
    """:func:`decide`, with the realm that allowed it or, for a denial, the realm
    that got furthest down the table (None when no realm was looked at)."""
    standing = credential_standing(principal, source_ip, now)
    if not standing.allowed:
        return standing, None
    token = principal.token
    if not (zone.active and zone.backend_active):
        return _deny("zone_disabled", 5), None
    if principal.is_admin and token is None and zone.owner_id in (None, principal.account_id):
        return ADMIN_ALLOW, None
    if token is not None and token.names is not None and name not in token.names:
        return _deny("name_outside_realm", 7), None

    best: Decision = _deny("name_outside_realm", 8)
    best_realm: RealmScope | None = None
    for realm in principal.realms:
        anchor = _holding_anchor(realm, zone, name, rtype)
        if anchor is None:
            continue
        decision = _decide_in_realm(realm, token, operation, zone, name, anchor, rtype,
                                    principal.account_id, claims)
        if decision.allowed:
            return decision, realm
        if decision.row > best.row:
            best, best_realm = decision, realm
    return best, best_realm


def credential_standing(principal: Principal, source_ip: Address | None,
                        now: datetime) -> Decision:
    """Rows 1-4 of :func:`decide`: may this credential be used at all right now?

    Surfaces ask this once per request (e.g. ``whoami``); ``decide`` asks it
    again for every RRset, so no path skips it.
    """
    token = principal.token
    if token is not None:
        if token.revoked:
            return _deny("token_revoked", 1)
        if _token_expired(token, now):
            return _deny("token_expired", 2)
    if not principal.account_active:
        return _deny("account_disabled", 3)
    if token is not None and token.networks is not None and not _ip_allowed(
        token.networks, source_ip
    ):
        return _deny("ip_not_allowed", 4)
    return ALLOW


def _token_expired(token: TokenScope, now: datetime) -> bool:
    if token.not_before is not None and now < token.not_before:
        return True
    if token.expires_at is not None and now >= token.expires_at:
        return True
    return (
        token.max_idle is not None
        and token.last_used_at is not None
        and now - token.last_used_at > token.max_idle
    )


def _ip_allowed(networks: tuple[Network, ...], source_ip: Address | None) -> bool:
    if source_ip is None:
        return False
    return any(source_ip in net for net in networks)


def realm_covers(realm: RealmScope, name: str, rtype: str,
                 attached_labels: frozenset[str] = frozenset()) -> bool:
    """Whether ``realm`` holds ``name`` for ``rtype``: the rule ``decide`` uses."""
    zone = ZonePolicy(name=realm.zone, id=realm.zone_id, attached_labels=attached_labels)
    return _holding_anchor(realm, zone, name, rtype) is not None


def _holding_anchor(realm: RealmScope, zone: ZonePolicy, name: str, rtype: str) -> str | None:
    """The name whose depth the zone policy judges, if ``realm`` holds ``name``.

    The name itself, or for an attached name held through its base, the base
    (``_acme-challenge`` is no extra label). Rows 7-8 of :func:`decide`.
    """
    if realm.zone_id != zone.id or realm.zone != zone.name:
        return None
    extra = zone.attached_labels
    if not extra and "_" not in name and not name.startswith("*"):
        # Nothing attached and no wildcard (every attaching label starts with
        # "_"): the claim's own cover. The hot path of machine updates.
        return name if names.claim_contains(realm.name, realm.kind, name) else None
    if names.is_wildcard(name) and ownership.wildcard_shadows(rtype):
        # *.P answers for P's attached names that do not exist: only P's holder.
        shadowed = names.parent(name)
        if not ownership.holds(realm.name, realm.kind, shadowed, zone.name, extra):
            return None
    found = ownership.attachment(name, zone.name, extra)
    if found is not None and names.claim_contains(realm.name, realm.kind, found.base):
        return found.base
    if ownership.holds(realm.name, realm.kind, name, zone.name, extra):
        return name
    return None


def _decide_in_realm(
    realm: RealmScope,
    token: TokenScope | None,
    operation: Operation,
    zone: ZonePolicy,
    name: str,
    anchor: str,
    rtype: str,
    account_id: int,
    claims: Sequence[ZoneClaim] | None,
) -> Decision:
    if realm.status != "approved":
        return _deny("realm_inactive", 9)
    depth = names.depth_below(anchor, zone.name)
    if depth == 0:
        if not zone.apex_allowed:
            return _deny("zone_policy", 10)
    elif depth < zone.min_depth or (zone.max_depth is not None and depth > zone.max_depth):
        return _deny("zone_policy", 10)
    if (
        rtype not in zone.types
        or rtype not in realm.types
        or (token is not None and token.types is not None and rtype not in token.types)
    ):
        return _deny("type_not_allowed", 11)
    if (
        operation not in zone.operations
        or operation not in realm.operations
        or (token is not None and token.operations is not None
            and operation not in token.operations)
    ):
        return _deny("operation_not_allowed", 12)
    if operation != "read" and ownership.reaches_below(rtype):
        if not ownership.holds_everything_below(realm.name, realm.kind, name):
            return _deny("subtree_required", 13)
        if claims is None or any(
                claim.account_id != account_id and names.is_at_or_below(claim.name, name)
                for claim in claims):
            return _deny("claim_inside", 14)
    return ALLOW
