"""``POST /api/v1/auth/api-keys``: a name and password for an account API key."""

from __future__ import annotations

from tests.support.api import assert_problem, audit_events, audit_text
from tests.support.factories import bearer

LOGIN = "/api/v1/auth/api-keys"
PASSWORD = "correct horse battery"


async def test_login_returns_a_working_key_once(client, world, env, clock):
    alice = world.account("alice", password=PASSWORD)
    response = await client.post(LOGIN, json={"username": "alice", "password": PASSWORD,
                                              "name": "laptop", "expires_in": 3600})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["key"].startswith(f"dgk_{body['id']}_")
    assert (body["account_id"], body["name"]) == (alice, "laptop")
    assert body["expires_at"] is not None
    assert PASSWORD not in response.text
    key = bearer(body["key"])
    assert (await client.get("/api/v1/account", headers=key)).json()["id"] == alice
    listed = await client.get("/api/v1/account/api-keys", headers=key)
    assert body["key"] not in listed.text
    (event,) = audit_events(env, action="api_key.create")
    assert (event.actor_type, event.account_id, event.outcome) == ("account", alice, "success")
    clock.advance(3601)
    assert_problem(await client.get("/api/v1/account", headers=key), 401, "token_expired")


async def test_failed_logins_look_alike_and_are_audited(client, world, env, admin, clock):
    alice = world.account("alice", password=PASSWORD)
    world.account("carol", password=PASSWORD)
    await client.post(f"/api/v1/admin/accounts/{world.account('dave', password=PASSWORD)}"
                      "/disable", headers=bearer(admin))
    attempts = [("alice", "wrong password!"), ("nobody", PASSWORD), ("dave", PASSWORD),
                ("ALICE", "wrong password!")]
    details = set()
    for username, password in attempts:
        response = await client.post(LOGIN, json={"username": username, "password": password})
        details.add(assert_problem(response, 401, "login_failed")["detail"])
        clock.advance(60)  # past the growing delay (tested below)
    assert len(details) == 1
    failures = audit_events(env, action="auth.login")
    assert [(e.outcome, e.code, e.details["username"]) for e in failures] == [
        ("denied", "login_failed", u) for u, _ in attempts]
    assert all(e.source_ip == "127.0.0.1" for e in failures)
    text = audit_text(env)
    assert "wrong password!" not in text
    assert PASSWORD not in text
    assert audit_events(env, action="api_key.create", account_id=alice) == []


async def test_bad_login_requests(client, world):
    world.account("alice", password=PASSWORD)
    for body in ({"username": "alice"}, {"password": PASSWORD},
                 {"username": "alice", "password": PASSWORD, "otp": "123456"},
                 {"username": "alice", "password": PASSWORD, "expires_in": -5}):
        assert_problem(await client.post(LOGIN, json=body), 422, "invalid_request", case=body)


async def test_logins_are_throttled_per_name_and_address(world, make_settings, make_client):
    from dnsgate.app import build_env, create_app

    world.account("alice", password=PASSWORD)
    settings = make_settings(login_user_limit="2/minute", login_ip_limit="4/minute")
    limited_env = build_env(settings)
    try:
        app = create_app(settings, env=limited_env, migrate_on_start=False)
        async with make_client(app) as c:
            for _ in range(2):
                response = await c.post(LOGIN, json={"username": "alice", "password": "nope"})
                assert_problem(response, 401, "login_failed")
            # alice's budget from this address is spent, even for the right password
            blocked = await c.post(LOGIN, json={"username": "alice", "password": PASSWORD})
            assert_problem(blocked, 429, "rate_limited")
            assert int(blocked.headers["retry-after"]) >= 1
            # every attempt counts for the address: one is left, for another name
            other = await c.post(LOGIN, json={"username": "bob", "password": "nope"})
            assert_problem(other, 401, "login_failed")
            assert_problem(await c.post(LOGIN, json={"username": "carol", "password": "x"}),
                           429, "rate_limited")
        async with make_client(app, peer="192.0.2.1") as elsewhere:
            ok = await elsewhere.post(LOGIN, json={"username": "alice", "password": PASSWORD})
            assert ok.status_code == 201
    finally:
        limited_env.db.dispose()
