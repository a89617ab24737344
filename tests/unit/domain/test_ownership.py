"""dnsgate.domain.ownership and dnsgate.domain.claims: what a name governs, what a
claim holds, when claims meet, and a simulation of several accounts claiming
and writing in one zone.

The oracle here is written from the table in ``ownership``'s docstring with
dnspython's names, independently of the code under test.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime

import dns.name
import pytest
from adversarial_names import oracle_base_and_root, oracle_contains, oracle_holds
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.examples import examples

from dnsgate.domain import ownership
from dnsgate.domain.claims import FoundRRset, Writer, conflicting_claim, judge_claim
from dnsgate.domain.policy import (
    OPERATIONS,
    Principal,
    RealmScope,
    ZoneClaim,
    ZonePolicy,
    decide,
)

MANY = settings(max_examples=examples(10_000), deadline=None)
ZONE = "example.test"
NOW = datetime(2030, 6, 1, tzinfo=UTC)


def _n(text: str) -> dns.name.Name:
    return dns.name.from_text(text)


# -- rows of the attachment table -----------------------------------------------


@pytest.mark.parametrize(
    ("name", "base", "root"),
    [
        ("_acme-challenge.www.example.test", "www.example.test",
         "_acme-challenge.www.example.test"),
        ("_acme-challenge.example.test", "example.test", "_acme-challenge.example.test"),
        ("_dmarc.example.test", "example.test", "_dmarc.example.test"),
        ("s1._domainkey.mail.example.test", "mail.example.test", "_domainkey.mail.example.test"),
        ("_domainkey.example.test", "example.test", "_domainkey.example.test"),
        ("a.b._domainkey.example.test", "example.test", "_domainkey.example.test"),
        ("_mta-sts.example.test", "example.test", "_mta-sts.example.test"),
        ("_smtp._tls.example.test", "example.test", "_smtp._tls.example.test"),
        ("_443._tcp.www.example.test", "www.example.test", "_443._tcp.www.example.test"),
        ("_sip._udp.example.test", "example.test", "_sip._udp.example.test"),
        ("_acme-challenge._dmarc.x.example.test", "x.example.test", "_dmarc.x.example.test"),
    ],
)
def test_attached_names(name: str, base: str, root: str) -> None:
    assert ownership.attachment(name, ZONE) == ownership.Attachment(root=root, base=base)
    assert oracle_base_and_root(name, ZONE, frozenset()) == (base, root)


@pytest.mark.parametrize("name", [
    "www.example.test", "example.test", "x._acme-challenge.example.test", "_tcp.example.test",
    "_tls.example.test", "*.example.test", "acme-challenge.example.test",
    "_acme-challengex.example.test", "*._tcp.example.test",
])
def test_names_that_stand_alone(name: str) -> None:
    assert ownership.attachment(name, ZONE) is None
    assert ownership.governing_base(name, ZONE) == name


def test_a_zone_may_attach_more_labels() -> None:
    extra = frozenset({"_custom"})
    name = "k._custom.www.example.test"
    assert ownership.attachment(name, ZONE) is None
    assert ownership.governing_base(name, ZONE, extra) == "www.example.test"


@pytest.mark.parametrize(
    ("claim", "kind", "name", "held"),
    [
        ("www.example.test", "host", "_acme-challenge.www.example.test", True),
        ("www.example.test", "host", "s._domainkey.www.example.test", True),
        ("www.example.test", "below", "_acme-challenge.www.example.test", False),
        ("www.example.test", "below", "_dmarc.www.example.test", False),
        ("www.example.test", "below", "x.www.example.test", True),
        ("www.example.test", "below", "_acme-challenge.x.www.example.test", True),
        ("example.test", "below", "_acme-challenge.example.test", False),
        ("example.test", "subtree", "_acme-challenge.example.test", True),
        ("_acme-challenge.www.example.test", "host", "_acme-challenge.www.example.test", True),
        ("_acme-challenge.www.example.test", "host", "www.example.test", False),
        ("_tcp.www.example.test", "subtree", "_443._tcp.www.example.test", False),
        ("_tcp.www.example.test", "subtree", "x._tcp.www.example.test", True),
    ],
)
def test_holds(claim: str, kind: str, name: str, held: bool) -> None:
    assert ownership.holds(claim, kind, name, ZONE) is held
    assert oracle_holds(claim, kind, name, ZONE) is held


@pytest.mark.parametrize(
    ("a", "a_kind", "b", "b_kind", "expected"),
    [
        ("home.example.test", "host", "home.example.test", "host", True),
        ("home.example.test", "host", "www.example.test", "host", False),
        ("home.example.test", "host", "_acme-challenge.home.example.test", "host", True),
        ("home.example.test", "host", "_dmarc.home.example.test", "host", True),
        ("home.example.test", "host", "s._domainkey.home.example.test", "subtree", True),
        ("home.example.test", "host", "_25._tcp.home.example.test", "host", True),
        ("home.example.test", "host", "example.test", "subtree", True),
        ("home.example.test", "host", "example.test", "below", True),
        ("example.test", "host", "example.test", "below", False),  # below leaves the apex's
        ("example.test", "host", "www.example.test", "subtree", False),
        ("example.test", "subtree", "www.example.test", "host", True),
        ("example.test", "below", "example.test", "below", True),
        ("example.test", "subtree", "example.test", "below", True),
        ("lab.example.test", "below", "x.lab.example.test", "host", True),
        ("lab.example.test", "subtree", "www.example.test", "subtree", False),
        ("example.test", "subtree", "evilexample.test", "subtree", False),  # dot boundary
        ("home.example.test", "subtree", "xhome.example.test", "host", False),
        ("home.example.test", "host", "_acme-challenge.xhome.example.test", "host", False),
    ],
)
def test_claims_meet_examples(a: str, a_kind: str, b: str, b_kind: str,
                              expected: bool) -> None:
    zone = "test" if "evil" in b else ZONE
    assert ownership.claims_meet(a, a_kind, b, b_kind, zone) is expected
    assert ownership.claims_meet(b, b_kind, a, a_kind, zone) is expected


# -- claims meet exactly when some name is held by both -------------------------

_TREE = ("a", "_acme-challenge", "_domainkey", "_tcp", "_dmarc")
_KINDS = ("host", "subtree", "below")
_CLAIMS = tuple(".".join((*p, "t")) for d in range(4) for p in itertools.product(_TREE, repeat=d))
_UNIVERSE = tuple(".".join((*p, "t")) for d in range(5)
                  for p in itertools.product(_TREE, repeat=d))


@functools.cache
def _held_in_universe(claim: str, kind: str) -> frozenset[str]:
    return frozenset(n for n in _UNIVERSE if oracle_holds(claim, kind, n, "t"))


@settings(max_examples=examples(3_000), deadline=None)
@given(st.sampled_from(_CLAIMS), st.sampled_from(_KINDS), st.sampled_from(_CLAIMS),
       st.sampled_from(_KINDS))
def test_claims_meet_agrees_with_brute_force(a: str, a_kind: str, b: str, b_kind: str) -> None:
    expected = bool(_held_in_universe(a, a_kind) & _held_in_universe(b, b_kind))
    assert ownership.claims_meet(a, a_kind, b, b_kind, "t") is expected


@MANY
@given(st.sampled_from(_CLAIMS), st.sampled_from(_KINDS), st.sampled_from(_UNIVERSE))
def test_holds_agrees_with_the_oracle(claim: str, kind: str, name: str) -> None:
    assert ownership.holds(claim, kind, name, "t") is oracle_holds(claim, kind, name, "t")


# -- the claim table (domain/claims.py), one test per row ------------------------

POLICY = ZonePolicy(name=ZONE, types=frozenset({"A", "TXT", "NS"}))


def _judge(name: str, kind: str = "host", *, auto: bool = True, admin: bool = False,
           own: tuple[ZoneClaim, ...] = (), found: tuple[FoundRRset, ...] = ()):
    return judge_claim(claim=ZoneClaim(1, name, kind), zone=POLICY, auto_approve=auto,
                       by_admin=admin, approved_own=own, found=found)


def test_claim_row_1_conflict() -> None:
    live = [ZoneClaim(2, "www.example.test", "host")]
    assert conflicting_claim(ZoneClaim(1, "_acme-challenge.www.example.test", "host"),
                             POLICY, live) == live[0]
    assert conflicting_claim(ZoneClaim(2, "_acme-challenge.www.example.test", "host"),
                             POLICY, live) is None  # one's own claims never conflict


def test_claim_row_2_admin_approves_at_once_and_lists_the_handover() -> None:
    found = (FoundRRset("www.example.test", "A", Writer("operator")),)
    verdict = _judge("_acme-challenge.example.test", admin=True, auto=False, found=found)
    assert verdict.approved and verdict.reasons == () and verdict.handover == found


@pytest.mark.parametrize(("name", "kind"), [
    ("example.test", "subtree"), ("example.test", "below"), ("example.test", "host"),
    ("_acme-challenge.example.test", "host"), ("_domainkey.example.test", "subtree"),
    ("_dmarc.example.test", "host"),
])
def test_claim_row_3_apex_waits(name: str, kind: str) -> None:
    verdict = _judge(name, kind)
    assert not verdict.approved and "apex" in verdict.reasons


def test_claim_row_4_attached_name_of_a_name_not_held_waits() -> None:
    verdict = _judge("_acme-challenge.www.example.test")
    assert verdict.reasons == ("attached_base",)
    own = (ZoneClaim(1, "www.example.test", "host"),)
    assert _judge("_acme-challenge.www.example.test", own=own).approved


def test_claim_row_5_existing_data_waits_unless_own() -> None:
    for kind in ("operator", "account", "outside"):
        found = (FoundRRset("www.example.test", "A", Writer(kind)),)  # type: ignore[arg-type]
        assert _judge("www.example.test", found=found).reasons == ("existing_data",)
    mine = (FoundRRset("www.example.test", "A", Writer("self", account_id=1)),)
    assert _judge("www.example.test", found=mine).approved


def test_claim_row_6_zone_approval() -> None:
    assert _judge("www.example.test", auto=False).reasons == ("zone_approval",)


def test_claim_row_7_plain_claim_in_an_auto_zone() -> None:
    assert _judge("www.example.test").approved


# -- several accounts claiming and writing: nobody changes what they do not own -

_LABELS = ("a", "b", "_acme-challenge", "_dmarc", "_domainkey", "_tcp", "_443", "s")
_NAMES = tuple(".".join((*p, "z")) for d in range(4) for p in itertools.product(_LABELS, repeat=d)
               if d <= 2 or p[-1] in ("a", "b"))
_WILDCARDS = tuple(f"*.{n}" for n in _NAMES if n.count(".") <= 1)
_WRITE_TYPES = ("A", "TXT", "NS", "CAA", "CNAME", "TLSA")
SIM_ZONE = ZonePolicy(name="z", min_depth=1, apex_allowed=True,
                      types=frozenset(_WRITE_TYPES), operations=frozenset(OPERATIONS))


@dataclass
class Zone:
    claims: list[tuple[ZoneClaim, str, bool]] = field(default_factory=list)  # status, by admin
    written: dict[tuple[str, str], int] = field(default_factory=dict)  # -> account (0: operator)


def _principal(zone: Zone, account: int) -> Principal:
    realms = tuple(RealmScope(id=i, zone="z", name=c.name, kind=c.kind,
                              types=frozenset(_WRITE_TYPES), operations=frozenset(OPERATIONS))
                   for i, (c, status, _) in enumerate(zone.claims)
                   if c.account_id == account and status == "approved")
    return Principal(account_id=account, account_active=True, is_admin=False, realms=realms)


def _live(zone: Zone) -> list[ZoneClaim]:
    return [c for c, status, _ in zone.claims if status in ("approved", "pending")]


def _may_write(zone: Zone, account: int, name: str, rtype: str) -> bool:
    return decide(_principal(zone, account), "create", SIM_ZONE, name, rtype, None, NOW,
                  claims=_live(zone)).allowed


STEP = st.one_of(
    st.tuples(st.just("claim"), st.integers(1, 3), st.sampled_from(_NAMES),
              st.sampled_from(_KINDS)),
    st.tuples(st.just("approve"), st.integers(0, 20)),
    st.tuples(st.just("write"), st.integers(0, 3), st.sampled_from(_NAMES + _WILDCARDS),
              st.sampled_from(_WRITE_TYPES)),
)


def _run(steps: list[tuple]) -> Zone:  # type: ignore[type-arg]
    zone = Zone()
    for step in steps:
        if step[0] == "claim":
            _, account, name, kind = step
            claim = ZoneClaim(account, name, kind)
            if conflicting_claim(claim, SIM_ZONE, _live(zone)) is not None:
                continue
            found = tuple(FoundRRset(n, t, Writer("self" if w == account else "account"
                                                  if w else "operator", account_id=w))
                          for (n, t), w in zone.written.items()
                          if ownership.holds(name, kind, n, "z"))
            own = [c for c, status, _ in zone.claims
                   if c.account_id == account and status == "approved"]
            verdict = judge_claim(claim=claim, zone=SIM_ZONE, auto_approve=True,
                                  by_admin=False, approved_own=own, found=found)
            zone.claims.append((claim, "approved" if verdict.approved else "pending", False))
        elif step[0] == "approve":
            pending = [i for i, (_, status, _) in enumerate(zone.claims) if status == "pending"]
            if pending:
                i = pending[step[1] % len(pending)]
                zone.claims[i] = (zone.claims[i][0], "approved", True)
        else:
            _, account, name, rtype = step
            # The operator publishes where nobody claims yet; accounts as allowed.
            free = not any(ownership.holds(c.name, c.kind, name, "z") for c in _live(zone))
            if (account == 0 and free) or (account and _may_write(zone, account, name, rtype)):
                zone.written[(name, rtype)] = account
    return zone


def _admin_approved(zone: Zone, account: int) -> bool:
    return any(by_admin for c, _, by_admin in zone.claims if c.account_id == account)


@MANY
@given(st.lists(STEP, max_size=12), st.sampled_from(_NAMES + _WILDCARDS),
       st.sampled_from(_WRITE_TYPES))
def test_nobody_gains_control_over_what_another_governs(steps, name: str, rtype: str) -> None:
    zone = _run(steps)
    writers = [a for a in (1, 2, 3) if _may_write(zone, a, name, rtype)]
    # A zone of the same name elsewhere (an account's own DNS, or the platform's
    # beside it) is another zone: no realm of this one reaches it.
    twin = dataclasses.replace(SIM_ZONE, id=2, owner_id=None)
    assert not any(decide(_principal(zone, a), "create", twin, name, rtype, None, NOW,
                          claims=_live(zone)).allowed for a in (1, 2, 3))
    # One name, one holder: no two accounts can write the same RRset.
    assert len(writers) <= 1, (writers, zone.claims)
    for account in writers:
        held = [c for c, status, _ in zone.claims
                if c.account_id == account and status == "approved"]
        if not _admin_approved(zone, account):
            found = oracle_base_and_root(name, "z", frozenset())
            # Without an admin: nothing of the apex or its attached names...
            assert name != "z" and (found is None or found[0] != "z"), (name, held)
            # ...an attached name only by its base's holder...
            if found is not None:
                assert any(oracle_contains(c.name, c.kind, found[0]) for c in held)
            # ...a wildcard that answers for P's attached names only by P's holder...
            if name.startswith("*.") and rtype in ("TXT", "CNAME", "TLSA"):
                assert any(oracle_holds(c.name, c.kind, name[2:], "z") for c in held)
            # ...and nobody takes over an RRset another account or the operator wrote.
            holder = zone.written.get((name, rtype))
            assert holder is None or holder == account
        if rtype in ("NS", "CAA"):
            # Delegation and CAA: by a realm over the whole subtree, with no other
            # account's claim at or below the name.
            assert any(c.kind != "host" and oracle_contains(c.name, c.kind, name)
                       for c in held)
            assert not any(_n(c.name).is_subdomain(_n(name)) for c in _live(zone)
                           if c.account_id != account)
