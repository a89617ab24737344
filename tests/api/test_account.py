"""``/api/v1/account``: what an account does for itself with its API key."""

from __future__ import annotations

import pytest

from tests.support.api import assert_problem
from tests.support.factories import bearer

ACCOUNT = "/api/v1/account"


@pytest.fixture
def key(world, alice) -> dict[str, str]:
    return bearer(world.api_key(alice))


async def test_me(client, alice, key):
    response = await client.get(ACCOUNT, headers=key)
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["name"], body["role"], body["status"]) == (
        alice, "alice", "user", "active")
    assert "password" not in body and "password_hash" not in body


async def test_my_zones_show_their_policy(client, world, zone, key):
    await world.zone("hidden.test", visibility="private")
    response = await client.get(f"{ACCOUNT}/zones", headers=key)
    assert response.status_code == 200
    (policy,) = response.json()
    assert policy["name"] == "example.test"
    assert policy["visibility"] == "public"
    assert policy["approval"] == "auto"
    assert policy["status"] == "active"
    assert policy["backend"] == "builtin"
    assert policy["provider"] == "builtin"
    assert policy["operations"] == ["read", "create", "update", "delete"]
    assert "A" in policy["types"]
    assert (policy["min_depth"], policy["max_depth"], policy["apex_allowed"]) == (1, None, False)
    assert (policy["ttl_min"], policy["default_ttl"], policy["ttl_max"]) == (60, 300, 86400)


async def test_realms_request_list_get_and_give_up(client, world, zone, alice, key):
    bob = world.account("bob")
    bobs = world.realm(bob, zone, "bob")
    created = await client.post(f"{ACCOUNT}/realms", json={"zone": "example.test",
                                                          "name": "home", "types": ["a"]},
                                headers=key)
    assert created.status_code == 201
    realm = created.json()
    assert realm["types"] == ["A"]
    listed = await client.get(f"{ACCOUNT}/realms", headers=key)
    assert [r["id"] for r in listed.json()] == [realm["id"]]
    assert (await client.get(f"{ACCOUNT}/realms", params={"status": "revoked"},
                             headers=key)).json() == []
    one = await client.get(f"{ACCOUNT}/realms/{realm['id']}", headers=key)
    assert one.json() == realm
    # another account's realm does not exist for me
    assert_problem(await client.get(f"{ACCOUNT}/realms/{bobs}", headers=key), 404, "not_found")
    assert_problem(await client.post(f"{ACCOUNT}/realms/{bobs}/revoke", headers=key), 404,
                   "not_found")
    assert_problem(await client.get(f"{ACCOUNT}/realms/999999", headers=key), 404, "not_found")
    given_up = await client.post(f"{ACCOUNT}/realms/{realm['id']}/revoke", headers=key)
    assert given_up.status_code == 200
    assert given_up.json()["status"] == "revoked"
    assert [r["status"] for r in (await client.get(
        f"{ACCOUNT}/realms", params={"status": "revoked"}, headers=key)).json()] == ["revoked"]


async def test_tokens_create_once_list_and_revoke(client, world, zone, alice, key):
    realm = world.realm(alice, zone, "home", types=["A", "TXT"])
    other_realm = world.realm(alice, zone, "other")
    created = await client.post(f"{ACCOUNT}/tokens", json={
        "realm_id": realm, "name": "router", "types": ["A"], "operations": ["read", "update"],
        "names": ["home"], "cidrs": ["192.0.2.0/24", "2001:db8::1"], "max_idle_seconds": 600,
    }, headers=key)
    assert created.status_code == 201, created.text
    body = created.json()
    secret = body["token"]
    assert secret.startswith(f"dg_{body['id']}_")
    assert (body["realm_id"], body["account_id"], body["name"]) == (realm, alice, "router")
    assert body["types"] == ["A"]
    assert body["operations"] == ["read", "update"]
    assert body["names"] == ["home.example.test"]
    assert body["cidrs"] == ["192.0.2.0/24", "2001:db8::1/128"]
    assert body["max_idle_seconds"] == 600
    assert (body["use_count"], body["revoked_at"], body["last_used_at"]) == (0, None, None)
    second = await client.post(f"{ACCOUNT}/tokens", json={"realm_id": other_realm}, headers=key)
    assert second.status_code == 201

    listed = await client.get(f"{ACCOUNT}/tokens", headers=key)
    assert {t["id"] for t in listed.json()} == {body["id"], second.json()["id"]}
    assert secret not in listed.text
    assert second.json()["token"] not in listed.text
    assert all("token" not in t for t in listed.json())
    by_realm = await client.get(f"{ACCOUNT}/tokens", params={"realm_id": realm}, headers=key)
    assert [t["id"] for t in by_realm.json()] == [body["id"]]

    revoked = await client.post(f"{ACCOUNT}/tokens/{body['id']}/revoke", headers=key)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert "token" not in revoked.json()
    again = await client.post(f"{ACCOUNT}/tokens/{body['id']}/revoke", headers=key)
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]


async def test_tokens_of_other_accounts_are_not_mine(client, world, zone, key):
    bob = world.account("bob")
    bobs_realm = world.realm(bob, zone, "bob")
    bobs_token = world.token(bobs_realm)
    assert_problem(await client.post(f"{ACCOUNT}/tokens", json={"realm_id": bobs_realm},
                                     headers=key), 404, "not_found")
    assert_problem(await client.post(f"{ACCOUNT}/tokens/{bobs_token.id}/revoke", headers=key),
                   404, "not_found")
    assert (await client.get(f"{ACCOUNT}/tokens", headers=key)).json() == []
    whoami = await client.get("/api/v1/whoami", headers=bearer(bobs_token.secret))
    assert whoami.status_code == 200  # still alive


async def test_use_of_a_token_is_tracked(client, world, zone, alice, key):
    token = world.token(world.realm(alice, zone, "home"))
    for _ in range(2):
        response = await client.put("/api/v1/zones/example.test/rrsets/home.example.test/A",
                                    json={"records": ["192.0.2.1"]},
                                    headers=bearer(token.secret))
        assert response.status_code == 200
    (row,) = (await client.get(f"{ACCOUNT}/tokens", headers=key)).json()
    assert row["use_count"] == 2
    assert row["last_used_ip"] == "127.0.0.1"
    assert row["last_used_at"] is not None


async def test_api_keys_create_once_list_revoke_and_expire(client, world, alice, key, clock):
    created = await client.post(f"{ACCOUNT}/api-keys", json={"name": "ci", "expires_in": 60},
                                headers=key)
    assert created.status_code == 201
    body = created.json()
    new_key = body["key"]
    assert new_key.startswith(f"dgk_{body['id']}_")
    assert (body["name"], body["account_id"]) == ("ci", alice)
    assert body["expires_at"] is not None
    listed = await client.get(f"{ACCOUNT}/api-keys", headers=key)
    assert len(listed.json()) == 2
    assert new_key not in listed.text
    assert (await client.get(ACCOUNT, headers=bearer(new_key))).status_code == 200

    clock.advance(61)
    assert_problem(await client.get(ACCOUNT, headers=bearer(new_key)), 401, "token_expired")

    third = (await client.post(f"{ACCOUNT}/api-keys", json={}, headers=key)).json()
    revoked = await client.post(f"{ACCOUNT}/api-keys/{third['id']}/revoke", headers=key)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert "key" not in revoked.json()
    assert_problem(await client.get(ACCOUNT, headers=bearer(third["key"])), 401, "token_revoked")


async def test_api_keys_of_other_accounts_are_not_mine(client, world, key):
    bobs_key = world.api_key(world.account("bob"))
    bobs_id = bobs_key.split("_")[1]
    assert_problem(await client.post(f"{ACCOUNT}/api-keys/{bobs_id}/revoke", headers=key), 404,
                   "not_found")
    assert (await client.get(ACCOUNT, headers=bearer(bobs_key))).status_code == 200


async def test_bad_api_key_requests(client, key):
    for body in ({"name": "x" * 101}, {"expires_in": 0}, {"scope": "all"}):
        response = await client.post(f"{ACCOUNT}/api-keys", json=body, headers=key)
        assert_problem(response, 422, "invalid_request", case=body)
    assert len((await client.get(f"{ACCOUNT}/api-keys", headers=key)).json()) == 1


async def test_my_audit_shows_only_my_events(client, world, zone, alice, key):
    bob = world.account("bob")
    mine = world.token(world.realm(alice, zone, "home"))
    bobs = world.token(world.realm(bob, zone, "bob"))
    for token, name in ((mine, "home"), (bobs, "bob")):
        await client.put(f"/api/v1/zones/example.test/rrsets/{name}.example.test/A",
                         json={"records": ["192.0.2.1"]}, headers=bearer(token.secret))
    await client.put("/api/v1/zones/example.test/rrsets/bob.example.test/A",
                     json={"records": ["192.0.2.1"]}, headers=bearer(mine.secret))
    events = (await client.get(f"{ACCOUNT}/audit", headers=key)).json()
    assert events, "no events"
    assert {e["account_id"] for e in events} == {alice}
    assert [(e["action"], e["name"], e["outcome"]) for e in events] == [
        ("rrset.update", "bob.example.test", "denied"),
        ("rrset.create", "home.example.test", "success"),
    ]
    denied = (await client.get(f"{ACCOUNT}/audit", params={"outcome": "denied"},
                               headers=key)).json()
    assert [e["code"] for e in denied] == ["name_outside_realm"]
    # asking for another token's events still shows only mine
    assert (await client.get(f"{ACCOUNT}/audit", params={"token_id": bobs.id},
                             headers=key)).json() == []
    by_token = (await client.get(f"{ACCOUNT}/audit", params={"token_id": mine.id},
                                 headers=key)).json()
    assert len(by_token) == 2
