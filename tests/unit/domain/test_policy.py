"""dnsgate.domain.policy: decide(), one test per row of its table, and properties."""

from __future__ import annotations

import dataclasses
import ipaddress
import itertools
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from adversarial_names import (
    ACME,
    RELATION,
    SEEDS,
    Spelled,
    dns_name,
    mixed_rng,
    oracle_base_and_root,
    oracle_claim_contains,
    oracle_holds,
    relate,
    spell,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.examples import examples

from dnsgate.domain import names
from dnsgate.domain.errors import InvalidName
from dnsgate.domain.policy import (
    ALLOW,
    OPERATIONS,
    REALM_KINDS,
    Decision,
    Principal,
    RealmScope,
    TokenScope,
    ZoneClaim,
    ZonePolicy,
    credential_standing,
    decide,
)

MANY = settings(max_examples=examples(10_000), deadline=None)

ZONE = "example.test"
HOME = "home.example.test"
NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
IP = ipaddress.ip_address("192.0.2.10")
TYPES = frozenset({"A", "AAAA", "TXT", "CNAME"})
OPS = frozenset(OPERATIONS)
CODES = {
    "ok", "token_revoked", "token_expired", "account_disabled", "ip_not_allowed",
    "zone_disabled", "name_outside_realm", "realm_inactive", "zone_policy",
    "type_not_allowed", "operation_not_allowed", "subtree_required", "claim_inside",
}


def zone_policy(**changes: object) -> ZonePolicy:
    return dataclasses.replace(ZonePolicy(name=ZONE, types=TYPES), **changes)


def realm_scope(name: str = HOME, kind: str = "subtree", **changes: object) -> RealmScope:
    realm = RealmScope(id=1, zone=ZONE, name=name, kind=kind,
                       types=TYPES, operations=OPS)
    return dataclasses.replace(realm, **changes)


def token_scope(**changes: object) -> TokenScope:
    return dataclasses.replace(TokenScope(id="abcdefghijklmnop"), **changes)


def principal(
    *realms: RealmScope, token: TokenScope | None = None, **changes: object
) -> Principal:
    who = Principal(account_id=7, account_active=True, is_admin=False,
                    realms=realms or (realm_scope(),), token=token)
    return dataclasses.replace(who, **changes)


def ask(
    who: Principal,
    *,
    operation: str = "update",
    zone: ZonePolicy | None = None,
    name: str = HOME,
    rtype: str = "A",
    source_ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None = IP,
    now: datetime = NOW,
) -> Decision:
    return decide(who, operation, zone or zone_policy(), name, rtype,
                  source_ip, now)


def test_decision_is_truthy_only_when_allowed() -> None:
    assert Decision(True, "ok") == ALLOW
    assert bool(Decision(True, "ok"))
    assert not bool(Decision(False, "zone_policy"))


def test_the_baseline_request_is_allowed() -> None:
    # Every row test below changes one thing in this request.
    assert ask(principal(token=token_scope())) == ALLOW
    assert ask(principal()) == ALLOW


# -- row 1 ----------------------------------------------------------------


def test_row_1_revoked_token() -> None:
    assert ask(principal(token=token_scope(revoked=True))) == Decision(False, "token_revoked")


# -- row 2 ----------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        token_scope(not_before=NOW + timedelta(seconds=1)),
        token_scope(expires_at=NOW),  # expiry is exclusive
        token_scope(expires_at=NOW - timedelta(days=1)),
        token_scope(max_idle=timedelta(hours=1),
                    last_used_at=NOW - timedelta(hours=1, microseconds=1)),
    ],
    ids=["not-yet-valid", "expires-now", "expired", "idle-too-long"],
)
def test_row_2_expired_token(token: TokenScope) -> None:
    assert ask(principal(token=token)) == Decision(False, "token_expired")


@pytest.mark.parametrize(
    "token",
    [
        token_scope(not_before=NOW),
        token_scope(expires_at=NOW + timedelta(microseconds=1)),
        token_scope(max_idle=timedelta(hours=1), last_used_at=NOW - timedelta(hours=1)),
        token_scope(max_idle=timedelta(seconds=1), last_used_at=None),  # never used yet
        token_scope(not_before=NOW - timedelta(days=1), expires_at=NOW + timedelta(days=1)),
    ],
    ids=["valid-from-now", "expires-later", "idle-exactly-max", "never-used", "window"],
)
def test_row_2_boundaries_that_still_pass(token: TokenScope) -> None:
    assert ask(principal(token=token)) == ALLOW


# -- row 3 ----------------------------------------------------------------


@pytest.mark.parametrize("token", [None, token_scope()], ids=["session", "token"])
def test_row_3_disabled_account(token: TokenScope | None) -> None:
    who = principal(token=token, account_active=False)
    assert ask(who) == Decision(False, "account_disabled")


def test_row_3_applies_to_admins_too() -> None:
    who = principal(is_admin=True, account_active=False)
    assert ask(who) == Decision(False, "account_disabled")


# -- row 4 ----------------------------------------------------------------

NETS = (ipaddress.ip_network("198.51.100.0/24"), ipaddress.ip_network("2001:db8::/32"))


@pytest.mark.parametrize(
    ("networks", "source_ip"),
    [
        (NETS, IP),
        (NETS, None),
        ((), IP),  # an empty list allows no address at all
        (NETS, ipaddress.ip_address("2001:db9::1")),
        (NETS, ipaddress.ip_address("198.51.101.1")),
    ],
)
def test_row_4_source_ip_not_allowed(
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...],
    source_ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None,
) -> None:
    who = principal(token=token_scope(networks=networks))
    assert ask(who, source_ip=source_ip) == Decision(False, "ip_not_allowed")


@pytest.mark.parametrize("source_ip", ["198.51.100.7", "198.51.100.255", "2001:db8:ff::1"])
def test_row_4_source_ip_inside_a_network(source_ip: str) -> None:
    who = principal(token=token_scope(networks=NETS))
    assert ask(who, source_ip=ipaddress.ip_address(source_ip)) == ALLOW


def test_row_4_no_networks_means_any_address() -> None:
    assert ask(principal(token=token_scope()), source_ip=None) == ALLOW


# -- row 5 ----------------------------------------------------------------


@pytest.mark.parametrize("change", [{"active": False}, {"backend_active": False}])
@pytest.mark.parametrize("is_admin", [False, True])
def test_row_5_zone_or_backend_disabled(change: dict[str, bool], is_admin: bool) -> None:
    who = principal(is_admin=is_admin)
    assert ask(who, zone=zone_policy(**change)) == Decision(False, "zone_disabled")


# -- row 6 ----------------------------------------------------------------


def test_row_6_admin_session_may_do_what_no_realm_allows() -> None:
    who = principal(is_admin=True, realms=())
    strict = zone_policy(types=frozenset(), operations=frozenset(), min_depth=9)
    assert ask(who, zone=strict, name=ZONE, rtype="MX", operation="delete") == ALLOW


def test_row_6_admin_through_a_token_is_held_to_the_realm() -> None:
    who = principal(token=token_scope(), is_admin=True)
    assert ask(who, name="www.example.test") == Decision(False, "name_outside_realm")
    assert ask(who) == ALLOW


# -- row 7 ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "name", "rtype", "covered"),
    [
        ("host", HOME, "A", True),
        ("host", "www.home.example.test", "A", False),
        ("host", "example.test", "A", False),
        ("host", "xhome.example.test", "A", False),
        ("host", "*.home.example.test", "A", False),
        ("host", f"{ACME}.{HOME}", "TXT", True),
        ("host", f"{ACME}.{HOME}", "A", True),  # an attached name of the host, any type
        ("host", f"{ACME}.www.{HOME}", "TXT", False),
        ("host", f"{ACME}.{ACME}.{HOME}", "TXT", True),  # attachments nest
        ("host", f"{ACME}.xhome.example.test", "TXT", False),
        ("subtree", HOME, "A", True),
        ("subtree", "a.b.home.example.test", "A", True),
        ("subtree", "*.home.example.test", "A", True),
        ("subtree", "xhome.example.test", "A", False),
        ("subtree", "homex.example.test", "A", False),
        ("subtree", "example.test", "A", False),
        ("below", HOME, "A", False),
        ("below", "www.home.example.test", "A", True),
        ("below", "*.home.example.test", "A", True),  # a wildcard is a name below
        ("below", f"{ACME}.{HOME}", "TXT", False),  # it governs HOME, not below it
        ("below", "a.xhome.example.test", "A", False),
    ],
)
def test_row_7_realm_kinds(kind: str, name: str, rtype: str, covered: bool) -> None:
    who = principal(realm_scope(kind=kind), token=token_scope())
    expected = ALLOW if covered else Decision(False, "name_outside_realm")
    assert ask(who, name=name, rtype=rtype, zone=zone_policy(max_depth=4)) == expected


def test_row_11_attached_names_of_a_host_keep_the_realm_types() -> None:
    realm = realm_scope(kind="host", types=frozenset({"A", "AAAA"}))
    who = principal(realm, token=token_scope())
    assert ask(who, name=f"{ACME}.{HOME}", rtype="TXT") == Decision(False, "type_not_allowed")


@pytest.mark.parametrize("attached", [f"{ACME}.{HOME}", f"_dmarc.{HOME}",
                                      f"s1._domainkey.{HOME}", f"_443._tcp.{HOME}"])
def test_row_8_a_host_realm_holds_its_attached_names(attached: str) -> None:
    who = principal(realm_scope(kind="host"), token=token_scope())
    assert ask(who, name=attached, rtype="TXT") == ALLOW
    below = principal(realm_scope(kind="below"), token=token_scope())
    assert ask(below, name=attached, rtype="TXT").code == "name_outside_realm"


def test_row_8_a_claim_on_an_attached_name_holds_it_not_its_base() -> None:
    who = principal(realm_scope(name=f"{ACME}.{HOME}", kind="host"), token=token_scope())
    assert ask(who, name=f"{ACME}.{HOME}", rtype="TXT", zone=zone_policy(max_depth=3)) == ALLOW
    assert ask(who, name=HOME, rtype="TXT").code == "name_outside_realm"


@pytest.mark.parametrize(("rtype", "allowed"), [("TXT", False), ("CNAME", False),
                                                ("A", True), ("AAAA", True)])
def test_row_8_a_wildcard_that_answers_for_attached_names_needs_the_parent(
        rtype: str, allowed: bool) -> None:
    # *.HOME TXT would answer _acme-challenge.HOME: a certificate for HOME.
    who = principal(realm_scope(kind="below"), token=token_scope())
    assert ask(who, name=f"*.{HOME}", rtype=rtype).allowed is allowed
    assert ask(who, name=f"*.lab.{HOME}", rtype=rtype, zone=zone_policy(max_depth=4)) == ALLOW


ZONE_NS = zone_policy(types=TYPES | {"NS", "CAA", "DNAME"})


def test_row_13_a_host_realm_never_writes_ns_dname_or_caa() -> None:
    who = principal(realm_scope(kind="host", types=ZONE_NS.types), token=token_scope())
    for rtype in ("NS", "CAA", "DNAME"):
        got = decide(who, "create", ZONE_NS, HOME, rtype, IP, NOW, claims=())
        assert (got.code, got.row) == ("subtree_required", 13)
        assert decide(who, "read", ZONE_NS, HOME, rtype, IP, NOW).allowed


def test_row_14_no_delegation_over_another_accounts_claim() -> None:
    who = principal(realm_scope(kind="subtree", types=ZONE_NS.types), token=token_scope())
    mine = ZoneClaim(7, HOME, "subtree")
    assert decide(who, "create", ZONE_NS, HOME, "NS", IP, NOW, claims=(mine,)) == ALLOW
    other = ZoneClaim(8, f"x.{HOME}", "host")
    got = decide(who, "create", ZONE_NS, HOME, "NS", IP, NOW, claims=(mine, other))
    assert (got.code, got.row) == ("claim_inside", 14)
    assert decide(who, "create", ZONE_NS, f"y.{HOME}", "NS", IP, NOW,
                  claims=(mine, other)) == ALLOW
    # Without the zone's claims nobody can say the subtree is free.
    assert decide(who, "create", ZONE_NS, HOME, "CAA", IP, NOW).code == "claim_inside"


def test_row_7_realm_of_another_zone_does_not_count() -> None:
    # The realm is in the parent zone "test"; its name would cover the request.
    realm = realm_scope(name="example.test", zone="test")
    who = principal(realm, token=token_scope())
    assert ask(who) == Decision(False, "name_outside_realm")


def test_row_7_dot_boundary_regression() -> None:
    # "evilexample.test" ends with "example.test" but is not below it.
    realm = realm_scope(name="example.test", zone="test", kind="subtree")
    who = principal(realm, token=token_scope())
    test_zone = zone_policy(name="test")
    assert ask(who, zone=test_zone, name="www.example.test") == ALLOW
    for name in ("evilexample.test", "www.evilexample.test", "xexample.test"):
        assert ask(who, zone=test_zone, name=name) == Decision(False, "name_outside_realm")


@pytest.mark.parametrize(
    ("token_names", "allowed"),
    [
        (frozenset({HOME}), True),
        (frozenset({"www.home.example.test"}), False),
        (frozenset(), False),
        (None, True),
    ],
)
def test_row_7_token_names(token_names: frozenset[str] | None, allowed: bool) -> None:
    who = principal(token=token_scope(names=token_names))
    expected = ALLOW if allowed else Decision(False, "name_outside_realm")
    assert ask(who) == expected


def test_row_7_token_names_outside_the_realm_do_not_widen_it() -> None:
    who = principal(token=token_scope(names=frozenset({"www.example.test", HOME})))
    assert ask(who, name="www.example.test") == Decision(False, "name_outside_realm")


def test_row_7_without_any_realm() -> None:
    assert ask(principal(token=token_scope(), realms=())) == Decision(False, "name_outside_realm")


# -- row 8 ----------------------------------------------------------------


@pytest.mark.parametrize("status", ["pending", "rejected", "revoked", ""])
def test_row_8_realm_not_approved(status: str) -> None:
    who = principal(realm_scope(status=status), token=token_scope())
    assert ask(who) == Decision(False, "realm_inactive")


# -- row 9 ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "name", "allowed"),
    [
        (zone_policy(), ZONE, False),  # the apex is off by default
        (zone_policy(apex_allowed=True), ZONE, True),
        (zone_policy(apex_allowed=True, min_depth=3), ZONE, True),  # depth rules skip apex
        (zone_policy(min_depth=2), HOME, False),
        (zone_policy(min_depth=2), "www.home.example.test", True),
        (zone_policy(max_depth=1), HOME, True),
        (zone_policy(max_depth=1), "www.home.example.test", False),
        (zone_policy(min_depth=2, max_depth=2), "a.www.home.example.test", False),
    ],
)
def test_row_9_zone_depth_and_apex(zone: ZonePolicy, name: str, allowed: bool) -> None:
    who = principal(realm_scope(name=ZONE, kind="subtree"), token=token_scope())
    expected = ALLOW if allowed else Decision(False, "zone_policy")
    assert ask(who, zone=zone, name=name) == expected


def test_row_10_attached_names_are_judged_at_their_base() -> None:
    host = principal(realm_scope(kind="host"), token=token_scope())
    sub = principal(realm_scope(kind="subtree"), token=token_scope())
    shallow = zone_policy(max_depth=1)
    challenge = f"{ACME}.{HOME}"
    assert ask(host, zone=shallow, name=challenge, rtype="TXT") == ALLOW
    assert ask(sub, zone=shallow, name=challenge, rtype="TXT") == ALLOW
    assert ask(sub, zone=shallow, name=f"x.{HOME}").code == "zone_policy"


def test_row_9_acme_challenge_of_the_apex_needs_apex_allowed() -> None:
    who = principal(realm_scope(name=ZONE, kind="host"), token=token_scope())
    challenge = f"{ACME}.{ZONE}"
    assert ask(who, name=challenge, rtype="TXT") == Decision(False, "zone_policy")
    assert ask(who, zone=zone_policy(apex_allowed=True), name=challenge, rtype="TXT") == ALLOW


# -- row 10 ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone_types", "realm_types", "token_types"),
    [
        (frozenset({"AAAA"}), TYPES, None),
        (TYPES, frozenset({"AAAA", "TXT"}), None),
        (TYPES, TYPES, frozenset({"AAAA"})),
        (TYPES, TYPES, frozenset()),
    ],
    ids=["zone", "realm", "token", "token-empty"],
)
def test_row_10_type_not_allowed(
    zone_types: frozenset[str], realm_types: frozenset[str], token_types: frozenset[str] | None
) -> None:
    who = principal(realm_scope(types=realm_types), token=token_scope(types=token_types))
    assert ask(who, zone=zone_policy(types=zone_types)) == Decision(False, "type_not_allowed")


# -- row 11 ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone_ops", "realm_ops", "token_ops"),
    [
        (frozenset({"read"}), OPS, None),
        (OPS, frozenset({"read", "create"}), None),
        (OPS, OPS, frozenset({"read", "delete"})),
        (OPS, OPS, frozenset()),
    ],
    ids=["zone", "realm", "token", "token-empty"],
)
def test_row_11_operation_not_allowed(
    zone_ops: frozenset[str], realm_ops: frozenset[str], token_ops: frozenset[str] | None
) -> None:
    who = principal(realm_scope(operations=realm_ops), token=token_scope(operations=token_ops))
    expected = Decision(False, "operation_not_allowed")
    assert ask(who, zone=zone_policy(operations=zone_ops), operation="update") == expected


@pytest.mark.parametrize("operation", OPERATIONS)
def test_row_11_each_operation_is_checked(operation: str) -> None:
    others = OPS - {operation}
    who = principal(realm_scope(operations=others), token=token_scope())
    assert ask(who, operation=operation) == Decision(False, "operation_not_allowed")
    who = principal(realm_scope(operations=frozenset({operation})), token=token_scope())
    assert ask(who, operation=operation) == ALLOW


# -- the order of the rows ------------------------------------------------


@dataclass(frozen=True)
class Request:
    """A request that passes every row; each field can break exactly one row."""

    revoked: bool = False
    expires_at: datetime | None = None
    account_active: bool = True
    networks: tuple[ipaddress.IPv4Network, ...] | None = None
    zone_active: bool = True
    name: str = "www.home.example.test"
    realm_status: str = "approved"
    min_depth: int = 1
    realm_types: frozenset[str] = TYPES
    zone_operations: frozenset[str] = OPS
    is_admin: bool = False
    with_token: bool = True

    def decide(self) -> Decision:
        token = token_scope(revoked=self.revoked, expires_at=self.expires_at,
                            networks=self.networks) if self.with_token else None
        realm = realm_scope(status=self.realm_status, types=self.realm_types)
        who = principal(realm, token=token, account_active=self.account_active,
                        is_admin=self.is_admin)
        zone = zone_policy(active=self.zone_active, min_depth=self.min_depth,
                           operations=self.zone_operations)
        return ask(who, zone=zone, name=self.name)


BREAK: dict[int, dict[str, object]] = {
    1: {"revoked": True},
    2: {"expires_at": NOW},
    3: {"account_active": False},
    4: {"networks": (ipaddress.ip_network("198.51.100.0/24"),)},
    5: {"zone_active": False},
    7: {"name": "www.xhome.example.test"},
    8: {"realm_status": "pending"},
    9: {"min_depth": 5},
    10: {"realm_types": frozenset({"AAAA"})},
    11: {"zone_operations": frozenset({"read"})},
}
ROW_CODE = {
    1: "token_revoked", 2: "token_expired", 3: "account_disabled", 4: "ip_not_allowed",
    5: "zone_disabled", 7: "name_outside_realm", 8: "realm_inactive", 9: "zone_policy",
    10: "type_not_allowed", 11: "operation_not_allowed",
}


def _broken(rows: tuple[int, ...], **base: object) -> Request:
    changes: dict[str, object] = dict(base)
    for row in rows:
        changes.update(BREAK[row])
    return Request(**changes)


@pytest.mark.parametrize("row", sorted(BREAK))
def test_each_breaker_breaks_exactly_its_row(row: int) -> None:
    assert _broken(()).decide() == ALLOW
    assert _broken((row,)).decide() == Decision(False, ROW_CODE[row])


@pytest.mark.parametrize(
    ("first", "second"), list(itertools.combinations(sorted(BREAK), 2)),
    ids=lambda row: f"row{row}",
)
def test_the_earlier_row_wins(first: int, second: int) -> None:
    assert _broken((first, second)).decide() == Decision(False, ROW_CODE[first])


def test_every_combination_of_broken_rows_reports_the_first() -> None:
    rows = sorted(BREAK)
    for size in range(len(rows) + 1):
        for broken in itertools.combinations(rows, size):
            got = _broken(broken).decide()
            expected = Decision(False, ROW_CODE[broken[0]]) if broken else ALLOW
            assert got == expected, f"rows {broken} broken"


def test_row_6_sits_between_row_5_and_row_7() -> None:
    # An admin session (no token, so rows 1, 2 and 4 cannot apply) still
    # fails rows 3 and 5, and is never asked rows 7 to 11.
    rows = (3, 5, 7, 8, 9, 10, 11)
    for size in range(len(rows) + 1):
        for broken in itertools.combinations(rows, size):
            got = _broken(broken, is_admin=True, with_token=False).decide()
            early = [row for row in broken if row < 6]
            expected = Decision(False, ROW_CODE[early[0]]) if early else ALLOW
            assert got == expected, f"rows {broken} broken"


# -- several realms -------------------------------------------------------


def test_any_realm_that_allows_wins() -> None:
    pending = realm_scope(status="pending")
    narrow = realm_scope(id=2, types=frozenset({"TXT"}))
    good = realm_scope(id=3, name=ZONE, kind="below")
    for order in itertools.permutations([pending, narrow, good]):
        assert ask(principal(*order)) == ALLOW


@pytest.mark.parametrize(
    ("realms", "code"),
    [
        ((realm_scope(status="pending"), realm_scope(id=2, types=frozenset({"TXT"}))),
         "type_not_allowed"),
        ((realm_scope(status="pending"), realm_scope(id=2, operations=frozenset({"read"}))),
         "operation_not_allowed"),
        ((realm_scope(name=ZONE, kind="subtree", operations=frozenset({"read"})),
          realm_scope(id=2, status="revoked")),
         "operation_not_allowed"),
        ((realm_scope(name="www.example.test"), realm_scope(id=2, status="pending")),
         "realm_inactive"),
    ],
)
def test_the_realm_that_got_furthest_gives_the_code(
    realms: tuple[RealmScope, ...], code: str
) -> None:
    for order in itertools.permutations(realms):
        assert ask(principal(*order)) == Decision(False, code)


def test_zone_policy_code_from_the_furthest_realm() -> None:
    # The subtree realm covers the apex (zone_policy); the pending one is behind it.
    apex = realm_scope(name=ZONE, kind="subtree")
    pending = realm_scope(id=2, name=ZONE, kind="host", status="pending")
    for order in itertools.permutations([apex, pending]):
        assert ask(principal(*order), name=ZONE) == Decision(False, "zone_policy")


# -- credential_standing: rows 1-4 on their own ----------------------------


@pytest.mark.parametrize(
    ("who", "code"),
    [
        (principal(token=token_scope()), "ok"),
        (principal(), "ok"),
        (principal(token=token_scope(revoked=True, expires_at=NOW)), "token_revoked"),
        (principal(token=token_scope(expires_at=NOW), account_active=False), "token_expired"),
        (principal(account_active=False, token=token_scope(networks=())), "account_disabled"),
        (principal(token=token_scope(networks=())), "ip_not_allowed"),
    ],
)
def test_credential_standing(who: Principal, code: str) -> None:
    assert credential_standing(who, IP, NOW).code == code


def test_credential_standing_ignores_zone_and_realms() -> None:
    who = principal(token=token_scope(), realms=())
    assert credential_standing(who, IP, NOW) == ALLOW
    assert ask(who, zone=zone_policy(active=False)) == Decision(False, "zone_disabled")


# -- properties -----------------------------------------------------------

ZONE_NAMES = (("example", "test"), ("example", "test"), ("test",), ("example", "org"))
REALM_LABELS = ("home", "xhome", "www", "lab", "a", ACME, "xn--bcher-kva", "example")
RTYPES = ("A", "AAAA", "TXT")


@dataclass(frozen=True)
class Scenario:
    zone: ZonePolicy
    principal: Principal
    operation: str
    rtype: str
    query: Spelled
    source_ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None
    now: datetime


def _realm_name(zone: tuple[str, ...], extra: list[str], wildcard: bool) -> str:
    labels = (*extra, *zone)
    if wildcard and extra:
        labels = ("*", *labels[1:])
    return ".".join(labels)


REALM = st.builds(
    lambda i, zone, extra, wildcard, kind, types, ops, status: RealmScope(
        id=i, zone=".".join(zone), name=_realm_name(zone, extra, wildcard), kind=kind,
        types=types, operations=ops, status=status,
    ),
    st.integers(1, 3),
    st.sampled_from(ZONE_NAMES),
    st.lists(st.sampled_from(REALM_LABELS), max_size=2),
    st.integers(0, 5).map(lambda n: n == 0),
    st.sampled_from(("host", *REALM_KINDS)),
    st.frozensets(st.sampled_from(RTYPES), min_size=1),
    st.frozensets(st.sampled_from(OPERATIONS), min_size=1),
    st.sampled_from(("approved", "approved", "approved", "pending", "revoked")),
)


def _subset(rng: random.Random, items: tuple[str, ...] | frozenset[str]) -> frozenset[str]:
    return frozenset(item for item in sorted(items) if rng.random() < 0.7)


@st.composite
def scenarios(draw: st.DrawFn, *, generous: bool) -> Scenario:
    """A principal with realms, a zone, and an adversarial query name near them.

    ``generous`` zones and credentials allow everything but the realm checks
    (rows 7, 8 and 10), so the oracle can say exactly what must be allowed.
    """
    realms = tuple(draw(st.lists(REALM, min_size=1, max_size=3)))
    how = draw(RELATION)
    rng = mixed_rng(draw(SEEDS), [(r.zone, r.name, r.kind, r.status) for r in realms], how)
    anchor = rng.choice(realms)
    zone_labels = rng.choice([tuple(anchor.zone.split("."))] * 3 + list(ZONE_NAMES[:3]))
    base = rng.choice([tuple(anchor.name.split("."))] * 3 + [zone_labels])
    query = spell(relate(base, how, rng), rng.getrandbits(32), hostile=rng.random() < 0.15)
    rtype = "TXT" if how.startswith("acme") and rng.random() < 0.7 else rng.choice(RTYPES)

    token: TokenScope | None = None
    if rng.random() < 0.85:
        names_ = None
        if rng.random() < 0.35:
            others = {r.name for r in realms} | {f"{ACME}.{r.name}" for r in realms}
            names_ = _subset(rng, frozenset(others)) | (
                {query.canonical} if rng.random() < 0.5 else set())
        token = TokenScope(
            id="abcdefghijklmnop",
            names=names_,
            types=None if rng.random() < 0.6 else _subset(rng, RTYPES),
            operations=None if generous or rng.random() < 0.6 else _subset(rng, OPS),
        )
    is_admin = rng.random() < 0.2
    if generous:
        zone = ZonePolicy(name=".".join(zone_labels), min_depth=0, apex_allowed=True,
                          types=frozenset(RTYPES))
        realms = tuple(dataclasses.replace(r, operations=OPS) for r in realms)
        who = Principal(account_id=1, account_active=True, is_admin=is_admin,
                        realms=realms, token=token)
        return Scenario(zone, who, rng.choice(OPERATIONS), rtype, query, IP, NOW)

    def sometimes(p: float, value: object, default: object = None) -> object:
        return value if rng.random() < p else default

    zone = ZonePolicy(
        name=".".join(zone_labels),
        active=rng.random() < 0.95,
        backend_active=rng.random() < 0.95,
        min_depth=rng.randint(0, 2),
        max_depth=sometimes(0.5, rng.randint(0, 4)),
        apex_allowed=rng.random() < 0.5,
        types=sometimes(0.5, _subset(rng, RTYPES), frozenset(RTYPES)),
        operations=sometimes(0.5, _subset(rng, OPS), OPS),
    )
    if token is not None:
        token = dataclasses.replace(
            token,
            revoked=rng.random() < 0.05,
            not_before=sometimes(0.1, NOW + timedelta(rng.randint(-2, 2))),
            expires_at=sometimes(0.1, NOW + timedelta(rng.randint(-2, 2))),
            max_idle=sometimes(0.1, timedelta(hours=rng.randint(0, 2))),
            last_used_at=sometimes(0.5, NOW - timedelta(hours=rng.randint(0, 3))),
            networks=sometimes(0.15, rng.choice([(), NETS[:1], NETS])),
        )
    who = Principal(account_id=1, account_active=rng.random() < 0.97, is_admin=is_admin,
                    realms=realms, token=token)
    source_ip = rng.choice([IP, IP, None, ipaddress.ip_address("198.51.100.9"),
                            ipaddress.ip_address("2001:db8::5")])
    return Scenario(zone, who, rng.choice(OPERATIONS), rtype, query,
                    source_ip, NOW)


def _normalized_query(sc: Scenario) -> str | None:
    """The name as the edge would pass it on, checked against the spelling oracle."""
    try:
        name = names.normalize(sc.query.raw)
    except InvalidName:
        assert not sc.query.valid, f"rejected a valid name {sc.query.raw!r}"
        return None
    assert sc.query.valid, f"accepted {sc.query.raw!r} as {name!r}"
    assert name == sc.query.canonical
    return name


def _routes(realm: RealmScope, zone: str, name: str, rtype: str) -> list[str]:
    """The oracle: how ``realm`` holds ``name`` -- the anchors judged for depth.

    Uses dnspython only (``adversarial_names``): same zone, claim kinds
    label-wise; an attached name through its base (judged at the base) or by
    a claim inside the attachment; a wildcard that answers for attached names
    only with its parent held.
    """
    if dns_name(realm.zone) != dns_name(zone):
        return []
    if name.startswith("*.") and rtype in ("TXT", "CNAME", "TLSA", "SRV") and not (
            oracle_holds(realm.name, realm.kind, name[2:], zone)):
        return []
    found = oracle_base_and_root(name, zone, frozenset())
    if found is None:
        return [name] if oracle_claim_contains(realm.name, realm.kind, name) else []
    base, root = found
    if oracle_claim_contains(realm.name, realm.kind, base):
        return [base]
    if (oracle_claim_contains(realm.name, realm.kind, name)
            and dns_name(realm.name).is_subdomain(dns_name(root))):
        return [name]
    return []


@MANY
@given(scenarios(generous=True))
def test_a_token_is_allowed_exactly_inside_its_realm(sc: Scenario) -> None:
    name = _normalized_query(sc)
    if name is None:
        return
    who, token = sc.principal, sc.principal.token
    got = decide(who, sc.operation, sc.zone, name, sc.rtype, sc.source_ip, sc.now)
    assert got.code in CODES
    if token is None and who.is_admin:
        assert got == ALLOW
        return
    outside = (
        (token is not None and token.names is not None and name not in token.names)
        or not any(_routes(realm, sc.zone.name, name, sc.rtype) for realm in who.realms)
    )
    expected = not outside and (
        (token is None or token.types is None or sc.rtype in token.types)
        and any(
            realm.status == "approved"
            and sc.rtype in realm.types
            and _routes(realm, sc.zone.name, name, sc.rtype)
            for realm in who.realms
        )
    )
    assert got.allowed is expected, got
    # Outside every realm (or the token's names) the code says exactly that.
    assert (got.code == "name_outside_realm") is outside, got


def _depth_ok(zone: ZonePolicy, anchor: str) -> bool:
    depth = len(dns_name(anchor)) - len(dns_name(zone.name))
    if depth == 0:
        return zone.apex_allowed
    return depth >= zone.min_depth and (zone.max_depth is None or depth <= zone.max_depth)


def _token_usable(token: TokenScope, source_ip: object, now: datetime) -> bool:
    if token.revoked:
        return False
    if token.not_before is not None and now < token.not_before:
        return False
    if token.expires_at is not None and now >= token.expires_at:
        return False
    if (token.max_idle is not None and token.last_used_at is not None
            and now - token.last_used_at > token.max_idle):
        return False
    return token.networks is None or any(
        source_ip is not None and source_ip.version == net.version and source_ip in net
        for net in token.networks
    )


def _justified(sc: Scenario, name: str) -> bool:
    """The oracle for the whole table: is there a reason to say yes?"""
    who, token, zone = sc.principal, sc.principal.token, sc.zone
    if not (who.account_active and zone.active and zone.backend_active):
        return False
    if token is None and who.is_admin:
        return True
    if token is not None and not (
        _token_usable(token, sc.source_ip, sc.now)
        and (token.names is None or name in token.names)
        and (token.types is None or sc.rtype in token.types)
        and (token.operations is None or sc.operation in token.operations)
    ):
        return False
    return sc.rtype in zone.types and sc.operation in zone.operations and any(
        realm.status == "approved"
        and sc.rtype in realm.types
        and sc.operation in realm.operations
        and any(_depth_ok(zone, anchor) for anchor in _routes(realm, zone.name, name, sc.rtype))
        for realm in who.realms
    )


@MANY
@given(scenarios(generous=False))
def test_allowed_exactly_when_justified(sc: Scenario) -> None:
    name = _normalized_query(sc)
    if name is None:
        return
    who = sc.principal
    got = decide(who, sc.operation, sc.zone, name, sc.rtype, sc.source_ip, sc.now)
    assert got.code in CODES
    assert got.allowed is (got.code == "ok")
    assert got.allowed is _justified(sc, name), got
    # The answer never depends on the order of the realms.
    flipped = dataclasses.replace(who, realms=who.realms[::-1])
    assert decide(flipped, sc.operation, sc.zone, name, sc.rtype, sc.source_ip, sc.now) == got
