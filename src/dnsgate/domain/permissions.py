"""Who may manage what: the second decision table (the first, for DNS
operations, is :func:`dnsgate.domain.policy.decide`).

Every management action -- see, create, change, approve, revoke, disable,
enable and delete accounts, API keys, backends, zones, grants, realms,
tokens, invites and settings -- is decided by :func:`decide` from plain
frozen values the services build (who acts, what it is done to, and the few
facts about it that need the database). No I/O; the services call it, the
routes hold no rules of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from dnsgate.domain.errors import Conflict, Denied, DnsgateError, NotFound, ZoneNotFound

Action = Literal["see", "create", "change", "approve", "revoke", "disable", "enable", "delete"]
ACTIONS: Final[tuple[Action, ...]] = (
    "see", "create", "change", "approve", "revoke", "disable", "enable", "delete")
Kind = Literal["account", "api_key", "backend", "zone", "grant", "realm", "token", "invite",
               "setting"]
KINDS: Final[tuple[Kind, ...]] = (
    "account", "api_key", "backend", "zone", "grant", "realm", "token", "invite", "setting")
Visibility = Literal["public", "invite", "private"]

#: What an owner does with its own things (rows 8-9).
_OWNED: Final[dict[Kind, frozenset[Action]]] = {
    "api_key": frozenset({"see", "create", "revoke"}),
    "token": frozenset({"see", "create", "revoke"}),
    "realm": frozenset({"see", "revoke"}),  # creating one is rows 12-13
    "grant": frozenset({"see"}),
}
#: What the owner of its own DNS does with its backends and their zones (row 10).
_OWN_DNS: Final = frozenset({"see", "create", "change", "disable", "enable", "delete"})


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts.

    ``admin``: an admin account using its admin powers here (False for an
    admin on a surface where it acts for itself only, such as the portal's
    own-backend pages). ``account_id`` None: the operator at the console.
    ``token``: through a realm token, a machine credential.
    """

    account_id: int | None
    admin: bool = False
    token: bool = False


@dataclass(frozen=True, slots=True)
class Target:
    """What is acted on, with the facts about it the table needs.

    ``owner_id``: the account the object belongs to (an account: itself; an
    API key, token, realm or grant: its account; a backend or zone: the
    account whose own DNS it is). None: the platform's, or nobody's.
    ``own_dns_id``: the account whose own backend is the object, serves it,
    or serves the zone it lies in. None: a platform one.
    ``visibility``, ``grant`` and ``has_realm`` describe the zone the object
    is (or lies in) as seen by the actor: its visibility, whether the actor
    holds a live grant on it, and whether the actor holds a realm in it.
    ``last_admin``: an account that is the last active admin.
    """

    kind: Kind
    owner_id: int | None = None
    own_dns_id: int | None = None
    visibility: Visibility = "public"
    grant: bool = False
    has_realm: bool = False
    last_admin: bool = False


@dataclass(frozen=True, slots=True)
class Permission:
    """An answer of :func:`decide`: allowed or not, a stable code, and its row."""

    allowed: bool
    code: str
    row: int

    def __bool__(self) -> bool:
        return self.allowed


def _yes(row: int) -> Permission:
    return Permission(True, "ok", row)


def _no(code: str, row: int) -> Permission:
    return Permission(False, code, row)


def decide(actor: Actor, action: Action, target: Target) -> Permission:
    """May ``actor`` take ``action`` on ``target``? The first row that matches decides:

    ====  ==========================================================  ==============
    row   who, doing what                                             answer
    ====  ==========================================================  ==============
    1     a realm token, anything (machines manage nothing)           forbidden
    2     anyone disabling or deleting their own account (an admin    self_lockout
          too, through any credential)
    3     anyone disabling or deleting the last active admin          last_admin
    4     anyone creating a realm or a grant in a zone of another     zone_policy
          account's own DNS (admins too: its zones are its own)
    5     an admin (or the console) changing another account's own    forbidden
          backend (its configuration: a new URL would carry the
          stored secret)
    6     an admin, or the operator at the console: anything else     allowed
    7     the account itself: see or change its own account           allowed
    8     the owner: see, create or revoke its API keys and tokens;   allowed
          see or revoke (give up) its realms
    9     the grant holder: see its grant                             allowed
    10    the owner of its own DNS: see, create, change, disable,     allowed
          enable or delete its backends and the zones they serve
    11    anyone: see a public or invite zone, or a private zone      allowed
          where they hold a grant or a realm
    12    anyone claiming a realm for themselves in a zone of their   allowed
          own DNS, a public zone, or a zone where they hold a grant
    13    anyone claiming a realm for themselves in an invite or      zone_policy
          private zone without a grant
    14    anything but creating, on another account's API key,       not_found
          token, realm or grant, a backend not one's own, or a zone   (zone_not_found
          one may not see (another's own DNS; a private zone          for a zone)
          without a grant or realm): it does not exist for you
    15    otherwise (an admin's action)                               admin_required
    ====  ==========================================================  ==============

    The actions: ``approve`` also rejects (a pending realm, a pending
    account); ``revoke`` on an account resets its second factor.
    """
    me = actor.account_id
    kind = target.kind
    admin = actor.admin or me is None  # the console is the operator
    if actor.token:
        return _no("forbidden", 1)
    if kind == "account" and action in ("disable", "delete"):
        if me is not None and target.owner_id == me:
            return _no("self_lockout", 2)
        if target.last_admin:
            return _no("last_admin", 3)
    foreign_dns = target.own_dns_id is not None and target.own_dns_id != me
    if kind in ("realm", "grant") and action == "create" and foreign_dns:
        return _no("zone_policy", 4)
    if admin and kind == "backend" and action == "change" and foreign_dns:
        return _no("forbidden", 5)
    if admin:
        return _yes(6)
    mine = target.owner_id == me
    if kind == "account" and mine and action in ("see", "change"):
        return _yes(7)
    if kind in ("api_key", "token", "realm") and mine and action in _OWNED[kind]:
        return _yes(8)
    if kind == "grant" and mine and action in _OWNED[kind]:
        return _yes(9)
    if kind in ("backend", "zone") and target.own_dns_id == me and action in _OWN_DNS:
        return _yes(10)
    visible = not foreign_dns and (
        target.visibility != "private" or target.grant or target.has_realm)
    if kind == "zone" and action == "see" and visible:
        return _yes(11)
    if kind == "realm" and action == "create" and mine:
        if target.own_dns_id == me or target.visibility == "public" or target.grant:
            return _yes(12)
        return _no("zone_policy", 13)
    if action != "create" and (
            (kind in _OWNED and target.owner_id is not None and not mine)
            or (kind == "backend" and not mine) or (kind == "zone" and not visible)):
        return _no("zone_not_found" if kind == "zone" else "not_found", 14)
    return _no("admin_required", 15)


#: A refusal in words, by row (rows 2-3 and 14 name the object instead).
_WORDS: Final[dict[int, str]] = {
    1: "a realm token manages nothing",
    4: "this zone is another account's own DNS; only its owner uses it",
    5: "only its owner changes an account's own backend",
    13: "this zone needs a grant from an admin",
    15: "this needs an admin account",
}


def refusal(permission: Permission, what: str) -> DnsgateError:
    """The error a refused ``permission`` raises; ``what`` names the object
    ("token abc"). Hidden objects read as not found, lockouts as conflicts."""
    code = permission.code
    if code == "zone_not_found":
        return ZoneNotFound(f"{what} not found")
    if code == "not_found":
        return NotFound(f"{what} not found")
    if code in ("self_lockout", "last_admin"):
        return Conflict(f"{what}: {code.replace('_', ' ')}", code=code)
    return Denied(_WORDS.get(permission.row, f"{what}: not allowed"), code=code)
