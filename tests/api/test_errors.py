"""Every error code of the REST API: status, problem document, and nothing written.

Each failing write is followed by a read of the whole zone through an admin
key, compared with the zone before it (the SOA serial included).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

import pytest

from dnsgate.config import Settings
from tests.support.api import assert_problem, audit_events, soa_serial, zone_state
from tests.support.factories import Made, bearer

RRSETS = "/api/v1/zones/example.test/rrsets"
HOME_A = f"{RRSETS}/home.example.test/A"
A_BODY = {"records": ["192.0.2.1"]}


@dataclass
class Home:
    zone: str
    alice: int
    realm: int
    token: Made


@pytest.fixture
async def home(world) -> Home:
    """alice's host realm home.example.test (A, AAAA, TXT) and a token for it."""
    zone = await world.zone("example.test")
    alice = world.account("alice")
    realm = world.realm(alice, zone, "home", kind="host", types=["A", "AAAA", "TXT"])
    return Home(zone, alice, realm, world.token(realm))


@pytest.fixture
async def unchanged(client, admin, home):
    """Snapshot the zone; after the test, assert that it is exactly as before."""
    before = await zone_state(client, admin)
    yield before
    after = await zone_state(client, admin)
    assert after == before
    assert soa_serial(after) == soa_serial(before)


# --- 401 ---------------------------------------------------------------------------


async def test_401s_share_one_generic_message(client, home, unchanged):
    wrong_secret = home.token.secret[:-4] + ("aaaa" if not home.token.secret.endswith("aaaa")
                                             else "bbbb")
    unknown_id = "dg_" + "a" * 16 + "_" + "b" * 52
    cases = {
        "token_missing": [{}, {"Authorization": "Basic dXNlcjpwYXNz"},
                          {"Authorization": "Bearer "}, {"Authorization": home.token.secret}],
        "token_invalid": [bearer("not-a-token"), bearer(unknown_id), bearer(wrong_secret),
                          bearer("dgk_" + "a" * 16 + "_" + "b" * 52)],
    }
    bodies = []
    for code, headers_list in cases.items():
        for headers in headers_list:
            response = await client.put(HOME_A, json=A_BODY, headers=headers)
            body = assert_problem(response, 401, code)
            assert response.headers["www-authenticate"].startswith("Bearer")
            bodies.append(body)
    details = {b["detail"] for b in bodies}
    titles = {b["title"] for b in bodies}
    assert details == {"missing or invalid credentials"}
    assert len(titles) == 1
    for body in bodies:
        text = json.dumps(body)
        assert home.token.id not in text
        assert "a" * 16 not in text


async def test_401_on_every_authenticated_route(client, home):
    for method, path in [("GET", "/api/v1/whoami"), ("GET", "/api/v1/zones"),
                         ("GET", RRSETS), ("GET", HOME_A), ("DELETE", HOME_A),
                         ("GET", "/api/v1/account"), ("GET", "/api/v1/admin/accounts")]:
        response = await client.request(method, path)
        assert_problem(response, 401, "token_missing")


async def test_realm_tokens_do_not_open_the_management_api(client, home):
    for path in ("/api/v1/account", "/api/v1/admin/accounts"):
        response = await client.get(path, headers=bearer(home.token.secret))
        body = assert_problem(response, 401, "token_invalid")
        assert body["detail"] == "missing or invalid credentials"


async def test_token_revoked(client, home, admin, unchanged):
    revoked = await client.post(f"/api/v1/admin/tokens/{home.token.id}/revoke",
                                headers=bearer(admin))
    assert revoked.status_code == 200
    response = await client.put(HOME_A, json=A_BODY, headers=bearer(home.token.secret))
    assert_problem(response, 401, "token_revoked")


async def test_token_expired(client, world, home, clock, unchanged):
    token = world.token(home.realm, expires_at=clock() + timedelta(seconds=60))
    clock.advance(61)
    response = await client.put(HOME_A, json=A_BODY, headers=bearer(token.secret))
    assert_problem(response, 401, "token_expired")


# --- 403 ---------------------------------------------------------------------------


async def test_ip_not_allowed(client, world, home, unchanged):
    token = world.token(home.realm, cidrs=["10.0.0.0/8", "2001:db8::/32"])
    response = await client.put(HOME_A, json=A_BODY, headers=bearer(token.secret))
    assert_problem(response, 403, "ip_not_allowed")


async def test_name_outside_realm(client, home, unchanged):
    for name in ("other.example.test", "x.home.example.test", "xhome.example.test",
                 "example.test", "*.home.example.test"):
        response = await client.put(f"{RRSETS}/{name}/A", json=A_BODY,
                                    headers=bearer(home.token.secret))
        assert_problem(response, 403, "name_outside_realm")


async def test_type_not_allowed(client, home, unchanged):
    response = await client.put(f"{RRSETS}/home.example.test/MX",
                                json={"records": ["10 mx.example.test."]},
                                headers=bearer(home.token.secret))
    assert_problem(response, 403, "type_not_allowed")


async def test_operation_not_allowed(client, world, home, unchanged):
    token = world.token(home.realm, operations=["read"])
    response = await client.put(HOME_A, json=A_BODY, headers=bearer(token.secret))
    assert_problem(response, 403, "operation_not_allowed")
    response = await client.delete(HOME_A, headers=bearer(token.secret))
    assert_problem(response, 403, "operation_not_allowed")


async def test_zone_policy(client, world, home, admin, unchanged):
    # an admin may place a realm where the zone's policy does not let anyone write
    apex = world.token(world.realm(home.alice, home.zone, "@", kind="host"))
    response = await client.put(f"{RRSETS}/example.test/A", json=A_BODY,
                                headers=bearer(apex.secret))
    assert_problem(response, 403, "zone_policy")
    # a policy tightened after the realm was approved applies at once
    assert (await client.patch("/api/v1/admin/zones/example.test", json={"min_depth": 2},
                               headers=bearer(admin))).status_code == 200
    response = await client.put(HOME_A, json=A_BODY, headers=bearer(home.token.secret))
    assert_problem(response, 403, "zone_policy")


async def test_account_disabled(client, home, admin, unchanged):
    disabled = await client.post(f"/api/v1/admin/accounts/{home.alice}/disable",
                                 headers=bearer(admin))
    assert disabled.status_code == 200
    response = await client.put(HOME_A, json=A_BODY, headers=bearer(home.token.secret))
    assert_problem(response, 403, "account_disabled")


async def test_account_disabled_for_api_keys(client, world, home, admin):
    key = world.api_key(home.alice)
    await client.post(f"/api/v1/admin/accounts/{home.alice}/disable", headers=bearer(admin))
    assert_problem(await client.get("/api/v1/account", headers=bearer(key)), 403,
                   "account_disabled")
    assert_problem(await client.put(HOME_A, json=A_BODY, headers=bearer(key)), 403,
                   "account_disabled")


async def test_realm_inactive(client, home, admin, unchanged):
    revoked = await client.post(f"/api/v1/admin/realms/{home.realm}/revoke",
                                headers=bearer(admin))
    assert revoked.status_code == 200
    response = await client.put(HOME_A, json=A_BODY, headers=bearer(home.token.secret))
    assert_problem(response, 403, "realm_inactive")


async def test_zone_disabled(client, home, admin, unchanged):
    disabled = await client.patch("/api/v1/admin/zones/example.test",
                                  json={"status": "disabled"}, headers=bearer(admin))
    assert disabled.status_code == 200
    response = await client.put(HOME_A, json=A_BODY, headers=bearer(home.token.secret))
    assert_problem(response, 403, "zone_disabled")
    # ... for admins too
    assert_problem(await client.put(HOME_A, json=A_BODY, headers=bearer(admin)), 403,
                   "zone_disabled")
    await client.patch("/api/v1/admin/zones/example.test", json={"status": "active"},
                       headers=bearer(admin))


async def test_admin_required(client, world, home):
    key = world.api_key(home.alice)
    for method, path in [("GET", "/api/v1/admin/accounts"), ("GET", "/api/v1/admin/zones"),
                         ("POST", f"/api/v1/admin/realms/{home.realm}/revoke"),
                         ("GET", "/api/v1/admin/audit")]:
        response = await client.request(method, path, headers=bearer(key))
        assert_problem(response, 403, "admin_required")


# --- 404 ---------------------------------------------------------------------------


async def test_zone_not_found_for_unknown_and_unseen_zones(client, world, home, admin, unchanged):
    await world.zone("other.test")
    await world.zone("private.test", visibility="private")
    token = bearer(home.token.secret)
    key = bearer(world.api_key(home.alice))
    cases = [
        (token, "nosuch.test"), (token, "other.test"), (token, "bad..zone"),
        (key, "nosuch.test"), (key, "private.test"), (bearer(admin), "nosuch.test"),
    ]
    details = {}
    for headers, zone in cases:
        for method, path, body in [
            ("GET", f"/api/v1/zones/{zone}/rrsets", None),
            ("PUT", f"/api/v1/zones/{zone}/rrsets/home.{zone}/A", A_BODY),
            ("DELETE", f"/api/v1/zones/{zone}/rrsets/home.{zone}/A", None),
            ("PATCH", f"/api/v1/zones/{zone}/rrsets",
             {"changes": [{"action": "delete", "name": f"home.{zone}", "type": "A"}]}),
        ]:
            response = await client.request(method, path, json=body, headers=headers)
            problem = assert_problem(response, 404, "zone_not_found")
            details[(headers["Authorization"], zone)] = problem["detail"]
    # an existing zone the caller may not see looks exactly like a missing one
    assert details[(token["Authorization"], "other.test")] == "zone other.test not found"
    assert details[(token["Authorization"], "nosuch.test")] == "zone nosuch.test not found"
    assert details[(key["Authorization"], "private.test")] == "zone private.test not found"


# --- 422 ---------------------------------------------------------------------------


BAD_NAMES = [
    "bad..name.example.test", "-bad-.example.test", "bad name.example.test",
    "a" * 64 + ".example.test", "x." * 130 + "example.test", "home.other.test",
    "home.example.test.evil", "sub.*.example.test", "xn--zz.example.test",
]


async def test_invalid_names(client, home, unchanged):
    for name in BAD_NAMES:
        response = await client.put(f"{RRSETS}/{name}/A", json=A_BODY,
                                    headers=bearer(home.token.secret))
        assert_problem(response, 422, "invalid_name", case=name)


UNPARSABLE = [
    ("A", ["192.0.2.256"], "invalid_record"),
    ("A", ["2001:db8::1"], "invalid_record"),
    ("A", ["home"], "invalid_record"),
    ("A", ["192.0.2.1", "192.0.2.x"], "invalid_record"),
    ("AAAA", ["192.0.2.1"], "invalid_record"),
    ("AAAA", ["2001:db8::g"], "invalid_record"),
    ("TXT", ['"unterminated'], "invalid_record"),
    ("A", ["192.0.2.1", 5], "invalid_request"),
    ("A", [None], "invalid_request"),
]


async def test_records_that_do_not_parse(client, home, unchanged):
    for rtype, records, code in UNPARSABLE:
        response = await client.put(f"{RRSETS}/home.example.test/{rtype}",
                                    json={"records": records}, headers=bearer(home.token.secret))
        assert_problem(response, 422, code, case=(rtype, records))


async def test_unknown_or_unwritable_types(client, home, unchanged):
    for rtype in ("BOGUS", "SOA", "TYPE65280", "ANY", "A A"):
        response = await client.put(f"{RRSETS}/home.example.test/{rtype}", json=A_BODY,
                                    headers=bearer(home.token.secret))
        assert_problem(response, 422, "invalid_record", case=rtype)


NOT_THE_SCHEMA = [
    (b'{"records": ["192.0.2.1"]', "application/json"),  # truncated
    (b"records=192.0.2.1", "application/json"),  # not JSON
    (b'{"records": "192.0.2.1"}', "application/json"),  # wrong shape
    (b'{"records": []}', "application/json"),  # empty list
    (b'{"ttl": 300}', "application/json"),  # missing field
    (b'{"records": ["192.0.2.1"], "ttl": "soon"}', "application/json"),
    (b'{"records": ["192.0.2.1"], "comment": "x"}', "application/json"),  # extra field
    (b'["192.0.2.1"]', "application/json"),
    (b"", "application/json"),  # no body
    (b'{"records": ["192.0.2.1"]}', "text/plain"),
    (json.dumps({"records": ["192.0.2.1"] * 101}).encode(), "application/json"),
]


async def test_bodies_that_are_not_the_schema(client, home, unchanged):
    for content, content_type in NOT_THE_SCHEMA:
        response = await client.put(HOME_A, content=content,
                                    headers={**bearer(home.token.secret),
                                             "content-type": content_type})
        body = assert_problem(response, 422, "invalid_request", case=content[:60])
        assert body["errors"], body


# --- 409, 413, 429 ------------------------------------------------------------------


async def test_conflicts(client, world, home, admin):
    bob = world.account("bob")
    cases = [
        ("POST", "/api/v1/admin/accounts", {"name": "alice"}),
        ("POST", "/api/v1/admin/zones", {"zone": "example.test"}),
        ("POST", f"/api/v1/admin/realms/{home.realm}/approve", None),
        ("POST", "/api/v1/admin/realms",
         {"account_id": bob, "zone": "example.test", "name": "home"}),
    ]
    for method, path, body in cases:
        response = await client.request(method, path, json=body, headers=bearer(admin))
        assert_problem(response, 409, "conflict")


async def test_body_too_large_with_content_length(client, home, unchanged):
    records = ["192.0.2.1"] * 6000  # about 80 KiB of JSON
    content = json.dumps({"records": records}).encode()
    assert len(content) > 64 * 1024
    response = await client.put(HOME_A, content=content,
                                headers={**bearer(home.token.secret),
                                         "content-type": "application/json"})
    body = assert_problem(response, 413, "body_too_large")
    assert response.headers["x-request-id"] == body["request_id"]


async def test_body_too_large_when_chunked(client, home, unchanged):
    async def chunks():
        yield b'{"records": ['
        for _ in range(80):
            yield b'"192.0.2.1",' * 80
        yield b'"192.0.2.1"]}'

    response = await client.put(HOME_A, content=chunks(),
                                headers={**bearer(home.token.secret),
                                         "content-type": "application/json"})
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_problem(response, 413, "body_too_large")


async def test_body_just_under_the_limit_is_read(client, home, unchanged):
    padding = " " * (64 * 1024 - 100)
    content = (b'{"records": ["192.0.2.1"], "ttl": "x"' + padding.encode() + b"}")
    assert len(content) <= 64 * 1024
    response = await client.put(HOME_A, content=content,
                                headers={**bearer(home.token.secret),
                                         "content-type": "application/json"})
    assert_problem(response, 422, "invalid_request")  # read, parsed, and refused on its merits


async def test_rate_limited(world, home, admin, make_settings, make_client):
    from dnsgate.app import build_env, create_app

    settings: Settings = make_settings(write_rate_limit="2/minute")
    limited_env = build_env(settings)
    try:
        app = create_app(settings, env=limited_env, migrate_on_start=False)
        async with make_client(app) as c:
            h = bearer(home.token.secret)
            for i in range(2):
                ok = await c.put(HOME_A, json={"records": [f"192.0.2.{i + 1}"]}, headers=h)
                assert ok.status_code == 200, ok.text
            before = await zone_state(c, admin)
            limited = await c.put(HOME_A, json={"records": ["192.0.2.9"]}, headers=h)
            assert_problem(limited, 429, "rate_limited")
            retry_after = int(limited.headers["retry-after"])
            assert 1 <= retry_after <= 60
            assert await zone_state(c, admin) == before
            # the limit is per token: another token of the same realm still writes
            other = world.token(home.realm)
            ok = await c.put(HOME_A, json={"records": ["192.0.2.7"]},
                             headers=bearer(other.secret))
            assert ok.status_code == 200
            # reads are not writes
            assert (await c.get(RRSETS, headers=h)).status_code == 200
    finally:
        limited_env.db.dispose()


async def test_denials_are_audited_and_write_nothing(client, env, home, unchanged):
    response = await client.put(f"{RRSETS}/other.example.test/A", json=A_BODY,
                                headers=bearer(home.token.secret))
    assert_problem(response, 403, "name_outside_realm")
    (event,) = audit_events(env, outcome="denied")
    assert (event.action, event.code, event.zone, event.name, event.rtype) == (
        "rrset.update", "name_outside_realm", "example.test", "other.example.test", "A")
    assert audit_events(env, actor_type="token", outcome="success") == []

