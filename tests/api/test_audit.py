"""The audit log over HTTP: every mutation and every denial is an event with who,
what, where from and the request id; secrets never reach it; queries filter."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.api import assert_problem, audit_events, audit_text
from tests.support.factories import bearer

RRSETS = "/api/v1/zones/example.test/rrsets"
UA = "audit-test/1.0 (+https://example.test)"


class Calls:
    """A client that sends a user agent and remembers the request id of each response."""

    def __init__(self, client):
        self.client = client

    async def __call__(self, method, path, secret, **kwargs):
        headers = {"User-Agent": UA, **kwargs.pop("headers", {})}
        if secret:
            headers.update(bearer(secret))
        response = await self.client.request(method, path, headers=headers, **kwargs)
        request_id = response.headers["x-request-id"]
        assert request_id
        if response.status_code >= 400:
            assert response.json()["request_id"] == request_id
        return response, request_id


@pytest.fixture
def call(client):
    return Calls(client)


def event_of(env, request_id):
    """The one audit event of a request."""
    events = audit_events(env, request_id=request_id)
    assert len(events) == 1, [(e.action, e.code) for e in events]
    event = events[0]
    assert event.source_ip == "127.0.0.1"
    assert event.user_agent == UA
    assert event.time is not None
    return event


async def test_every_record_mutation_is_an_event(call, env, world):
    zone = await world.zone("example.test")
    alice = world.account("alice")
    token = world.token(world.realm(alice, zone, "lab", kind="subtree", types=["A", "TXT"]))
    path = f"{RRSETS}/lab.example.test/A"

    response, rid = await call("PUT", path, token.secret, json={"records": ["192.0.2.1"]})
    assert response.status_code == 200
    event = event_of(env, rid)
    assert (event.actor_type, event.actor_id, event.account_id) == ("token", token.id, alice)
    assert (event.action, event.zone, event.name, event.rtype) == (
        "rrset.create", "example.test", "lab.example.test", "A")
    assert (event.outcome, event.code) == ("success", "ok")
    assert event.details["records"] == ["192.0.2.1"]
    assert event.details["ttl"] == 300

    response, rid = await call("PUT", path, token.secret, json={"records": ["192.0.2.2"]})
    assert event_of(env, rid).action == "rrset.update"

    response, rid = await call("DELETE", path, token.secret)
    assert response.status_code == 204
    assert (event_of(env, rid).action, event_of(env, rid).name) == ("rrset.delete",
                                                                    "lab.example.test")

    response, rid = await call("PATCH", RRSETS, token.secret, json={"changes": [
        {"action": "upsert", "name": "a.lab.example.test", "type": "A", "records": ["192.0.2.1"]},
        {"action": "upsert", "name": "b.lab.example.test", "type": "TXT", "records": ["x"]},
    ]})
    assert response.status_code == 200
    events = audit_events(env, request_id=rid)
    assert [(e.action, e.name, e.rtype, e.outcome) for e in events] == [
        ("rrset.create", "a.lab.example.test", "A", "success"),
        ("rrset.create", "b.lab.example.test", "TXT", "success")]

    # a no-op changes nothing and is no mutation
    _, rid = await call("PUT", f"{RRSETS}/a.lab.example.test/A", token.secret,
                        json={"records": ["192.0.2.1"]})
    assert audit_events(env, request_id=rid) == []


async def test_every_management_mutation_is_an_event(call, env, world, admin):
    root = audit_events(env, action="account.create")[0].target
    root_id = int(root.split(":")[1])

    async def expect(method, path, secret, action, status=None, **kwargs):
        response, rid = await call(method, path, secret, **kwargs)
        assert response.status_code == (status or (201 if method == "POST" and "json" in kwargs
                                                   else 200)), response.text
        event = event_of(env, rid)
        assert (event.action, event.outcome, event.code) == (action, "success", "ok")
        return response.json(), event

    _, event = await expect("POST", "/api/v1/admin/zones", admin, "zone.add",
                               json={"zone": "example.test", "visibility": "public",
                                     "approval": "admin"})
    assert (event.actor_type, event.account_id, event.zone) == ("api_key", root_id,
                                                                "example.test")
    _, event = await expect("PATCH", "/api/v1/admin/zones/example.test", admin, "zone.update",
                            json={"max_depth": 3})
    assert event.details["max_depth"] == 3
    account, event = await expect("POST", "/api/v1/admin/accounts", admin, "account.create",
                                  json={"name": "alice", "password": "alice's password"})
    assert event.target == f"account:{account['id']}"
    login, event = await expect("POST", "/api/v1/auth/api-keys", None, "api_key.create",
                                json={"username": "alice", "password": "alice's password"})
    assert (event.actor_type, event.account_id) == ("account", account["id"])
    key = login["key"]
    realm, event = await expect("POST", "/api/v1/account/realms", key, "realm.request",
                                json={"zone": "example.test", "name": "home"})
    assert (event.name, event.target, event.details["status"]) == (
        "home.example.test", f"realm:{realm['id']}", "pending")
    await expect("POST", f"/api/v1/admin/realms/{realm['id']}/approve", admin, "realm.approved")
    token, event = await expect("POST", "/api/v1/account/tokens", key, "token.create",
                                json={"realm_id": realm["id"]})
    assert event.target == f"token:{token['id']}"
    await expect("POST", f"/api/v1/account/tokens/{token['id']}/revoke", key, "token.revoke")
    await expect("POST", f"/api/v1/account/realms/{realm['id']}/revoke", key, "realm.revoked")
    second = (await call("POST", "/api/v1/account/realms", key,
                         json={"zone": "example.test", "name": "www"}))[0].json()
    _, event = await expect("POST", f"/api/v1/admin/realms/{second['id']}/reject", admin,
                            "realm.rejected", status=200, json={"reason": "too short"})
    assert event.details["reason"] == "too short"
    made, _ = await expect("POST", "/api/v1/account/api-keys", key, "api_key.create",
                           json={"name": "ci"})
    await expect("POST", f"/api/v1/account/api-keys/{made['id']}/revoke", key, "api_key.revoke")
    grant, _ = await expect("POST", "/api/v1/admin/zones/example.test/grants", admin,
                            "grant.create", json={"account_id": account["id"]})
    await expect("POST", f"/api/v1/admin/grants/{grant['id']}/revoke", admin, "grant.revoke")
    await expect("POST", f"/api/v1/admin/accounts/{account['id']}/disable", admin,
                 "account.disabled")
    await expect("POST", f"/api/v1/admin/accounts/{account['id']}/enable", admin,
                 "account.active")
    for secret in (key, made["key"], token["token"]):
        assert secret not in audit_text(env)


@pytest.fixture
async def home(world):
    zone = await world.zone("example.test")
    alice = world.account("alice")
    realm = world.realm(alice, zone, "home", types=["A"])
    return alice, realm, world.token(realm)


@pytest.mark.parametrize(("method", "path", "body", "code"), [
    ("PUT", f"{RRSETS}/other.example.test/A", {"records": ["192.0.2.1"]}, "name_outside_realm"),
    ("PUT", f"{RRSETS}/home.example.test/TXT", {"records": ["x"]}, "type_not_allowed"),
    ("PATCH", RRSETS, {"changes": [{"action": "delete", "name": "x.example.test", "type": "A"}]},
     "name_outside_realm"),
])
async def test_record_denials_are_events(call, env, home, method, path, body, code):
    alice, _, token = home
    response, rid = await call(method, path, token.secret, json=body)
    assert_problem(response, 403, code)
    event = event_of(env, rid)
    assert (event.outcome, event.code) == ("denied", code)
    assert (event.actor_type, event.actor_id, event.account_id) == ("token", token.id, alice)
    assert event.zone == "example.test"
    assert event.name is not None and event.rtype is not None


async def test_credential_denials_are_events(call, env, world, home, admin, clock):
    alice, realm, token = home
    h = bearer(admin)
    client = call.client
    outside = world.token(realm, cidrs=["10.0.0.0/8"])
    ops = world.token(realm, operations=["read"])
    expiring = world.token(realm, expires_at=clock() + timedelta(seconds=10))
    body = {"records": ["192.0.2.1"]}
    path = f"{RRSETS}/home.example.test/A"

    async def denied(secret, status, code):
        response, rid = await call("PUT", path, secret, json=body)
        assert_problem(response, status, code)
        event = event_of(env, rid)
        assert (event.outcome, event.code, event.zone) == ("denied", code, "example.test")
        assert event.actor_type == "token"

    await denied(outside.secret, 403, "ip_not_allowed")
    await denied(ops.secret, 403, "operation_not_allowed")
    clock.advance(11)
    await denied(expiring.secret, 401, "token_expired")
    await client.patch("/api/v1/admin/zones/example.test", json={"status": "disabled"}, headers=h)
    await denied(token.secret, 403, "zone_disabled")
    await client.patch("/api/v1/admin/zones/example.test", json={"status": "active",
                                                                 "min_depth": 2}, headers=h)
    await denied(token.secret, 403, "zone_policy")
    await client.patch("/api/v1/admin/zones/example.test", json={"min_depth": 1}, headers=h)
    await client.post(f"/api/v1/admin/accounts/{alice}/disable", headers=h)
    await denied(token.secret, 403, "account_disabled")
    await client.post(f"/api/v1/admin/accounts/{alice}/enable", headers=h)
    await client.post(f"/api/v1/admin/realms/{realm}/revoke", headers=h)
    await denied(token.secret, 403, "realm_inactive")
    await client.post(f"/api/v1/admin/tokens/{token.id}/revoke", headers=h)
    await denied(token.secret, 401, "token_revoked")
    # whoami is refused, and audited, the same way
    response, rid = await call("GET", "/api/v1/whoami", token.secret)
    assert_problem(response, 401, "token_revoked")
    assert (event_of(env, rid).action, event_of(env, rid).code) == ("whoami", "token_revoked")


async def test_management_denials_are_events(call, env, world, admin):
    await world.zone("example.test", visibility="invite", realm_quota=0)
    alice = world.account("alice")
    key = world.api_key(alice)
    response, rid = await call("GET", "/api/v1/admin/accounts", key)
    assert_problem(response, 403, "admin_required")
    event = event_of(env, rid)
    assert (event.outcome, event.code, event.actor_type, event.account_id) == (
        "denied", "admin_required", "api_key", alice)

    response, rid = await call("POST", "/api/v1/account/realms", key,
                               json={"zone": "example.test", "name": "home"})
    assert_problem(response, 403, "zone_policy")
    event = event_of(env, rid)
    assert (event.action, event.outcome, event.code, event.zone, event.account_id) == (
        "realm.request", "denied", "zone_policy", "example.test", alice)

    await call.client.post(f"/api/v1/admin/accounts/{alice}/disable", headers=bearer(admin))
    response, rid = await call("GET", "/api/v1/account", key)
    assert_problem(response, 403, "account_disabled")
    assert (event_of(env, rid).outcome, event_of(env, rid).code) == ("denied",
                                                                     "account_disabled")


# --- request ids --------------------------------------------------------------------------


async def test_a_sane_request_id_is_echoed_and_recorded(call, env, home):
    _, _, token = home
    response, rid = await call("PUT", f"{RRSETS}/home.example.test/A", token.secret,
                               json={"records": ["192.0.2.1"]},
                               headers={"X-Request-ID": "trace-42.abc_DEF"})
    assert rid == "trace-42.abc_DEF"
    assert event_of(env, rid).action == "rrset.create"
    response, rid = await call("PUT", f"{RRSETS}/x.example.test/A", token.secret,
                               json={"records": ["192.0.2.1"]},
                               headers={"X-Request-ID": "trace-43"})
    assert response.json()["request_id"] == rid == "trace-43"
    assert event_of(env, rid).outcome == "denied"


async def test_an_insane_request_id_is_replaced(client):
    for incoming in ("", "has space", "x" * 65, "<script>", "a;b", "é"):
        response = await client.get("/healthz", headers={"X-Request-ID": incoming.encode()})
        rid = response.headers["x-request-id"]
        assert rid != incoming
        assert len(rid) == 32 and int(rid, 16) >= 0, incoming


async def test_request_ids_differ_between_requests(client):
    ids = {(await client.get("/healthz")).headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5


async def test_a_long_user_agent_is_cut(call, env, home):
    _, _, token = home
    response, rid = await call("PUT", f"{RRSETS}/home.example.test/A", token.secret,
                               json={"records": ["192.0.2.1"]},
                               headers={"User-Agent": "u" * 1000})
    assert response.status_code == 200
    (event,) = audit_events(env, request_id=rid)
    assert event.user_agent == "u" * 255


# --- secrets --------------------------------------------------------------------------------


async def test_secrets_never_reach_the_audit_log_or_other_responses(client, env, world, admin):
    zone = await world.zone("example.test")
    h = bearer(admin)
    chosen = "my chosen password 1"
    created = await client.post("/api/v1/admin/accounts", json={"name": "alice",
                                                                "password": chosen}, headers=h)
    assert chosen not in created.text
    one_time = (await client.post("/api/v1/admin/accounts", json={"name": "bob"},
                                  headers=h)).json()["password"]
    login = await client.post("/api/v1/auth/api-keys", json={"username": "alice",
                                                             "password": chosen})
    key = login.json()["key"]
    await client.post("/api/v1/auth/api-keys", json={"username": "bob",
                                                     "password": one_time + "x"})
    realm = world.realm(created.json()["id"], zone, "home")
    minted = await client.post("/api/v1/account/tokens", json={"realm_id": realm},
                               headers=bearer(key))
    token = minted.json()["token"]
    extra_key = (await client.post("/api/v1/account/api-keys", json={},
                                   headers=bearer(key))).json()["key"]
    await client.put(f"{RRSETS}/home.example.test/A", json={"records": ["192.0.2.1"]},
                     headers=bearer(token))
    await client.put(f"{RRSETS}/other.example.test/A", json={"records": ["192.0.2.1"]},
                     headers=bearer(token))
    await client.get("/api/v1/whoami", headers=bearer(token[:-1] + "a"))

    secrets = [chosen, one_time, key, key.split("_")[2], token, token.split("_")[2],
               extra_key, extra_key.split("_")[2]]
    stored = audit_text(env)
    for secret in secrets:
        assert secret not in stored

    responses = [
        await client.get(path, headers=bearer(credential)) for path, credential in [
            ("/api/v1/admin/audit?limit=1000", admin), ("/api/v1/account/audit", key),
            ("/api/v1/admin/accounts", admin), ("/api/v1/admin/tokens", admin),
            ("/api/v1/account/tokens", key), ("/api/v1/account/api-keys", key),
            ("/api/v1/account", key), ("/api/v1/whoami", token), ("/api/v1/whoami", key),
            (RRSETS, token), ("/api/v1/admin/realms", admin)]]
    for response in responses:
        assert response.status_code == 200, response.text
        for secret in secrets:
            assert secret not in response.text


# --- queries ---------------------------------------------------------------------------------


async def test_audit_queries_filter(client, env, world, admin, clock):
    zone = await world.zone("example.test")
    await world.zone("other.test")
    alice, bob = world.account("alice"), world.account("bob")
    ta = world.token(world.realm(alice, zone, "a"))
    tb = world.token(world.realm(bob, "other.test", "b"))
    start = clock()
    clock.advance(10)
    await client.put(f"{RRSETS}/a.example.test/A", json={"records": ["192.0.2.1"]},
                     headers=bearer(ta.secret))
    clock.advance(10)
    middle = clock()
    clock.advance(10)
    await client.put("/api/v1/zones/other.test/rrsets/b.other.test/A",
                     json={"records": ["192.0.2.1"]}, headers=bearer(tb.secret))
    clock.advance(10)
    await client.put(f"{RRSETS}/z.example.test/A", json={"records": ["192.0.2.1"]},
                     headers=bearer(ta.secret))
    clock.advance(10)
    end = clock()

    async def query(**params):
        response = await client.get("/api/v1/admin/audit", params=params, headers=bearer(admin))
        assert response.status_code == 200, response.text
        return [(e["action"], e["name"], e["outcome"]) for e in response.json()]

    async def zones_of(**params):
        response = await client.get("/api/v1/admin/audit", params=params, headers=bearer(admin))
        return {e["zone"] for e in response.json()}

    a_write = ("rrset.create", "a.example.test", "success")
    b_write = ("rrset.create", "b.other.test", "success")
    a_denied = ("rrset.update", "z.example.test", "denied")
    assert await query(account_id=alice) == [a_denied, a_write]
    assert await query(account_id=bob) == [b_write]
    assert await query(token_id=ta.id) == [a_denied, a_write]
    assert await query(token_id=tb.id) == [b_write]
    assert [e for e in await query(zone="OTHER.test.") if e[0].startswith("rrset.")] == [
        b_write]
    assert await zones_of(zone="other.test") == {"other.test"}
    assert await zones_of() == {"example.test", "other.test", None}
    assert await query(zone="example.test", outcome="denied") == [a_denied]
    assert await query(outcome="success", since=start.isoformat()) == [b_write, a_write]
    assert await query(since=middle.isoformat()) == [a_denied, b_write]
    assert await query(until=middle.isoformat(), since=start.isoformat()) == [a_write]
    assert await query(since=end.isoformat()) == []
    assert await query(action="rrset.update") == [a_denied]
    assert (await query(limit=2)) == [a_denied, b_write]
    newest = (await client.get("/api/v1/admin/audit", params={"limit": 1},
                               headers=bearer(admin))).json()[0]
    assert await query(before_id=newest["id"], limit=2) == [b_write, a_write]
    for bad in ({"limit": 0}, {"limit": 1001}, {"since": "yesterday"}, {"account_id": "x"}):
        response = await client.get("/api/v1/admin/audit", params=bad, headers=bearer(admin))
        assert_problem(response, 422, "invalid_request")

    key = bearer(world.api_key(alice))
    mine = (await client.get("/api/v1/account/audit", params={"zone": "example.test",
                                                               "outcome": "success"},
                             headers=key)).json()
    assert [(e["action"], e["name"]) for e in mine] == [a_write[:2]]
    assert (await client.get("/api/v1/account/audit", params={"zone": "other.test"},
                             headers=key)).json() == []
    mine_since = (await client.get("/api/v1/account/audit",
                                   params={"since": middle.isoformat()}, headers=key)).json()
    assert [e["name"] for e in mine_since] == ["z.example.test"]


async def test_audit_event_shape(client, env, home, admin):
    _, _, token = home
    response = await client.put(f"{RRSETS}/home.example.test/A", json={"records": ["192.0.2.1"]},
                                headers=bearer(token.secret))
    rid = response.headers["x-request-id"]
    (event,) = [e for e in (await client.get("/api/v1/admin/audit",
                                             headers=bearer(admin))).json()
                if e["request_id"] == rid]
    assert event["actor_type"] == "token"
    assert event["actor_id"] == token.id
    assert event["zone"] == "example.test"
    assert event["rtype"] == "A"
    assert event["source_ip"] == "127.0.0.1"
    assert event["outcome"] == "success"
    assert event["code"] == "ok"
    assert event["details"]["surface"] == "api"
    assert event["time"]
