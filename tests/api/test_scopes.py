"""What a realm and its tokens reach, over HTTP: realm kinds, the ACME TXT of a host,
wildcards, token narrowing (names, types, operations, CIDRs, validity window,
idle time), and revocation/disabling taking effect on the very next request."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.api import assert_problem, rrset, zone_state
from tests.support.factories import bearer

RRSETS = "/api/v1/zones/example.test/rrsets"


async def put(client, secret, name, rtype="A", records=("192.0.2.1",)):
    return await client.put(f"{RRSETS}/{name}/{rtype}", json={"records": list(records)},
                            headers=bearer(secret))


async def status_of(client, secret, name, rtype="A", records=("192.0.2.1",)):
    response = await put(client, secret, name, rtype, records)
    return response.status_code if response.status_code < 400 else response.json()["code"]


# --- realm kinds ------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "expected"), [
    ("host", {"lab": 200, "a.lab": "name_outside_realm", "b.a.lab": "name_outside_realm",
              "*.lab": "name_outside_realm", "xlab": "name_outside_realm",
              "lab.lab": "name_outside_realm"}),
    ("subtree", {"lab": 200, "a.lab": 200, "b.a.lab": 200, "*.lab": 200, "*.a.lab": 200,
                 "xlab": "name_outside_realm", "example.test": "name_outside_realm"}),
    ("below", {"lab": "name_outside_realm", "a.lab": 200, "b.a.lab": 200, "*.lab": 200,
               "xlab": "name_outside_realm", "example.test": "name_outside_realm"}),
])
async def test_realm_kinds(client, world, zone, alice, kind, expected):
    token = world.token(world.realm(alice, zone, "lab", kind=kind))
    got = {}
    for relative in expected:
        name = relative if relative == "example.test" else f"{relative}.example.test"
        got[relative] = await status_of(client, token.secret, name)
    assert got == expected


async def test_wildcard_records_are_stored_and_read_back(client, world, zone, alice, admin):
    token = world.token(world.realm(alice, zone, "lab", kind="below"))
    response = await put(client, token.secret, "*.lab.example.test")
    assert response.json()["name"] == "*.lab.example.test"
    seen = await client.get(RRSETS, headers=bearer(token.secret))
    assert [r["name"] for r in seen.json()] == ["*.lab.example.test"]
    assert rrset(await zone_state(client, admin), "*.lab.example.test", "A") is not None


async def test_host_realm_with_txt_covers_its_acme_challenge(client, world, zone, alice, admin):
    with_txt = world.token(world.realm(alice, zone, "www", types=["A", "TXT"]))
    challenge = "_acme-challenge.www.example.test"
    assert await status_of(client, with_txt.secret, challenge, "TXT", ["token-value"]) == 200
    # the host's attached names, with the realm's own types; nothing below them
    assert await status_of(client, with_txt.secret, challenge, "A") == 200
    assert await status_of(client, with_txt.secret, "_acme-challenge.x.www.example.test",
                           "TXT", ["v"]) == "name_outside_realm"
    assert await status_of(client, with_txt.secret, "_acme-challenge.example.test", "TXT",
                           ["v"]) == "name_outside_realm"
    seen = await client.get(RRSETS, headers=bearer(with_txt.secret))
    assert [(r["name"], r["type"]) for r in seen.json()] == [(challenge, "A"),
                                                              (challenge, "TXT")]
    deleted = await client.delete(f"{RRSETS}/{challenge}/TXT", headers=bearer(with_txt.secret))
    assert deleted.status_code == 204

    bob = world.account("bob")
    without_txt = world.token(world.realm(bob, zone, "mail", types=["A"]))
    assert await status_of(client, without_txt.secret, "_acme-challenge.mail.example.test",
                           "TXT", ["v"]) == "type_not_allowed"


# --- token narrowing ----------------------------------------------------------------------


async def test_token_names_narrow_the_realm(client, world, zone, alice):
    realm = world.realm(alice, zone, "lab", kind="subtree", types=["A", "TXT"])
    token = world.token(realm, names_=["a.lab", "B.LAB.example.test."])
    assert await status_of(client, token.secret, "a.lab.example.test") == 200
    assert await status_of(client, token.secret, "b.lab.example.test") == 200
    assert await status_of(client, token.secret, "c.lab.example.test") == "name_outside_realm"
    assert await status_of(client, token.secret, "lab.example.test") == "name_outside_realm"


async def test_token_types_narrow_the_realm(client, world, zone, alice):
    token = world.token(world.realm(alice, zone, "home", types=["A", "AAAA"]), types=["AAAA"])
    assert await status_of(client, token.secret, "home.example.test", "AAAA",
                           ["2001:db8::1"]) == 200
    assert await status_of(client, token.secret, "home.example.test") == "type_not_allowed"


async def test_update_only_token_cannot_create_but_can_update(client, world, zone, alice,
                                                              admin):
    token = world.token(world.realm(alice, zone, "home"), operations=["update"])
    assert await status_of(client, token.secret, "home.example.test") == \
        "operation_not_allowed"
    assert rrset(await zone_state(client, admin), "home.example.test", "A") is None
    assert await status_of(client, admin, "home.example.test") == 200
    assert await status_of(client, token.secret, "home.example.test", "A",
                           ["192.0.2.2"]) == 200
    state = await zone_state(client, admin)
    assert rrset(state, "home.example.test", "A")["records"] == ["192.0.2.2"]
    deleted = await client.delete(f"{RRSETS}/home.example.test/A", headers=bearer(token.secret))
    assert_problem(deleted, 403, "operation_not_allowed")
    # without "read" it sees nothing
    assert (await client.get(RRSETS, headers=bearer(token.secret))).json() == []


async def test_create_only_token_cannot_replace(client, world, zone, alice):
    token = world.token(world.realm(alice, zone, "home"), operations=["create"])
    assert await status_of(client, token.secret, "home.example.test") == 200
    assert await status_of(client, token.secret, "home.example.test", "A",
                           ["192.0.2.9"]) == "operation_not_allowed"
    # the same data again changes nothing and is not an update
    assert await status_of(client, token.secret, "home.example.test") == "operation_not_allowed"


async def test_delete_only_token(client, world, zone, alice, admin):
    token = world.token(world.realm(alice, zone, "home"), operations=["delete"])
    await put(client, admin, "home.example.test")
    assert await status_of(client, token.secret, "home.example.test", "A",
                           ["192.0.2.3"]) == "operation_not_allowed"
    deleted = await client.delete(f"{RRSETS}/home.example.test/A", headers=bearer(token.secret))
    assert deleted.status_code == 204
    assert rrset(await zone_state(client, admin), "home.example.test", "A") is None


async def test_token_cidrs_against_the_client_address(client, world, zone, alice):
    realm = world.realm(alice, zone, "home")
    inside = world.token(realm, cidrs=["10.0.0.0/8", "127.0.0.0/30"])
    exact = world.token(realm, cidrs=["127.0.0.1"])
    outside = world.token(realm, cidrs=["127.0.0.2/32", "::1/128"])
    assert await status_of(client, inside.secret, "home.example.test") == 200
    assert await status_of(client, exact.secret, "home.example.test") == 200
    assert await status_of(client, outside.secret, "home.example.test") == "ip_not_allowed"
    assert_problem(await client.get("/api/v1/whoami", headers=bearer(outside.secret)), 403,
                   "ip_not_allowed")
    assert_problem(await client.get(RRSETS, headers=bearer(outside.secret)), 403,
                   "ip_not_allowed")


async def test_token_cidrs_from_another_peer(app, world, zone, alice, make_client):
    token = world.token(world.realm(alice, zone, "home"), cidrs=["192.0.2.0/24"])
    async with make_client(app, peer="192.0.2.77") as inside:
        assert await status_of(inside, token.secret, "home.example.test") == 200
    async with make_client(app, peer="198.51.100.1") as outside:
        assert await status_of(outside, token.secret, "home.example.test") == "ip_not_allowed"


async def test_not_before_and_expiry(client, world, zone, alice, clock):
    realm = world.realm(alice, zone, "home")
    now = clock()
    later = world.token(realm, not_before=now + timedelta(hours=1))
    assert_problem(await client.get("/api/v1/whoami", headers=bearer(later.secret)), 401,
                   "token_expired")
    clock.advance(3601)
    assert (await client.get("/api/v1/whoami", headers=bearer(later.secret))).status_code == 200

    soon = world.token(realm, expires_at=clock() + timedelta(seconds=30))
    assert await status_of(client, soon.secret, "home.example.test") == 200
    clock.advance(25)
    assert await status_of(client, soon.secret, "home.example.test", "A", ["192.0.2.2"]) == 200
    clock.advance(5)  # expires_at itself is already too late
    response = await put(client, soon.secret, "home.example.test")
    assert_problem(response, 401, "token_expired")
    assert_problem(await client.get(RRSETS, headers=bearer(soon.secret)), 401, "token_expired")


async def test_expires_in_and_expires_at_over_the_api(client, world, zone, alice, clock):
    realm = world.realm(alice, zone, "home")
    key = bearer(world.api_key(alice))
    by_in = await client.post("/api/v1/account/tokens", json={"realm_id": realm,
                                                              "expires_in": 60}, headers=key)
    at = (clock() + timedelta(seconds=120)).isoformat()
    by_at = await client.post("/api/v1/account/tokens", json={"realm_id": realm,
                                                              "expires_at": at}, headers=key)
    assert by_in.status_code == by_at.status_code == 201
    first, second = by_in.json()["token"], by_at.json()["token"]
    assert await status_of(client, first, "home.example.test") == 200
    clock.advance(61)
    assert_problem(await put(client, first, "home.example.test"), 401, "token_expired")
    assert await status_of(client, second, "home.example.test", "A", ["192.0.2.5"]) == 200
    clock.advance(60)
    assert_problem(await put(client, second, "home.example.test"), 401, "token_expired")


async def test_max_idle_seconds(client, world, zone, alice, clock):
    token = world.token(world.realm(alice, zone, "home"), max_idle_seconds=300)
    assert await status_of(client, token.secret, "home.example.test") == 200
    clock.advance(290)
    assert await status_of(client, token.secret, "home.example.test", "A", ["192.0.2.2"]) == 200
    clock.advance(290)  # idle time counts from the last use
    assert await status_of(client, token.secret, "home.example.test", "A", ["192.0.2.3"]) == 200
    clock.advance(301)
    assert_problem(await put(client, token.secret, "home.example.test"), 401, "token_expired")
    # trying again does not count as use: the token stays expired
    assert_problem(await put(client, token.secret, "home.example.test"), 401, "token_expired")
    assert_problem(await client.get("/api/v1/whoami", headers=bearer(token.secret)), 401,
                   "token_expired")


async def test_a_token_refused_for_its_address_does_not_stay_alive(app, world, zone, alice,
                                                                   clock, make_client):
    token = world.token(world.realm(alice, zone, "home"), max_idle_seconds=300,
                        cidrs=["192.0.2.0/24"])
    async with make_client(app, peer="192.0.2.1") as inside, \
            make_client(app, peer="203.0.113.1") as outside:
        assert await status_of(inside, token.secret, "home.example.test") == 200
        clock.advance(200)
        assert await status_of(outside, token.secret, "home.example.test") == "ip_not_allowed"
        clock.advance(200)  # 400 s after the last use, 200 s after the refused attempt
        assert_problem(await put(inside, token.secret, "home.example.test"), 401,
                       "token_expired")


BAD_SCOPES = [
    ({"types": ["MX"]}, "invalid_request"),
    ({"operations": ["read", "fly"]}, "invalid_request"),
    ({"operations": ["delete"]}, "invalid_request"),
    ({"names": ["other"]}, "invalid_name"),
    ({"names": ["x.home"]}, "invalid_name"),
    ({"cidrs": ["10.0.0.0/33"]}, "invalid_request"),
    ({"cidrs": ["not-a-network"]}, "invalid_request"),
    ({"expires_in": 0}, "invalid_request"),
    ({"max_idle_seconds": 0}, "invalid_request"),
    ({"expires_at": "2000-01-01T00:00:00Z"}, "invalid_request"),
    ({"not_before": "2999-01-02T00:00:00Z", "expires_at": "2999-01-01T00:00:00Z"},
     "invalid_request"),
]


async def test_token_scopes_are_subsets_of_the_realm(client, world, zone, alice):
    realm = world.realm(alice, zone, "home", types=["A", "TXT"], ops=["read", "update"])
    key = bearer(world.api_key(alice))
    for scope, code in BAD_SCOPES:
        response = await client.post("/api/v1/account/tokens",
                                     json={"realm_id": realm, **scope}, headers=key)
        assert_problem(response, 422, code, case=scope)
    assert (await client.get("/api/v1/account/tokens", headers=key)).json() == []


async def test_token_may_name_the_acme_challenge_of_a_host_realm(client, world, zone, alice):
    realm = world.realm(alice, zone, "www", types=["A", "TXT"])
    key = bearer(world.api_key(alice))
    response = await client.post("/api/v1/account/tokens", json={
        "realm_id": realm, "names": ["_acme-challenge.www"], "types": ["TXT"]}, headers=key)
    assert response.status_code == 201, response.text
    secret = response.json()["token"]
    assert await status_of(client, secret, "_acme-challenge.www.example.test", "TXT",
                           ["v"]) == 200
    assert await status_of(client, secret, "www.example.test", "TXT", ["v"]) == \
        "name_outside_realm"


# --- the very next request ---------------------------------------------------------------


async def test_revocation_disabling_and_zone_status_take_effect_at_once(client, world, zone,
                                                                        alice, admin):
    realm = world.realm(alice, zone, "home")
    a, b, c = world.token(realm), world.token(realm), world.token(realm)
    admin_h = bearer(admin)
    for token in (a, b, c):
        assert await status_of(client, token.secret, "home.example.test") == 200

    await client.post(f"/api/v1/admin/tokens/{a.id}/revoke", headers=admin_h)
    assert_problem(await put(client, a.secret, "home.example.test"), 401, "token_revoked")
    assert await status_of(client, b.secret, "home.example.test") == 200

    await client.patch("/api/v1/admin/zones/example.test", json={"status": "disabled"},
                       headers=admin_h)
    assert_problem(await put(client, b.secret, "home.example.test"), 403, "zone_disabled")
    await client.patch("/api/v1/admin/zones/example.test", json={"status": "active"},
                       headers=admin_h)
    assert await status_of(client, b.secret, "home.example.test") == 200

    await client.post(f"/api/v1/admin/accounts/{alice}/disable", headers=admin_h)
    assert_problem(await put(client, b.secret, "home.example.test"), 403, "account_disabled")
    await client.post(f"/api/v1/admin/accounts/{alice}/enable", headers=admin_h)
    assert await status_of(client, b.secret, "home.example.test") == 200

    await client.post(f"/api/v1/admin/realms/{realm}/revoke", headers=admin_h)
    assert_problem(await put(client, c.secret, "home.example.test"), 403, "realm_inactive")
    assert (await client.get(RRSETS, headers=bearer(c.secret))).json() == []


async def test_owner_revokes_own_token_and_realm(client, world, zone, alice):
    realm = world.realm(alice, zone, "home")
    key = bearer(world.api_key(alice))
    token = world.token(realm)
    other = world.token(realm)
    revoked = await client.post(f"/api/v1/account/tokens/{token.id}/revoke", headers=key)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert_problem(await put(client, token.secret, "home.example.test"), 401, "token_revoked")
    given_up = await client.post(f"/api/v1/account/realms/{realm}/revoke", headers=key)
    assert given_up.json()["status"] == "revoked"
    assert_problem(await put(client, other.secret, "home.example.test"), 403, "realm_inactive")


async def test_zone_policy_changes_bind_existing_realms_at_once(client, world, zone, alice,
                                                                admin):
    token = world.token(world.realm(alice, zone, "home", types=["A", "TXT"]))
    assert await status_of(client, token.secret, "home.example.test", "TXT", ["v"]) == 200
    edit = await client.patch("/api/v1/admin/zones/example.test",
                              json={"types": ["A"], "operations": ["read", "create"]},
                              headers=bearer(admin))
    assert edit.status_code == 200
    assert await status_of(client, token.secret, "home.example.test", "TXT", ["w"]) == \
        "type_not_allowed"
    assert await status_of(client, token.secret, "home.example.test") == 200  # a create
    assert await status_of(client, token.secret, "home.example.test", "A",
                           ["192.0.2.2"]) == "operation_not_allowed"  # an update
    # what the zone no longer allows is no longer visible either
    seen = await client.get(RRSETS, headers=bearer(token.secret))
    assert [(r["name"], r["type"]) for r in seen.json()] == [("home.example.test", "A")]
