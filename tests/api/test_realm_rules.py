"""Realm rules over HTTP: visibility and grants, approval, overlap between accounts,
quota, depth and apex."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.api import assert_problem
from tests.support.factories import bearer

REALMS = "/api/v1/account/realms"


class Person:
    """An account with an API key, and shorthands for its management calls."""

    def __init__(self, client, world, name):
        self.client = client
        self.id = world.account(name)
        self.key = world.api_key(self.id)
        self.h = bearer(self.key)

    async def claim(self, name, kind="host", zone="example.test", **extra):
        return await self.client.post(REALMS, json={"zone": zone, "name": name, "kind": kind,
                                                    **extra}, headers=self.h)

    async def zones(self):
        response = await self.client.get("/api/v1/account/zones", headers=self.h)
        assert response.status_code == 200
        return [z["name"] for z in response.json()]

    async def mint(self, realm_id):
        return await self.client.post("/api/v1/account/tokens", json={"realm_id": realm_id},
                                      headers=self.h)


@pytest.fixture
def alice(client, world):
    return Person(client, world, "alice")


@pytest.fixture
def bob(client, world):
    return Person(client, world, "bob")


async def grant(client, admin, zone, account_id, **extra):
    response = await client.post(f"/api/v1/admin/zones/{zone}/grants",
                                 json={"account_id": account_id, **extra}, headers=bearer(admin))
    assert response.status_code == 201, response.text
    return response.json()


# --- visibility and grants ---------------------------------------------------------------


async def test_public_zone_is_visible_and_claimable(client, world, alice):
    await world.zone("example.test", visibility="public", approval="auto")
    assert await alice.zones() == ["example.test"]
    response = await alice.claim("home", types=["A"])
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["zone"], body["name"], body["kind"], body["status"]) == (
        "example.test", "home.example.test", "host", "approved")
    assert body["account_id"] == alice.id
    assert body["types"] == ["A"]
    assert body["operations"] == ["read", "create", "update", "delete"]


async def test_private_zone_needs_a_grant(client, world, alice, bob, admin):
    await world.zone("example.test", visibility="private", approval="auto")
    assert await alice.zones() == []
    assert_problem(await alice.claim("home"), 404, "zone_not_found")
    given = await grant(client, admin, "example.test", alice.id)
    assert await alice.zones() == ["example.test"]
    assert await bob.zones() == []
    assert (await alice.claim("home")).status_code == 201
    assert_problem(await bob.claim("other"), 404, "zone_not_found")

    revoked = await client.post(f"/api/v1/admin/grants/{given['id']}/revoke",
                                headers=bearer(admin))
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    # the realm already held keeps the zone visible; new claims need a grant again
    assert await alice.zones() == ["example.test"]
    assert_problem(await alice.claim("second"), 403, "zone_policy")


async def test_invite_zone_is_visible_but_needs_a_grant_to_claim(client, world, alice, admin):
    await world.zone("example.test", visibility="invite", approval="auto")
    assert await alice.zones() == ["example.test"]
    assert_problem(await alice.claim("home"), 403, "zone_policy")
    await grant(client, admin, "example.test", alice.id)
    assert (await alice.claim("home")).status_code == 201


async def test_grant_narrows_types_operations_and_count(client, world, alice, admin):
    await world.zone("example.test", visibility="private", approval="auto")
    await grant(client, admin, "example.test", alice.id, types=["A", "AAAA"],
                operations=["read", "update"], max_realms=1)
    default = await alice.claim("home")
    assert default.status_code == 201
    assert default.json()["types"] == ["A", "AAAA"]
    assert default.json()["operations"] == ["read", "update"]
    assert_problem(await alice.claim("second"), 403, "zone_policy")  # max_realms
    await client.post(f"/api/v1/account/realms/{default.json()['id']}/revoke", headers=alice.h)
    assert_problem(await alice.claim("txt", types=["TXT"]), 403, "type_not_allowed")
    assert_problem(await alice.claim("del", operations=["delete"]), 403,
                   "operation_not_allowed")
    assert (await alice.claim("again", types=["A"])).status_code == 201


async def test_grant_expiry(client, world, alice, admin, clock):
    await world.zone("example.test", visibility="private", approval="auto")
    await grant(client, admin, "example.test", alice.id,
                expires_at=(clock() + timedelta(hours=1)).isoformat())
    assert await alice.zones() == ["example.test"]
    clock.advance(3601)
    assert await alice.zones() == []
    assert_problem(await alice.claim("home"), 404, "zone_not_found")


# --- approval ----------------------------------------------------------------------------


async def test_admin_approval_flow(client, world, alice, admin):
    await world.zone("example.test", visibility="public", approval="admin")
    requested = await alice.claim("home")
    assert requested.status_code == 201
    realm = requested.json()
    assert realm["status"] == "pending"
    assert realm["decided_at"] is None
    assert_problem(await alice.mint(realm["id"]), 409, "conflict")

    queue = await client.get("/api/v1/admin/realms", params={"status": "pending"},
                             headers=bearer(admin))
    assert [r["id"] for r in queue.json()] == [realm["id"]]
    approved = await client.post(f"/api/v1/admin/realms/{realm['id']}/approve",
                                 headers=bearer(admin))
    assert approved.status_code == 200
    assert approved.json()["status"] == "approved"
    assert approved.json()["decided_at"] is not None
    assert (await client.get("/api/v1/admin/realms", params={"status": "pending"},
                             headers=bearer(admin))).json() == []
    minted = await alice.mint(realm["id"])
    assert minted.status_code == 201
    token = minted.json()["token"]
    put = await client.put("/api/v1/zones/example.test/rrsets/home.example.test/A",
                           json={"records": ["192.0.2.1"]}, headers=bearer(token))
    assert put.status_code == 200

    revoked = await client.post(f"/api/v1/admin/realms/{realm['id']}/revoke",
                                headers=bearer(admin))
    assert revoked.json()["status"] == "revoked"
    put = await client.put("/api/v1/zones/example.test/rrsets/home.example.test/A",
                           json={"records": ["192.0.2.2"]}, headers=bearer(token))
    assert_problem(put, 403, "realm_inactive")
    assert_problem(await client.post(f"/api/v1/admin/realms/{realm['id']}/approve",
                                     headers=bearer(admin)), 409, "conflict")
    assert_problem(await alice.mint(realm["id"]), 409, "conflict")


async def test_rejection_needs_a_reason_and_shows_it(client, world, alice, admin):
    await world.zone("example.test", visibility="public", approval="admin")
    realm = (await alice.claim("home")).json()
    url = f"/api/v1/admin/realms/{realm['id']}/reject"
    for body in (None, {}, {"reason": ""}, {"reason": "   "}, {"reason": "x", "extra": 1}):
        assert_problem(await client.post(url, json=body, headers=bearer(admin)), 422,
                       "invalid_request")
    still = await client.get(f"{REALMS}/{realm['id']}", headers=alice.h)
    assert still.json()["status"] == "pending"
    rejected = await client.post(url, json={"reason": "  pick a shorter name "},
                                 headers=bearer(admin))
    assert rejected.status_code == 200
    assert rejected.json()["status"] == "rejected"
    seen = (await client.get(f"{REALMS}/{realm['id']}", headers=alice.h)).json()
    assert (seen["status"], seen["reason"]) == ("rejected", "pick a shorter name")
    assert_problem(await client.post(url, json={"reason": "again"}, headers=bearer(admin)),
                   409, "conflict")
    assert_problem(await client.post(f"/api/v1/admin/realms/{realm['id']}/approve",
                                     headers=bearer(admin)), 409, "conflict")


async def test_pending_claims_block_others_and_rejected_ones_do_not(client, world, alice, bob,
                                                                   admin):
    await world.zone("example.test", visibility="public", approval="admin")
    realm = (await alice.claim("home")).json()
    assert_problem(await bob.claim("home"), 409, "conflict")
    await client.post(f"/api/v1/admin/realms/{realm['id']}/reject", json={"reason": "no"},
                      headers=bearer(admin))
    assert (await bob.claim("home")).status_code == 201


# --- overlap -------------------------------------------------------------------------


PAIRS = [
    (("a", "subtree"), ("b.a", "host"), True),
    (("b.a", "host"), ("a", "subtree"), True),
    (("a", "below"), ("b.a", "host"), True),
    (("a", "subtree"), ("a", "host"), True),
    (("a", "host"), ("a", "host"), True),
    (("A", "host"), ("a", "host"), True),
    (("www", "host"), ("_acme-challenge.www", "host"), True),
    (("a", "below"), ("a", "host"), False),  # below a leaves a's attached names to a's holder
    (("a", "host"), ("_dmarc.a", "host"), True),  # attached names belong to a's holder
    (("a", "host"), ("s._domainkey.a", "subtree"), True),
    (("a", "subtree"), ("c.b.a", "below"), True),
    (("a", "subtree"), ("xa", "host"), False),
    (("a", "subtree"), ("b", "subtree"), False),
    (("b.a", "host"), ("c.a", "host"), False),
    (("b.a", "host"), ("c.b.a", "host"), False),
    (("b.a", "below"), ("a", "host"), False),
]


async def test_claims_of_different_accounts_never_overlap(client, world, alice, bob):
    for i, (first, second, overlap) in enumerate(PAIRS):
        zone = await world.zone(f"z{i}.test", visibility="public", approval="auto",
                                max_depth=5)
        assert (await alice.claim(*first, zone=zone)).status_code == 201, first
        response = await bob.claim(*second, zone=zone)
        if overlap:
            body = assert_problem(response, 409, "conflict", case=(first, second))
            assert "alice" not in body["detail"]
        else:
            assert response.status_code == 201, (first, second, response.text)


async def test_an_account_may_overlap_itself(client, world, alice, bob):
    await world.zone("example.test", visibility="public", approval="auto")
    assert (await alice.claim("a", "subtree")).status_code == 201
    assert (await alice.claim("b.a", "host")).status_code == 201
    assert (await alice.claim("a", "host")).status_code == 201
    assert_problem(await bob.claim("c.b.a", "host"), 409, "conflict")


async def test_a_revoked_claim_frees_the_name(client, world, alice, bob, admin):
    await world.zone("example.test", visibility="public", approval="auto")
    realm = (await alice.claim("a", "subtree")).json()
    assert_problem(await bob.claim("b.a"), 409, "conflict")
    await client.post(f"{REALMS}/{realm['id']}/revoke", headers=alice.h)
    assert (await bob.claim("b.a")).status_code == 201


async def test_admins_cannot_create_overlapping_claims_either(client, world, alice, bob, admin):
    await world.zone("example.test")
    assert (await alice.claim("a", "subtree")).status_code == 201
    response = await client.post("/api/v1/admin/realms", json={
        "account_id": bob.id, "zone": "example.test", "name": "b.a"}, headers=bearer(admin))
    assert_problem(response, 409, "conflict")


# --- quota, depth, apex -----------------------------------------------------------------


async def test_realm_quota_per_account(client, world, alice, bob, admin):
    await world.zone("example.test", visibility="public", approval="admin", realm_quota=2)
    first = (await alice.claim("one")).json()
    assert (await alice.claim("two")).status_code == 201  # pending claims count too
    assert_problem(await alice.claim("three"), 403, "zone_policy")
    assert (await bob.claim("four")).status_code == 201  # per account
    await client.post(f"/api/v1/admin/realms/{first['id']}/reject", json={"reason": "no"},
                      headers=bearer(admin))
    assert (await alice.claim("three")).status_code == 201
    # an admin may go past the quota for an account
    response = await client.post("/api/v1/admin/realms", json={
        "account_id": alice.id, "zone": "example.test", "name": "five"}, headers=bearer(admin))
    assert response.status_code == 201
    assert response.json()["status"] == "approved"
    # a quota of zero closes the zone to new claims; null lifts it
    await client.patch("/api/v1/admin/zones/example.test", json={"realm_quota": 0},
                       headers=bearer(admin))
    assert_problem(await bob.claim("six"), 403, "zone_policy")
    await client.patch("/api/v1/admin/zones/example.test", json={"realm_quota": None},
                       headers=bearer(admin))
    assert (await alice.claim("seven")).status_code == 201


async def test_depth_bounds(client, world, alice):
    await world.zone("example.test", visibility="public", approval="auto", min_depth=2,
                     max_depth=3)
    for name, kind, allowed in [
        ("a", "host", False), ("a", "subtree", False), ("a", "below", True),
        ("b.a", "host", True), ("b.a", "subtree", True), ("c.b.a", "host", True),
        ("d.c.b.a", "host", False), ("c.b.a", "below", False), ("c.b.a", "subtree", True),
    ]:
        response = await alice.claim(name, kind)  # an account may overlap itself
        if allowed:
            assert response.status_code == 201, (name, kind, response.text)
        else:
            assert_problem(response, 403, "zone_policy", case=(name, kind))


async def test_depth_also_bounds_writes_below_a_subtree(client, world, alice):
    await world.zone("example.test", visibility="public", approval="auto", max_depth=2)
    realm = (await alice.claim("a", "subtree")).json()
    token = (await alice.mint(realm["id"])).json()["token"]
    ok = await client.put("/api/v1/zones/example.test/rrsets/b.a.example.test/A",
                          json={"records": ["192.0.2.1"]}, headers=bearer(token))
    assert ok.status_code == 200
    deep = await client.put("/api/v1/zones/example.test/rrsets/c.b.a.example.test/A",
                            json={"records": ["192.0.2.1"]}, headers=bearer(token))
    assert_problem(deep, 403, "zone_policy")


async def test_apex(client, world, alice):
    for i, (apex_allowed, name, kind, allowed) in enumerate([
        (False, "@", "host", False), (False, "z1.test.", "subtree", False),
        (False, "@", "below", True), (True, "@", "host", True), (True, "@", "subtree", True),
    ]):
        # A claim at the apex always waits for an admin (docs/security.md).
        zone = await world.zone(f"z{i}.test", visibility="public", approval="auto",
                                apex_allowed=apex_allowed)
        response = await alice.claim(name, kind, zone=zone, types=["TXT", "MX"])
        if not allowed:
            assert_problem(response, 403, "zone_policy", case=(apex_allowed, name, kind))
            continue
        assert response.status_code == 201, response.text
        assert response.json()["name"] == zone
        assert response.json()["status"] == "pending"
        assert "apex" in response.json()["pending_reasons"]
        if kind == "below":
            continue
        await world.approve(response.json()["id"])
        token = (await alice.mint(response.json()["id"])).json()["token"]
        put = await client.put(f"/api/v1/zones/{zone}/rrsets/{zone}/MX",
                               json={"records": ["10 mx.example.test."]}, headers=bearer(token))
        assert put.status_code == 200, put.text


# --- bad claims -----------------------------------------------------------------------------


BAD_CLAIMS = [
    ({"name": "*.a"}, 422, "invalid_name"),
    ({"name": "a..b"}, 422, "invalid_name"),
    ({"name": "a.other.test."}, 422, "invalid_name"),
    ({"name": "a", "kind": "forest"}, 422, "invalid_request"),
    ({"name": "a", "types": ["BOGUS"]}, 422, "invalid_request"),
    ({"name": "a", "types": ["NS"]}, 403, "type_not_allowed"),
    ({"name": "a", "operations": ["fly"]}, 422, "invalid_request"),
    ({"name": "a", "account_id": 1}, 422, "invalid_request"),
    ({}, 422, "invalid_request"),
    ({"name": "a", "zone": "nosuch.test"}, 404, "zone_not_found"),
]


async def test_bad_claims(client, world, alice):
    await world.zone("example.test", visibility="public", approval="auto")
    for body, status, code in BAD_CLAIMS:
        response = await client.post(REALMS, json={"zone": "example.test", **body},
                                     headers=alice.h)
        assert_problem(response, status, code, case=body)
    assert (await client.get(REALMS, headers=alice.h)).json() == []


async def test_relative_absolute_and_idn_claim_names(client, world, alice):
    await world.zone("example.test", visibility="public", approval="auto")
    names = []
    for given in ("Home", "www.example.test", "mail.example.test.", "bücher"):
        response = await alice.claim(given)
        assert response.status_code == 201, response.text
        names.append(response.json()["name"])
    assert names == ["home.example.test", "www.example.test", "mail.example.test",
                     "xn--bcher-kva.example.test"]
