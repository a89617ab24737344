"""The machine surface of api/records.py: whoami, zones, RRsets (GET, PUT, DELETE)."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.support.api import assert_problem, rrset, soa_serial, zone_state
from tests.support.factories import bearer

RRSETS = "/api/v1/zones/example.test/rrsets"


def put(client, token, name, rtype, records, ttl=None, zone="example.test"):
    body = {"records": records} if ttl is None else {"records": records, "ttl": ttl}
    return client.put(f"/api/v1/zones/{zone}/rrsets/{name}/{rtype}", json=body,
                      headers=bearer(token))


# --- whoami and zones -------------------------------------------------------


async def test_whoami_of_a_token_shows_its_realm_and_narrowing(client, world, zone, alice):
    realm = world.realm(alice, zone, "home", kind="host", types=["A", "AAAA"])
    token = world.token(realm, types=["A"], operations=["read", "update"],
                        cidrs=["127.0.0.0/8"])
    response = await client.get("/api/v1/whoami", headers=bearer(token.secret))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["kind"] == "token"
    assert body["account_id"] == alice
    assert body["admin"] is False
    assert body["realms"] == [{"id": realm, "zone": "example.test", "name": "home.example.test",
                               "kind": "host", "types": ["A", "AAAA"],
                               "operations": ["create", "delete", "read", "update"]}]
    assert body["token"]["id"] == token.id
    assert body["token"]["types"] == ["A"]
    assert body["token"]["operations"] == ["read", "update"]
    assert body["token"]["cidrs"] == ["127.0.0.0/8"]
    assert body["token"]["names"] is None
    assert token.secret not in response.text


async def test_whoami_of_api_keys(client, world, zone, alice, admin):
    world.realm(alice, zone, "home")
    user = await client.get("/api/v1/whoami", headers=bearer(world.api_key(alice)))
    assert user.status_code == 200
    assert user.json()["kind"] == "api_key"
    assert user.json()["admin"] is False
    assert [r["name"] for r in user.json()["realms"]] == ["home.example.test"]
    assert user.json()["token"] is None

    root = await client.get("/api/v1/whoami", headers=bearer(admin))
    assert root.json()["kind"] == "api_key"
    assert root.json()["admin"] is True


async def test_zones_visible_to_a_token_is_only_its_own(client, world, zone, alice, admin):
    await world.zone("other.test")
    token = world.token(world.realm(alice, zone, "home"))
    response = await client.get("/api/v1/zones", headers=bearer(token.secret))
    assert response.status_code == 200
    assert response.json() == [{"name": "example.test", "backend": "builtin",
                                "visibility": "public"}]
    everything = await client.get("/api/v1/zones", headers=bearer(admin))
    assert [z["name"] for z in everything.json()] == ["example.test", "other.test"]


async def test_zones_visible_to_an_account_key(client, world, zone, alice):
    await world.zone("private.test", visibility="private")
    await world.zone("invite.test", visibility="invite")
    response = await client.get("/api/v1/zones", headers=bearer(world.api_key(alice)))
    assert [z["name"] for z in response.json()] == ["example.test", "invite.test"]


# --- GET ------------------------------------------------------------------------


async def test_put_then_get_round_trip_in_canonical_form(client, world, zone, alice):
    token = world.token(world.realm(alice, zone, "home", kind="subtree"))
    cases = [
        ("home.example.test", "AAAA", ["2001:DB8:0:0::1"], ["2001:db8::1"]),
        ("www.home.example.test", "CNAME", ["target.example.net"], ["target.example.net."]),
        ("home.example.test", "MX", ["10 mail.example.test."], ["10 mail.example.test."]),
        ("home.example.test", "TXT", ['v=spf1 "-all"'], ['"v=spf1 \\"-all\\""']),
        ("_sip._tcp.home.example.test", "SRV", ["0 5 5060 sip.example.test."],
         ["0 5 5060 sip.example.test."]),
        ("home.example.test", "CAA", ['0 issue "letsencrypt.org"'],
         ['0 issue "letsencrypt.org"']),
    ]
    for name, rtype, given, canonical in cases:
        response = await put(client, token.secret, name, rtype, given)
        assert response.status_code == 200, (name, rtype, response.text)
        assert response.json() == {"name": name, "type": rtype, "ttl": 300,
                                   "records": canonical}
        one = await client.get(f"{RRSETS}/{name}/{rtype}", headers=bearer(token.secret))
        assert one.status_code == 200
        assert one.json() == response.json()


async def test_long_txt_is_split_into_strings(client, world, zone, alice):
    token = world.token(world.realm(alice, zone, "home", types=["TXT"]))
    value = "k=" + "a" * 600
    response = await put(client, token.secret, "home.example.test", "TXT", [value])
    assert response.status_code == 200
    (record,) = response.json()["records"]
    strings = record.split('" "')
    assert len(strings) == 3
    assert "".join(s.strip('"') for s in strings) == value


async def test_names_in_paths_are_normalized(client, world, zone, alice):
    token = world.token(world.realm(alice, zone, "home"))
    response = await put(client, token.secret, "HOME.Example.TEST.", "a", ["192.0.2.1"],
                         zone="Example.Test.")
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "home.example.test"
    assert response.json()["type"] == "A"


async def test_idn_names_become_a_labels(client, world, zone, alice, admin):
    token = world.token(world.realm(alice, zone, "bücher", kind="host"))
    response = await put(client, token.secret, "BÜCHER.example.test", "A", ["192.0.2.1"])
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "xn--bcher-kva.example.test"
    state = await zone_state(client, admin)
    assert rrset(state, "xn--bcher-kva.example.test", "A") is not None


async def test_get_filters_by_name_and_type(client, world, zone, alice):
    token = world.token(world.realm(alice, zone, "lab", kind="subtree"))
    for name, rtype, data in [("lab.example.test", "A", "192.0.2.1"),
                              ("lab.example.test", "AAAA", "2001:db8::1"),
                              ("x.lab.example.test", "A", "192.0.2.2")]:
        assert (await put(client, token.secret, name, rtype, [data])).status_code == 200
    h = bearer(token.secret)
    everything = (await client.get(RRSETS, headers=h)).json()
    assert [(r["name"], r["type"]) for r in everything] == [
        ("lab.example.test", "A"), ("lab.example.test", "AAAA"), ("x.lab.example.test", "A")]
    by_name = (await client.get(RRSETS, params={"name": "lab.example.test"}, headers=h)).json()
    assert [(r["name"], r["type"]) for r in by_name] == [
        ("lab.example.test", "A"), ("lab.example.test", "AAAA")]
    by_type = (await client.get(RRSETS, params={"type": "a"}, headers=h)).json()
    assert [(r["name"], r["type"]) for r in by_type] == [
        ("lab.example.test", "A"), ("x.lab.example.test", "A")]
    both = (await client.get(RRSETS, params={"name": "x.lab.example.test", "type": "A"},
                             headers=h)).json()
    assert both == [{"name": "x.lab.example.test", "type": "A", "ttl": 300,
                     "records": ["192.0.2.2"]}]


async def test_get_one_absent_rrset_is_404(client, world, zone, alice):
    token = world.token(world.realm(alice, zone, "home"))
    response = await client.get(f"{RRSETS}/home.example.test/A", headers=bearer(token.secret))
    assert_problem(response, 404, "not_found")


async def test_get_returns_only_rrsets_inside_the_realm(client, world, zone, alice, admin):
    for name, rtype, data in [("home.example.test", "A", "192.0.2.1"),
                              ("other.example.test", "A", "192.0.2.2"),
                              ("x.home.example.test", "A", "192.0.2.3"),
                              ("xhome.example.test", "A", "192.0.2.4"),
                              ("home.example.test", "MX", "10 mx.example.test.")]:
        assert (await put(client, admin, name, rtype, [data])).status_code == 200
    token = world.token(world.realm(alice, zone, "home", kind="host", types=["A", "AAAA"]))
    h = bearer(token.secret)
    seen = (await client.get(RRSETS, headers=h)).json()
    assert seen == [{"name": "home.example.test", "type": "A", "ttl": 300,
                     "records": ["192.0.2.1"]}]
    # asking for a name or type outside the realm finds nothing
    for params in ({"name": "other.example.test"}, {"name": "x.home.example.test"},
                   {"type": "MX"}, {"name": "example.test"}, {"type": "SOA"},
                   {"type": "NS"}):
        response = await client.get(RRSETS, params=params, headers=h)
        assert response.status_code == 200
        assert response.json() == [], params
    for path in ("other.example.test/A", "home.example.test/MX", "example.test/SOA",
                 "example.test/NS"):
        assert_problem(await client.get(f"{RRSETS}/{path}", headers=h), 404, "not_found")


async def test_admin_sees_soa_and_ns(client, admin, zone):
    state = await zone_state(client, admin)
    assert [(r["name"], r["type"]) for r in state] == [("example.test", "NS"),
                                                       ("example.test", "SOA")]
    assert rrset(state, "example.test", "NS")["records"] == ["ns1.example.test."]
    one = await client.get(f"{RRSETS}/example.test/SOA", headers=bearer(admin))
    assert one.status_code == 200
    assert one.json()["records"][0].startswith("ns1.example.test. hostmaster.example.test. ")


async def test_account_key_reads_and_writes_through_its_realms(client, world, zone, alice,
                                                              admin):
    world.realm(alice, zone, "home", types=["A"])
    key = world.api_key(alice)
    assert (await put(client, admin, "other.example.test", "A", ["192.0.2.9"])).status_code == 200
    response = await put(client, key, "home.example.test", "A", ["192.0.2.1"])
    assert response.status_code == 200
    assert [r["name"] for r in (await client.get(RRSETS, headers=bearer(key))).json()] == [
        "home.example.test"]
    denied = await put(client, key, "other.example.test", "A", ["192.0.2.1"])
    assert_problem(denied, 403, "name_outside_realm")


# --- PUT and DELETE ----------------------------------------------------------------


async def test_put_replaces_and_ttl_defaults_to_the_zone(client, world, zone, alice, admin):
    token = world.token(world.realm(alice, zone, "home"))
    first = await put(client, token.secret, "home.example.test", "A",
                      ["192.0.2.1", "192.0.2.2", "192.0.2.1"])
    assert first.json() == {"name": "home.example.test", "type": "A", "ttl": 300,
                            "records": ["192.0.2.1", "192.0.2.2"]}
    second = await put(client, token.secret, "home.example.test", "A", ["192.0.2.3"], ttl=600)
    assert second.json() == {"name": "home.example.test", "type": "A", "ttl": 600,
                             "records": ["192.0.2.3"]}
    state = await zone_state(client, admin)
    assert rrset(state, "home.example.test", "A") == second.json()


async def test_delete_removes_and_is_idempotent(client, world, zone, alice, admin):
    token = world.token(world.realm(alice, zone, "home"))
    await put(client, token.secret, "home.example.test", "A", ["192.0.2.1"])
    url = f"{RRSETS}/home.example.test/A"
    deleted = await client.delete(url, headers=bearer(token.secret))
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert rrset(await zone_state(client, admin), "home.example.test", "A") is None
    before = await zone_state(client, admin)
    again = await client.delete(url, headers=bearer(token.secret))
    assert again.status_code == 204
    assert await zone_state(client, admin) == before  # nothing to delete: serial unchanged


async def test_cname_cannot_join_other_data(client, world, zone, alice, admin):
    token = world.token(world.realm(alice, zone, "home", kind="subtree"))
    await put(client, token.secret, "home.example.test", "A", ["192.0.2.1"])
    before = await zone_state(client, admin)
    response = await put(client, token.secret, "home.example.test", "CNAME", ["x.example.net."])
    assert_problem(response, 422, "invalid_record")
    assert await zone_state(client, admin) == before
    await put(client, token.secret, "www.home.example.test", "CNAME", ["x.example.net."])
    before = await zone_state(client, admin)
    response = await put(client, token.secret, "www.home.example.test", "TXT", ["hi"])
    assert_problem(response, 422, "invalid_record")
    assert await zone_state(client, admin) == before


async def test_ttl_outside_the_zone_bounds_is_invalid(client, world, alice, admin):
    zone = await world.zone("example.test", ttl_min=120, ttl_max=3600, default_ttl=600)
    token = world.token(world.realm(alice, zone, "home"))
    before = await zone_state(client, admin)
    for ttl in (119, 3601, -1):
        response = await put(client, token.secret, "home.example.test", "A", ["192.0.2.1"],
                             ttl=ttl)
        assert_problem(response, 422, "invalid_record")
    assert await zone_state(client, admin) == before
    ok = await put(client, token.secret, "home.example.test", "A", ["192.0.2.1"])
    assert ok.json()["ttl"] == 600


# --- SOA serial ----------------------------------------------------------------------


def _expected_next(old: int) -> int:
    today = int(datetime.now(UTC).strftime("%Y%m%d")) * 100
    return max(old + 1, today)


async def test_soa_serial_is_yyyymmddnn_and_bumped_once_per_change(client, world, zone, alice,
                                                                   admin):
    start = soa_serial(await zone_state(client, admin))
    assert start // 100 == int(datetime.now(UTC).strftime("%Y%m%d"))
    token = world.token(world.realm(alice, zone, "home"))
    await put(client, token.secret, "home.example.test", "A", ["192.0.2.1"])
    after_put = soa_serial(await zone_state(client, admin))
    assert after_put == _expected_next(start)
    await client.delete(f"{RRSETS}/home.example.test/A", headers=bearer(token.secret))
    after_delete = soa_serial(await zone_state(client, admin))
    assert after_delete == _expected_next(after_put)


async def test_no_op_put_does_not_bump_the_serial(client, world, zone, alice, admin):
    token = world.token(world.realm(alice, zone, "home"))
    first = await put(client, token.secret, "home.example.test", "A", ["192.0.2.1", "192.0.2.2"])
    before = await zone_state(client, admin)
    # same data in another order and spelling: nothing changes
    again = await put(client, token.secret, "home.example.test", "A",
                      ["192.0.2.2", "192.0.2.1"], ttl=300)
    assert again.status_code == 200
    assert sorted(again.json()["records"]) == sorted(first.json()["records"])
    assert await zone_state(client, admin) == before


async def test_batch_of_five_bumps_the_serial_by_one(client, world, zone, alice, admin):
    token = world.token(world.realm(alice, zone, "lab", kind="below"))
    before = soa_serial(await zone_state(client, admin))
    changes = [{"action": "upsert", "name": f"h{i}.lab.example.test", "type": "A",
                "records": [f"192.0.2.{i}"]} for i in range(5)]
    response = await client.patch(RRSETS, json={"changes": changes},
                                  headers=bearer(token.secret))
    assert response.status_code == 200, response.text
    assert response.json()["changed"] == 5
    state = await zone_state(client, admin)
    assert soa_serial(state) == _expected_next(before)
    assert len([r for r in state if r["type"] == "A"]) == 5
