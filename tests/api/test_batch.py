"""PATCH /api/v1/zones/{zone}/rrsets: batches, authorized and applied all-or-nothing."""

from __future__ import annotations

import pytest

from dnsgate.backends.builtin import BuiltinBackend
from tests.support.api import assert_problem, audit_events, rrset, soa_serial, zone_state
from tests.support.factories import bearer

RRSETS = "/api/v1/zones/example.test/rrsets"


def upsert(name, rtype, *records, ttl=None):
    change = {"action": "upsert", "name": name, "type": rtype, "records": list(records)}
    if ttl is not None:
        change["ttl"] = ttl
    return change


def delete(name, rtype):
    return {"action": "delete", "name": name, "type": rtype}


@pytest.fixture
async def lab(world):
    """A subtree realm on lab.example.test (types A, AAAA, TXT) and a token for it."""
    zone = await world.zone("example.test")
    alice = world.account("alice")
    realm = world.realm(alice, zone, "lab", kind="subtree", types=["A", "AAAA", "TXT"])
    return world.token(realm)


async def patch(client, secret, *changes):
    return await client.patch(RRSETS, json={"changes": list(changes)}, headers=bearer(secret))


async def test_a_batch_applies_upserts_and_deletes(client, lab, admin):
    first = await patch(client, lab.secret,
                        upsert("lab.example.test", "A", "192.0.2.1"),
                        upsert("a.lab.example.test", "AAAA", "2001:db8::1", ttl=900),
                        upsert("b.lab.example.test", "TXT", "hello"))
    assert first.status_code == 200, first.text
    assert first.json() == {
        "upserted": [
            {"name": "lab.example.test", "type": "A", "ttl": 300, "records": ["192.0.2.1"]},
            {"name": "a.lab.example.test", "type": "AAAA", "ttl": 900,
             "records": ["2001:db8::1"]},
            {"name": "b.lab.example.test", "type": "TXT", "ttl": 300, "records": ['"hello"']},
        ],
        "deleted": [], "changed": 3, "unchanged": 0}
    second = await patch(client, lab.secret,
                         upsert("lab.example.test", "A", "192.0.2.1"),  # unchanged
                         upsert("a.lab.example.test", "AAAA", "2001:db8::2"),
                         delete("b.lab.example.test", "TXT"),
                         delete("c.lab.example.test", "TXT"))  # absent: a no-op
    assert second.status_code == 200, second.text
    body = second.json()
    assert body["deleted"] == [{"name": "b.lab.example.test", "type": "TXT"}]
    assert body["changed"] == 2
    assert body["unchanged"] == 2
    state = await zone_state(client, admin)
    assert rrset(state, "a.lab.example.test", "AAAA")["records"] == ["2001:db8::2"]
    assert rrset(state, "b.lab.example.test", "TXT") is None
    assert rrset(state, "lab.example.test", "A")["records"] == ["192.0.2.1"]


async def test_a_batch_of_only_no_ops_writes_nothing(client, lab, admin):
    await patch(client, lab.secret, upsert("lab.example.test", "A", "192.0.2.1"))
    before = await zone_state(client, admin)
    response = await patch(client, lab.secret, upsert("lab.example.test", "A", "192.0.2.1"),
                           delete("x.lab.example.test", "A"))
    assert response.status_code == 200
    assert response.json()["changed"] == 0
    assert response.json()["unchanged"] == 2
    assert await zone_state(client, admin) == before


@pytest.mark.parametrize(("bad", "code"), [
    (upsert("other.example.test", "A", "192.0.2.9"), "name_outside_realm"),
    (upsert("x.lab.example.test", "MX", "10 mx.example.test."), "type_not_allowed"),
    (delete("labx.example.test", "A"), "name_outside_realm"),
])
async def test_one_denied_rrset_denies_the_whole_batch(client, lab, admin, env, bad, code):
    await patch(client, lab.secret, upsert("keep.lab.example.test", "A", "192.0.2.1"))
    before = await zone_state(client, admin)
    response = await patch(client, lab.secret,
                           upsert("a.lab.example.test", "A", "192.0.2.1"),
                           delete("keep.lab.example.test", "A"),
                           bad,
                           upsert("b.lab.example.test", "A", "192.0.2.2"))
    assert_problem(response, 403, code)
    assert await zone_state(client, admin) == before
    denial = audit_events(env, outcome="denied")[-1]
    assert (denial.name, denial.rtype, denial.code) == (bad["name"], bad["type"], code)
    # no change of the batch got an event of its own
    assert [e.action for e in audit_events(env, actor_id=lab.id, outcome="success")] == [
        "rrset.create"]


async def test_a_denial_found_only_against_current_state_writes_nothing(client, world, admin):
    """create vs update is known only inside the write lock; the batch still fails whole."""
    zone = await world.zone("example.test")
    realm = world.realm(world.account("alice"), zone, "lab", kind="subtree", types=["A"])
    token = world.token(realm, operations=["read", "update"])
    await patch(client, admin, upsert("old.lab.example.test", "A", "192.0.2.1"))
    before = await zone_state(client, admin)
    response = await patch(client, token.secret,
                           upsert("old.lab.example.test", "A", "192.0.2.2"),  # update: fine
                           upsert("new.lab.example.test", "A", "192.0.2.3"))  # create: denied
    assert_problem(response, 403, "operation_not_allowed")
    assert await zone_state(client, admin) == before


INVALID = [
    (upsert("a.lab.example.test", "A", "192.0.2.300"), "invalid_record"),
    (upsert("a.lab.example.test", "A"), "invalid_record"),  # no records
    (upsert("a.lab.example.test", "BOGUS", "x"), "invalid_record"),
    (upsert("a..lab.example.test", "A", "192.0.2.1"), "invalid_name"),
    (upsert("a.lab.other.test", "A", "192.0.2.1"), "invalid_name"),
    (upsert("a.lab.example.test", "A", "192.0.2.1", ttl=10), "invalid_record"),
    (upsert("lab.example.test", "A", "192.0.2.1"), "invalid_request"),  # twice in one batch
]


async def test_one_invalid_rrset_writes_nothing(client, lab, admin):
    before = await zone_state(client, admin)
    for bad, code in INVALID:
        response = await patch(client, lab.secret,
                               upsert("lab.example.test", "A", "192.0.2.1"),
                               bad,
                               upsert("b.lab.example.test", "A", "192.0.2.2"))
        assert_problem(response, 422, code, case=bad)
        assert await zone_state(client, admin) == before, bad


MALFORMED = [
    {"changes": []},
    {},
    {"changes": [{"action": "replace", "name": "lab.example.test", "type": "A",
                  "records": ["192.0.2.1"]}]},
    {"changes": [{"name": "lab.example.test", "type": "A", "records": ["192.0.2.1"]}]},
    {"changes": [upsert("lab.example.test", "A", "192.0.2.1") | {"extra": 1}]},
    {"changes": upsert("lab.example.test", "A", "192.0.2.1")},
    [upsert("lab.example.test", "A", "192.0.2.1")],
    {"changes": [delete(f"h{i}", "A") for i in range(1001)]},  # one too many
]


async def test_malformed_batches_are_invalid_requests(client, lab, admin):
    before = await zone_state(client, admin)
    for body in MALFORMED:
        response = await client.patch(RRSETS, json=body, headers=bearer(lab.secret))
        assert_problem(response, 422, "invalid_request", case=str(body)[:80])
    assert await zone_state(client, admin) == before


async def test_a_failure_in_the_middle_of_a_batch_rolls_everything_back(
        app, lab, admin, env, monkeypatch, make_client):
    real_apply = BuiltinBackend.apply_in
    calls = []

    def apply_first_then_fail(self, session, zone, changes):
        calls.append(len(changes))
        real_apply(self, session, zone, changes[:1])  # written in the transaction ...
        raise RuntimeError("the disk caught fire")  # ... which must now roll back

    async with make_client(app, raise_app_exceptions=False) as c:
        await patch(c, lab.secret, upsert("keep.lab.example.test", "A", "192.0.2.1"))
        before = await zone_state(c, admin)
        events_before = len(audit_events(env))
        with monkeypatch.context() as m:
            m.setattr(BuiltinBackend, "apply_in", apply_first_then_fail)
            response = await patch(c, lab.secret,
                                   upsert("a.lab.example.test", "A", "192.0.2.1"),
                                   delete("keep.lab.example.test", "A"),
                                   upsert("b.lab.example.test", "A", "192.0.2.2"))
        assert calls == [3]
        body = assert_problem(response, 500, "internal_error")
        assert "fire" not in response.text
        assert body["request_id"]
        after = await zone_state(c, admin)
        assert after == before
        assert soa_serial(after) == soa_serial(before)
        assert len(audit_events(env)) == events_before  # no event for changes not made


async def test_a_batch_may_swap_data_for_a_cname_atomically(client, lab, admin, world):
    realm = world.realm(world.account("bob"), "example.test", "www", types=["A", "CNAME"])
    token = world.token(realm)
    assert (await patch(client, token.secret, upsert("www.example.test", "A",
                                                     "192.0.2.1"))).status_code == 200
    alone = await patch(client, token.secret, upsert("www.example.test", "CNAME", "x.test."))
    assert_problem(alone, 422, "invalid_record")
    swapped = await patch(client, token.secret, delete("www.example.test", "A"),
                          upsert("www.example.test", "CNAME", "x.test."))
    assert swapped.status_code == 200, swapped.text
    state = await zone_state(client, admin)
    assert rrset(state, "www.example.test", "A") is None
    assert rrset(state, "www.example.test", "CNAME")["records"] == ["x.test."]
