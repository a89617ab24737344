"""The one decision function. Every surface asks :func:`decide`; nothing else
says yes or no to a DNS operation.

Inputs are plain frozen values built by the services from the database; the
function does no I/O, so it is cheap (a few microseconds) and exhaustively
testable.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from dnsgate.domain import names

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
    allowed: bool
    code: str

    def __bool__(self) -> bool:
        return self.allowed


ALLOW: Final = Decision(True, "ok")


def _deny(code: str) -> Decision:
    return Decision(False, code)


def decide(
    principal: Principal,
    operation: Operation,
    zone: ZonePolicy,
    name: str,
    rtype: str,
    source_ip: Address | None,
    now: datetime,
) -> Decision:
    """Decide one operation on one RRset. ``name`` is normalized and in ``zone``.

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
    7     no realm of the principal in this zone covers   name_outside_realm
          the name (kinds: host / subtree / below; a
          ``host`` realm allowing TXT also covers TXT at
          ``_acme-challenge.<name>``), or the token's
          names do not include it
    8     the covering realm is not approved              realm_inactive
    9     the name breaks the zone's apex/depth policy    zone_policy
    10    type not allowed by zone, realm and token       type_not_allowed
    11    operation not allowed by zone, realm and token  operation_not_allowed
    ====  ==============================================  =====================

    With several covering realms (an account acting through a session), the
    operation is allowed if any realm allows it; otherwise the code of the
    realm that got furthest down the table is returned.
    """
    standing = credential_standing(principal, source_ip, now)
    if not standing.allowed:
        return standing
    token = principal.token
    if not (zone.active and zone.backend_active):
        return _deny("zone_disabled")
    if principal.is_admin and token is None and zone.owner_id in (None, principal.account_id):
        return ALLOW
    if token is not None and token.names is not None and name not in token.names:
        return _deny("name_outside_realm")

    best: Decision = _deny("name_outside_realm")
    best_rank = 0
    for realm in principal.realms:
        anchor = _covering_anchor(realm, zone.name, name, rtype)
        if anchor is None:
            continue
        decision, rank = _decide_in_realm(realm, token, operation, zone, anchor, rtype)
        if decision.allowed:
            return decision
        if rank > best_rank:
            best, best_rank = decision, rank
    return best


def credential_standing(principal: Principal, source_ip: Address | None,
                        now: datetime) -> Decision:
    """Rows 1-4 of :func:`decide`: may this credential be used at all right now?

    Surfaces ask this once per request (e.g. ``whoami``); ``decide`` asks it
    again for every RRset, so no path skips it.
    """
    token = principal.token
    if token is not None:
        if token.revoked:
            return _deny("token_revoked")
        if _token_expired(token, now):
            return _deny("token_expired")
    if not principal.account_active:
        return _deny("account_disabled")
    if token is not None and token.networks is not None and not _ip_allowed(
        token.networks, source_ip
    ):
        return _deny("ip_not_allowed")
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


def realm_covers(realm: RealmScope, name: str, rtype: str) -> bool:
    """Whether ``name`` lies in ``realm`` for ``rtype``: the rule ``decide`` uses."""
    return _covering_anchor(realm, realm.zone, name, rtype) is not None


def _covering_anchor(realm: RealmScope, zone: str, name: str, rtype: str) -> str | None:
    """The name whose depth the zone policy judges, if ``realm`` covers ``name``.

    Usually the name itself; for the DNS-01 TXT of a ``host`` realm it is the
    host, so ``_acme-challenge`` does not count as an extra label.
    """
    if realm.zone != zone:
        return None
    if names.claim_contains(realm.name, realm.kind, name):
        return name
    if (
        realm.kind == "host"
        and rtype == "TXT"
        and "TXT" in realm.types
        and name == names.acme_challenge_of(realm.name)
    ):
        return realm.name
    return None


def _decide_in_realm(
    realm: RealmScope,
    token: TokenScope | None,
    operation: Operation,
    zone: ZonePolicy,
    anchor: str,
    rtype: str,
) -> tuple[Decision, int]:
    if realm.status != "approved":
        return _deny("realm_inactive"), 1
    depth = names.depth_below(anchor, zone.name)
    if depth == 0:
        if not zone.apex_allowed:
            return _deny("zone_policy"), 2
    elif depth < zone.min_depth or (zone.max_depth is not None and depth > zone.max_depth):
        return _deny("zone_policy"), 2
    if (
        rtype not in zone.types
        or rtype not in realm.types
        or (token is not None and token.types is not None and rtype not in token.types)
    ):
        return _deny("type_not_allowed"), 3
    if (
        operation not in zone.operations
        or operation not in realm.operations
        or (token is not None and token.operations is not None
            and operation not in token.operations)
    ):
        return _deny("operation_not_allowed"), 4
    return ALLOW, 5
