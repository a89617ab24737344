"""dnsgate.domain.permissions: one test per row of decide()'s table, and a
property test against an oracle written as roles and what each role may do."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.examples import examples

from dnsgate.domain.errors import Conflict, Denied, NotFound, ZoneNotFound
from dnsgate.domain.permissions import (
    ACTIONS,
    KINDS,
    Action,
    Actor,
    Kind,
    Permission,
    Target,
    decide,
    refusal,
)

ME, OTHER = 7, 8
USER = Actor(account_id=ME)
ADMIN = Actor(account_id=ME, admin=True)
CONSOLE = Actor(account_id=None, admin=True)
TOKEN = Actor(account_id=ME, token=True)


def mine(kind: Kind, **facts: object) -> Target:
    return Target(kind, owner_id=ME, **facts)  # type: ignore[arg-type]


def others(kind: Kind, **facts: object) -> Target:
    return Target(kind, owner_id=OTHER, **facts)  # type: ignore[arg-type]


def own_dns(kind: Kind, who: int = ME) -> Target:
    return Target(kind, owner_id=who, own_dns_id=who)


def test_permission_is_truthy_only_when_allowed() -> None:
    assert Permission(True, "ok", 6)
    assert not Permission(False, "not_found", 14)


def test_row_1_a_realm_token_manages_nothing() -> None:
    for kind in KINDS:
        for action in ACTIONS:
            assert decide(TOKEN, action, mine(kind)) == Permission(False, "forbidden", 1)
    admin_token = Actor(account_id=ME, admin=True, token=True)
    assert decide(admin_token, "see", mine("realm")) == Permission(False, "forbidden", 1)


@pytest.mark.parametrize("actor", [USER, ADMIN])
@pytest.mark.parametrize("action", ["disable", "delete"])
def test_row_2_nobody_disables_or_deletes_their_own_account(actor: Actor,
                                                            action: Action) -> None:
    assert decide(actor, action, mine("account")) == Permission(False, "self_lockout", 2)
    assert decide(actor, "enable", mine("account")).code != "self_lockout"


@pytest.mark.parametrize("actor", [ADMIN, CONSOLE])
@pytest.mark.parametrize("action", ["disable", "delete"])
def test_row_3_the_last_active_admin_stays(actor: Actor, action: Action) -> None:
    last = others("account", last_admin=True)
    assert decide(actor, action, last) == Permission(False, "last_admin", 3)
    assert decide(actor, "enable", last).allowed
    assert decide(actor, action, others("account")).allowed


@pytest.mark.parametrize("actor", [USER, ADMIN, CONSOLE])
@pytest.mark.parametrize("kind", ["realm", "grant"])
def test_row_4_nothing_is_created_in_another_accounts_own_dns(actor: Actor,
                                                             kind: Kind) -> None:
    target = Target(kind, owner_id=ME, own_dns_id=OTHER)
    assert decide(actor, "create", target) == Permission(False, "zone_policy", 4)


def test_row_5_an_admin_never_changes_another_accounts_own_backend() -> None:
    theirs = own_dns("backend", OTHER)
    assert decide(ADMIN, "change", theirs) == Permission(False, "forbidden", 5)
    assert decide(CONSOLE, "change", theirs) == Permission(False, "forbidden", 5)
    for action in ("see", "disable", "enable", "delete"):
        assert decide(ADMIN, action, theirs).allowed, action
    assert decide(ADMIN, "change", own_dns("backend")).allowed  # its own
    assert decide(ADMIN, "change", Target("backend")).allowed  # a platform one


@pytest.mark.parametrize("actor", [ADMIN, CONSOLE])
def test_row_6_an_admin_does_everything_else(actor: Actor) -> None:
    for kind in KINDS:
        for action in ACTIONS:
            assert decide(actor, action, others(kind)) == Permission(True, "ok", 6), (
                kind, action)


def test_row_7_the_account_itself_sees_and_changes_itself() -> None:
    for action in ("see", "change"):
        assert decide(USER, action, mine("account")) == Permission(True, "ok", 7)
    for action in ("approve", "revoke", "enable", "create"):
        assert decide(USER, action, mine("account")) == Permission(False, "admin_required", 15)


@pytest.mark.parametrize(("kind", "actions"), [
    ("api_key", ("see", "create", "revoke")),
    ("token", ("see", "create", "revoke")),
    ("realm", ("see", "revoke")),
])
def test_row_8_an_owner_uses_its_keys_tokens_and_realms(kind: Kind,
                                                        actions: tuple[Action, ...]) -> None:
    for action in ACTIONS:
        expected = (Permission(True, "ok", 8) if action in actions
                    else Permission(False, "admin_required", 15))
        if kind == "realm" and action == "create":
            expected = Permission(True, "ok", 12)
        assert decide(USER, action, mine(kind)) == expected, action


def test_row_9_a_grant_holder_sees_its_grant() -> None:
    assert decide(USER, "see", mine("grant", grant=True)) == Permission(True, "ok", 9)
    for action in ("create", "revoke", "change", "delete"):
        assert decide(USER, action, mine("grant")) == Permission(False, "admin_required", 15)


@pytest.mark.parametrize("kind", ["backend", "zone"])
def test_row_10_the_owner_of_its_own_dns_runs_it(kind: Kind) -> None:
    for action in ("see", "create", "change", "disable", "enable", "delete"):
        assert decide(USER, action, own_dns(kind)) == Permission(True, "ok", 10), action
    assert decide(USER, "approve", own_dns(kind)) == Permission(False, "admin_required", 15)
    # acting for itself, an admin is an owner like any other
    assert decide(Actor(ME, admin=False), "change", own_dns(kind)).row == 10


def test_row_11_who_sees_a_zone() -> None:
    for target in (Target("zone"), Target("zone", visibility="invite"),
                   Target("zone", visibility="private", grant=True),
                   Target("zone", visibility="private", has_realm=True)):
        assert decide(USER, "see", target) == Permission(True, "ok", 11), target


def test_row_12_claiming_a_realm_for_oneself() -> None:
    for target in (mine("realm"), mine("realm", visibility="invite", grant=True),
                   mine("realm", visibility="private", grant=True),
                   Target("realm", owner_id=ME, own_dns_id=ME, visibility="private")):
        assert decide(USER, "create", target) == Permission(True, "ok", 12), target


def test_row_13_an_invite_or_private_zone_needs_a_grant() -> None:
    for visibility in ("invite", "private"):
        target = mine("realm", visibility=visibility, has_realm=True)
        assert decide(USER, "create", target) == Permission(False, "zone_policy", 13)


def test_row_14_what_is_another_accounts_does_not_exist_for_you() -> None:
    hidden = Permission(False, "not_found", 14)
    for kind in ("api_key", "token", "realm", "grant"):
        for action in ("see", "revoke", "approve", "change", "delete"):
            assert decide(USER, action, others(kind)) == hidden, (kind, action)
    assert decide(USER, "see", own_dns("backend", OTHER)) == hidden
    assert decide(USER, "see", Target("backend")) == hidden  # the platform's
    gone = Permission(False, "zone_not_found", 14)
    assert decide(USER, "see", own_dns("zone", OTHER)) == gone
    assert decide(USER, "change", Target("zone", visibility="private")) == gone
    # the portal's own-backend pages: an admin acting for itself sees only its own
    assert decide(Actor(ME, admin=False), "see", own_dns("backend", OTHER)) == hidden


def test_row_15_the_rest_is_for_admins() -> None:
    needs_admin = Permission(False, "admin_required", 15)
    for target, action in [
        (Target("invite"), "create"), (Target("invite"), "revoke"), (Target("setting"), "change"),
        (Target("setting"), "see"), (others("account"), "approve"), (others("account"), "revoke"),
        (others("account"), "disable"), (Target("account"), "create"),
        (others("grant"), "create"), (others("realm"), "create"), (others("api_key"), "create"),
        (Target("zone"), "change"), (Target("zone"), "create"), (Target("backend"), "create"),
        (mine("realm"), "approve"),
    ]:
        assert decide(USER, action, target) == needs_admin, (target, action)  # type: ignore[arg-type]


def test_a_refusal_raises_what_the_surfaces_map() -> None:
    def error(code: str, row: int) -> Exception:
        return refusal(Permission(False, code, row), "token abc")

    assert type(error("not_found", 14)) is NotFound
    assert type(error("zone_not_found", 14)) is ZoneNotFound
    assert isinstance(error("self_lockout", 2), Conflict)
    assert error("last_admin", 3).code == "last_admin"  # type: ignore[attr-defined]
    for code, row in (("admin_required", 15), ("forbidden", 1), ("zone_policy", 13)):
        refused = error(code, row)
        assert isinstance(refused, Denied) and refused.code == code


# --- the oracle ----------------------------------------------------------------------------

#: What each role may do with each kind, as a product owner would list it.
_MAY: dict[tuple[str, str], frozenset[str]] = {
    ("self", "account"): frozenset({"see", "change"}),
    ("owner", "api_key"): frozenset({"see", "create", "revoke"}),
    ("owner", "token"): frozenset({"see", "create", "revoke"}),
    ("owner", "realm"): frozenset({"see", "revoke"}),
    ("grant_holder", "grant"): frozenset({"see"}),
    ("byod_owner", "backend"): frozenset(
        {"see", "create", "change", "disable", "enable", "delete"}),
    ("byod_owner", "zone"): frozenset(
        {"see", "create", "change", "disable", "enable", "delete"}),
}


def oracle(actor: Actor, action: str, target: Target) -> tuple[bool, str]:
    """(allowed, code), written from roles rather than from the table's rows."""
    me = actor.account_id
    if actor.token:
        return False, "forbidden"
    roles = set()
    if actor.admin or me is None:
        roles.add("admin")
    if me is not None and target.owner_id == me:
        roles.add("self" if target.kind == "account" else "owner")
        if target.kind == "grant":
            roles.add("grant_holder")
    if me is not None and target.own_dns_id == me:
        roles.add("byod_owner")
    theirs = target.own_dns_id is not None and target.own_dns_id != me
    # limits no role lifts
    if target.kind == "account" and action in ("disable", "delete"):
        if "self" in roles:
            return False, "self_lockout"
        if target.last_admin:
            return False, "last_admin"
    if action == "create" and target.kind in ("realm", "grant") and theirs:
        return False, "zone_policy"
    if "admin" in roles:
        if target.kind == "backend" and action == "change" and theirs:
            return False, "forbidden"
        return True, "ok"
    if any(action in _MAY.get((role, target.kind), ()) for role in roles):
        return True, "ok"
    zone_seen = not theirs and (target.visibility in ("public", "invite")
                                or target.grant or target.has_realm)
    if target.kind == "zone" and action == "see" and zone_seen:
        return True, "ok"
    if target.kind == "realm" and action == "create" and "owner" in roles:
        if "byod_owner" in roles or target.visibility == "public" or target.grant:
            return True, "ok"
        return False, "zone_policy"
    if action != "create":
        if target.kind == "zone" and not zone_seen:
            return False, "zone_not_found"
        if target.kind == "backend" and "owner" not in roles:
            return False, "not_found"
        if (target.kind in ("api_key", "token", "realm", "grant")
                and target.owner_id is not None and "owner" not in roles):
            return False, "not_found"
    return False, "admin_required"


accounts = st.sampled_from([ME, OTHER])
maybe_account = st.one_of(st.none(), accounts)


@st.composite
def targets(draw: st.DrawFn) -> Target:
    kind = draw(st.sampled_from(KINDS))
    owner = draw(maybe_account)
    # a backend or zone is owned by the account whose own DNS it is
    own_dns = owner if kind in ("backend", "zone") else draw(maybe_account)
    return Target(kind, owner_id=owner, own_dns_id=own_dns,
                  visibility=draw(st.sampled_from(["public", "invite", "private"])),
                  grant=draw(st.booleans()), has_realm=draw(st.booleans()),
                  last_admin=draw(st.booleans()))


actors = st.builds(Actor, account_id=maybe_account, admin=st.booleans(), token=st.booleans())


@settings(max_examples=examples(10_000), deadline=None)
@given(actor=actors, action=st.sampled_from(ACTIONS), target=targets())
def test_the_table_agrees_with_the_oracle(actor: Actor, action: Action, target: Target) -> None:
    answer = decide(actor, action, target)
    assert (answer.allowed, answer.code) == oracle(actor, action, target)
    assert 1 <= answer.row <= 15
    assert answer.allowed == (answer.code == "ok")
