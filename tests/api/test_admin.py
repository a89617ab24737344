"""``/api/v1/admin``: accounts, backends, zones, grants, realms, tokens (audit: test_audit)."""

from __future__ import annotations

import pytest

from tests.support.api import assert_problem, rrset, zone_state
from tests.support.factories import bearer

ADMIN = "/api/v1/admin"


@pytest.fixture
def h(admin) -> dict[str, str]:
    return bearer(admin)


# --- accounts -------------------------------------------------------------------------


async def test_accounts_create_list_disable_enable(client, h):
    created = await client.post(f"{ADMIN}/accounts", json={
        "name": "Alice", "email": "alice@example.test", "password": "a long password"},
        headers=h)
    assert created.status_code == 201, created.text
    alice = created.json()
    assert (alice["name"], alice["email"], alice["role"], alice["status"]) == (
        "alice", "alice@example.test", "user", "active")
    assert alice["password"] is None  # the admin chose it; nothing to show
    boss = (await client.post(f"{ADMIN}/accounts", json={"name": "boss", "admin": True},
                              headers=h)).json()
    assert boss["role"] == "admin"
    assert isinstance(boss["password"], str) and len(boss["password"]) >= 16

    listed = await client.get(f"{ADMIN}/accounts", headers=h)
    assert [a["name"] for a in listed.json()] == ["root", "alice", "boss"]
    assert all("password" not in a for a in listed.json())
    assert boss["password"] not in listed.text
    found = await client.get(f"{ADMIN}/accounts", params={"q": "LIC"}, headers=h)
    assert [a["name"] for a in found.json()] == ["alice"]

    disabled = await client.post(f"{ADMIN}/accounts/{alice['id']}/disable", headers=h)
    assert disabled.json()["status"] == "disabled"
    enabled = await client.post(f"{ADMIN}/accounts/{alice['id']}/enable", headers=h)
    assert enabled.json()["status"] == "active"
    for action in ("disable", "enable"):
        assert_problem(await client.post(f"{ADMIN}/accounts/999999/{action}", headers=h), 404,
                       "not_found")


async def test_one_time_password_logs_in(client, h):
    created = (await client.post(f"{ADMIN}/accounts", json={"name": "carol"}, headers=h)).json()
    login = await client.post("/api/v1/auth/api-keys", json={
        "username": "carol", "password": created["password"]})
    assert login.status_code == 201, login.text
    me = await client.get("/api/v1/account", headers=bearer(login.json()["key"]))
    assert me.json()["name"] == "carol"


BAD_ACCOUNTS = [
    {"name": "bad name"}, {"name": ""}, {"name": "-x"}, {"name": "x" * 65},
    {"name": "ok", "password": "short"}, {"name": "ok", "role": "admin"}, {},
]


async def test_bad_account_requests(client, h):
    for body in BAD_ACCOUNTS:
        response = await client.post(f"{ADMIN}/accounts", json=body, headers=h)
        assert_problem(response, 422, "invalid_request", case=body)
    assert [a["name"] for a in (await client.get(f"{ADMIN}/accounts", headers=h)).json()] == [
        "root"]


async def test_backends(client, h):
    response = await client.get(f"{ADMIN}/backends", headers=h)
    assert response.status_code == 200
    (builtin,) = response.json()
    assert (builtin["name"], builtin["provider"], builtin["status"]) == (
        "builtin", "builtin", "active")


# --- zones --------------------------------------------------------------------------------


async def test_zones_add_get_list_and_edit(client, h):
    created = await client.post(f"{ADMIN}/zones", json={"zone": "Example.Test."}, headers=h)
    assert created.status_code == 201, created.text
    zone = created.json()
    assert zone["name"] == "example.test"
    assert (zone["visibility"], zone["approval"], zone["status"]) == ("private", "admin",
                                                                       "active")
    # the built-in backend created it with SOA and NS
    state = await zone_state(client, h["Authorization"].split()[1])
    assert rrset(state, "example.test", "SOA") is not None
    assert rrset(state, "example.test", "NS")["records"] == ["ns1.example.test."]

    second = await client.post(f"{ADMIN}/zones", json={
        "zone": "lab.test", "visibility": "invite", "approval": "auto", "min_depth": 2,
        "max_depth": 4, "apex_allowed": True, "types": ["a", "TXT"],
        "operations": ["read", "update"], "realm_quota": 3, "ttl_min": 30, "ttl_max": 600,
        "default_ttl": 120}, headers=h)
    assert second.status_code == 201, second.text
    lab = second.json()
    assert lab == {
        "name": "lab.test", "backend": "builtin", "provider": "builtin", "status": "active",
        "visibility": "invite", "approval": "auto", "min_depth": 2, "max_depth": 4,
        "apex_allowed": True, "types": ["A", "TXT"], "operations": ["read", "update"],
        "realm_quota": 3, "ttl_min": 30, "ttl_max": 600, "default_ttl": 120,
        "attached_labels": []}

    listed = await client.get(f"{ADMIN}/zones", headers=h)
    assert [z["name"] for z in listed.json()] == ["example.test", "lab.test"]
    got = await client.get(f"{ADMIN}/zones/LAB.test", headers=h)
    assert got.json() == lab

    edited = await client.patch(f"{ADMIN}/zones/lab.test", json={
        "visibility": "public", "max_depth": None, "realm_quota": None, "types": ["AAAA"]},
        headers=h)
    assert edited.status_code == 200, edited.text
    assert edited.json() == {**lab, "visibility": "public", "max_depth": None,
                             "realm_quota": None, "types": ["AAAA"]}
    untouched = await client.patch(f"{ADMIN}/zones/lab.test", json={}, headers=h)
    assert untouched.json() == edited.json()


BAD_ZONES = [
    ({"zone": "bad..zone"}, 422, "invalid_name"),
    ({"zone": "x.test", "backend": "nosuch"}, 404, "not_found"),
    ({"zone": "x.test", "visibility": "secret"}, 422, "invalid_request"),
    ({"zone": "x.test", "types": ["BOGUS"]}, 422, "invalid_request"),
    ({"zone": "x.test", "operations": ["fly"]}, 422, "invalid_request"),
    ({"zone": "x.test", "min_depth": 0}, 422, "invalid_request"),
    ({"zone": "x.test", "min_depth": 3, "max_depth": 2}, 422, "invalid_request"),
    ({"zone": "x.test", "ttl_min": 600, "default_ttl": 300}, 422, "invalid_request"),
    ({"zone": "x.test", "realm_quota": -1}, 422, "invalid_request"),
    ({"zone": "x.test", "colour": "blue"}, 422, "invalid_request"),
]


async def test_bad_zone_requests_create_nothing(client, h):
    for body, status, code in BAD_ZONES:
        response = await client.post(f"{ADMIN}/zones", json=body, headers=h)
        assert_problem(response, status, code, case=body)
        assert_problem(await client.get(f"/api/v1/zones/{body['zone']}/rrsets", headers=h),
                       404, "zone_not_found", case=body)
    assert (await client.get(f"{ADMIN}/zones", headers=h)).json() == []


async def test_bad_zone_edits_change_nothing(client, world, h):
    await world.zone("example.test")
    before = (await client.get(f"{ADMIN}/zones/example.test", headers=h)).json()
    for body in ({"status": "gone"}, {"min_depth": 0}, {"max_depth": 0}, {"default_ttl": 1},
                 {"name": "other.test"}):
        response = await client.patch(f"{ADMIN}/zones/example.test", json=body, headers=h)
        assert_problem(response, 422, "invalid_request", case=body)
    assert (await client.get(f"{ADMIN}/zones/example.test", headers=h)).json() == before


async def test_unknown_zones(client, h):
    assert_problem(await client.get(f"{ADMIN}/zones/nosuch.test", headers=h), 404,
                   "zone_not_found")
    assert_problem(await client.patch(f"{ADMIN}/zones/nosuch.test", json={}, headers=h), 404,
                   "zone_not_found")
    assert_problem(await client.post(f"{ADMIN}/zones/nosuch.test/grants",
                                     json={"account_id": 1}, headers=h), 404, "zone_not_found")


# --- grants -------------------------------------------------------------------------------


async def test_grants_create_list_revoke(client, world, h, clock):
    await world.zone("example.test", visibility="private")
    alice = world.account("alice")
    created = await client.post(f"{ADMIN}/zones/example.test/grants", json={
        "account_id": alice, "types": ["txt"], "operations": ["read"], "max_realms": 2},
        headers=h)
    assert created.status_code == 201, created.text
    grant = created.json()
    assert (grant["zone"], grant["account_id"], grant["types"], grant["operations"],
            grant["max_realms"], grant["revoked_at"]) == (
        "example.test", alice, ["TXT"], ["read"], 2, None)
    assert_problem(await client.post(f"{ADMIN}/zones/example.test/grants",
                                     json={"account_id": alice}, headers=h), 409, "conflict")
    listed = await client.get(f"{ADMIN}/zones/example.test/grants", headers=h)
    assert [g["id"] for g in listed.json()] == [grant["id"]]

    revoked = await client.post(f"{ADMIN}/grants/{grant['id']}/revoke", headers=h)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert revoked.json()["zone"] == "example.test"
    # a revoked grant may be replaced by a new one
    again = await client.post(f"{ADMIN}/zones/example.test/grants", json={"account_id": alice},
                              headers=h)
    assert again.status_code == 201
    assert again.json()["types"] is None
    assert_problem(await client.post(f"{ADMIN}/grants/999999/revoke", headers=h), 404,
                   "not_found")


async def test_bad_grants(client, world, h):
    await world.zone("example.test", visibility="private")
    alice = world.account("alice")
    for body, status, code in [
        ({"account_id": 999999}, 404, "not_found"),
        ({"account_id": "me"}, 422, "invalid_request"),
        ({"account_id": alice, "max_realms": -1}, 422, "invalid_request"),
        ({"account_id": alice, "expires_at": "2001-01-01T00:00:00Z"}, 422, "invalid_request"),
        ({"account_id": alice, "types": ["BOGUS"]}, 422, "invalid_request"),
    ]:
        response = await client.post(f"{ADMIN}/zones/example.test/grants", json=body,
                                     headers=h)
        assert_problem(response, status, code, case=body)
    assert (await client.get(f"{ADMIN}/zones/example.test/grants", headers=h)).json() == []


# --- realms -------------------------------------------------------------------------------


async def test_realms_created_by_admins_are_approved_and_filterable(client, world, h):
    await world.zone("example.test", approval="admin", min_depth=2)
    await world.zone("other.test")
    alice, bob = world.account("alice"), world.account("bob")
    created = await client.post(f"{ADMIN}/realms", json={
        "account_id": alice, "zone": "example.test", "name": "home", "kind": "subtree",
        "types": ["A"], "operations": ["read", "update"]}, headers=h)
    assert created.status_code == 201, created.text
    realm = created.json()
    assert (realm["account_id"], realm["name"], realm["kind"], realm["status"],
            realm["types"], realm["operations"]) == (
        alice, "home.example.test", "subtree", "approved", ["A"], ["read", "update"])
    assert realm["decided_at"] is not None  # min_depth does not bind admins
    world.realm(bob, "other.test", "x")
    pending = (await client.post("/api/v1/account/realms", json={
        "zone": "example.test", "name": "a.b"}, headers=bearer(world.api_key(bob)))).json()
    assert pending["status"] == "pending"

    async def ids(**params):
        response = await client.get(f"{ADMIN}/realms", params=params, headers=h)
        assert response.status_code == 200
        return [r["id"] for r in response.json()]

    everything = await ids()
    assert len(everything) == 3
    assert await ids(status="pending") == [pending["id"]]
    assert await ids(zone="example.test") == [realm["id"], pending["id"]]
    assert await ids(account_id=alice) == [realm["id"]]
    assert await ids(account_id=bob, zone="example.test") == [pending["id"]]
    for action in ("approve", "revoke"):
        assert_problem(await client.post(f"{ADMIN}/realms/999999/{action}", headers=h), 404,
                       "not_found")
    assert_problem(await client.post(f"{ADMIN}/realms/999999/reject", json={"reason": "x"},
                                     headers=h), 404, "not_found")
    assert_problem(await client.post(f"{ADMIN}/realms", json={
        "account_id": alice, "zone": "example.test", "name": "x", "kind": "forest"},
        headers=h), 422, "invalid_request")


# --- tokens ---------------------------------------------------------------------------------


async def test_tokens_mint_list_revoke_for_any_account(client, world, h):
    zone = await world.zone("example.test")
    alice, bob = world.account("alice"), world.account("bob")
    realm_a = world.realm(alice, zone, "a")
    realm_b = world.realm(bob, zone, "b")
    minted = await client.post(f"{ADMIN}/tokens", json={"realm_id": realm_a, "name": "x"},
                               headers=h)
    assert minted.status_code == 201, minted.text
    token = minted.json()
    assert token["account_id"] == alice  # the realm's owner, not the admin
    works = await client.put("/api/v1/zones/example.test/rrsets/a.example.test/A",
                             json={"records": ["192.0.2.1"]}, headers=bearer(token["token"]))
    assert works.status_code == 200
    other = world.token(realm_b)

    async def ids(**params):
        response = await client.get(f"{ADMIN}/tokens", params=params, headers=h)
        assert response.status_code == 200
        assert token["token"] not in response.text
        return sorted(t["id"] for t in response.json())

    assert await ids() == sorted([token["id"], other.id])
    assert await ids(account_id=alice) == [token["id"]]
    assert await ids(realm_id=realm_b) == [other.id]
    assert await ids(q=token["id"][:6].upper()) == [token["id"]]
    assert await ids(q="%") == []

    revoked = await client.post(f"{ADMIN}/tokens/{other.id}/revoke", headers=h)
    assert revoked.json()["revoked_at"] is not None
    assert_problem(await client.post(f"{ADMIN}/tokens/nosuchtoken/revoke", headers=h), 404,
                   "not_found")
    assert_problem(await client.post(f"{ADMIN}/tokens", json={"realm_id": 999999}, headers=h),
                   404, "not_found")
