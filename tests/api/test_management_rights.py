"""Management rights over HTTP (``domain/permissions.py`` through the services),
and what the review found: an admin disabling itself through an API key,
``last_admin`` answering 400, unthrottled API-key writes, the API sign-in
without growing delays, and API keys refused outside ``credential_standing``."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from dnsgate.domain.errors import Conflict
from dnsgate.edge.codes import status_of
from dnsgate.services import accounts
from dnsgate.services.context import SYSTEM_CALLER, SYSTEM_CONTEXT
from tests.support.api import assert_problem, audit_events
from tests.support.factories import bearer

LOGIN = "/api/v1/auth/api-keys"
PASSWORD = "correct horse battery"


async def made(value: Any) -> Any:
    """A factory's result, whether it is made at once or awaited."""
    return await value if inspect.isawaitable(value) else value


# --- an admin never disables or deletes itself, through any credential ------------------


async def test_an_admin_cannot_disable_itself_through_an_api_key(client, world, env):
    world.account("other-admin", admin=True)  # not the last admin: the self rule alone
    me = world.account("root", admin=True)
    key = bearer(world.api_key(me))
    response = await client.post(f"/api/v1/admin/accounts/{me}/disable", headers=key)
    assert_problem(response, 409, "self_lockout")
    assert (await client.get("/api/v1/account", headers=key)).json()["status"] == "active"
    (event,) = audit_events(env, action="account.disabled")
    assert (event.outcome, event.code, event.actor_type) == ("denied", "self_lockout", "api_key")


def test_the_last_active_admin_is_a_conflict(env, world):
    root = world.account("root", admin=True)
    with pytest.raises(Conflict) as refused:
        accounts.set_status(env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, account_id=root,
                            status="disabled")
    assert refused.value.code == "last_admin"
    assert status_of("last_admin") == status_of("self_lockout") == 409


# --- writes through an account API key are rate limited ------------------------------------


async def test_api_key_writes_have_the_token_write_limit(world, make_settings, make_client):
    from dnsgate.app import build_env, create_app

    settings = make_settings(write_rate_limit="2/minute")
    limited_env = build_env(settings)
    try:
        await world.zone("example.test")
        key = bearer(world.api_key(world.account("root", admin=True)))
        other = bearer(world.api_key(world.account("root2", admin=True)))
        app = create_app(settings, env=limited_env, migrate_on_start=False)
        path = "/api/v1/zones/example.test/rrsets/www.example.test/A"
        async with make_client(app) as c:
            for address in ("192.0.2.1", "192.0.2.2"):
                response = await c.put(path, json={"records": [address]}, headers=key)
                assert response.status_code == 200, response.text
            blocked = await c.put(path, json={"records": ["192.0.2.3"]}, headers=key)
            assert_problem(blocked, 429, "rate_limited")
            assert int(blocked.headers["retry-after"]) >= 1
            # the limit is per key: another key writes on
            response = await c.put(path, json={"records": ["192.0.2.4"]}, headers=other)
            assert response.status_code == 200, response.text
    finally:
        limited_env.db.dispose()


# --- the API's password sign-in has the web sign-in's growing delay ------------------------


async def test_api_sign_in_slows_down_after_failures(client, world, env, clock):
    world.account("alice", password=PASSWORD)
    for _ in range(3):  # the first failures cost nothing extra
        response = await client.post(LOGIN, json={"username": "alice", "password": "nope!"})
        assert_problem(response, 401, "login_failed")
    # now even the right password must wait, and the wait is said
    blocked = await client.post(LOGIN, json={"username": "alice", "password": PASSWORD})
    assert_problem(blocked, 429, "rate_limited")
    assert int(blocked.headers["retry-after"]) >= 1
    assert [(e.outcome, e.code) for e in audit_events(env, action="auth.login")][-1] == (
        "denied", "rate_limited")
    clock.advance(2)
    response = await client.post(LOGIN, json={"username": "alice", "password": PASSWORD})
    assert response.status_code == 201, response.text
    # one more failure now waits again (the address keeps its count) ...
    assert_problem(await client.post(LOGIN, json={"username": "bob", "password": "x" * 10}),
                   401, "login_failed")
    assert_problem(await client.post(LOGIN, json={"username": "alice", "password": PASSWORD}),
                   429, "rate_limited")
    # ... and the delay grows
    clock.advance(3)
    assert_problem(await client.post(LOGIN, json={"username": "bob", "password": "x" * 10}),
                   401, "login_failed")
    clock.advance(3)
    assert_problem(await client.post(LOGIN, json={"username": "alice", "password": PASSWORD}),
                   429, "rate_limited")


async def test_the_delay_is_per_address(client, world, make_client, app):
    world.account("alice", password=PASSWORD)
    for _ in range(4):
        await client.post(LOGIN, json={"username": "alice", "password": "nope!"})
    async with make_client(app, peer="10.0.0.7") as elsewhere:
        response = await elsewhere.post(LOGIN, json={"username": "alice", "password": PASSWORD})
        assert response.status_code == 201, response.text


# --- a dead API key is refused by credential_standing's rules, with a token's codes --------


async def test_revoked_and_expired_api_keys(client, world, env, clock, zone):
    alice = world.account("alice")
    revoked = world.api_key(alice)
    await client.post(f"/api/v1/account/api-keys/{revoked.split('_')[1]}/revoke",
                      headers=bearer(revoked))
    expiring = (await client.post("/api/v1/account/api-keys", json={"expires_in": 60},
                                  headers=bearer(world.api_key(alice)))).json()["key"]
    clock.advance(61)
    rrset = "/api/v1/zones/example.test/rrsets/home.example.test/A"
    for key, code in ((revoked, "token_revoked"), (expiring, "token_expired")):
        for method, path in (("GET", "/api/v1/account"), ("GET", "/api/v1/whoami"),
                             ("GET", "/api/v1/zones"), ("PUT", rrset)):
            response = await client.request(method, path, headers=bearer(key),
                                            json={"records": ["192.0.2.1"]})
            assert_problem(response, 401, code, case=(method, path))


async def test_a_disabled_account_keeps_its_key_out_of_management(client, world, admin):
    alice = world.account("alice")
    key = bearer(world.api_key(alice))
    await client.post(f"/api/v1/admin/accounts/{alice}/disable", headers=bearer(admin))
    assert_problem(await client.get("/api/v1/account/tokens", headers=key), 403,
                   "account_disabled")


# --- the account surface acts for the account; another account's things are not found ------


async def test_an_admin_revokes_only_its_own_api_keys_on_the_account_surface(client, world,
                                                                               admin):
    alice = world.account("alice")
    key_id = world.api_key(alice).split("_")[1]
    response = await client.post(f"/api/v1/account/api-keys/{key_id}/revoke",
                                 headers=bearer(admin))
    assert_problem(response, 404, "not_found")


async def test_other_accounts_tokens_and_realms_are_not_found(client, world, zone):
    alice, bob = world.account("alice"), world.account("bob")
    bobs = await made(world.realm(bob, zone, "bob"))
    token = world.token(bobs)
    key = bearer(world.api_key(alice))
    assert_problem(await client.post(f"/api/v1/account/tokens/{token.id}/revoke", headers=key),
                   404, "not_found")
    assert_problem(await client.post(f"/api/v1/account/realms/{bobs}/revoke", headers=key),
                   404, "not_found")
    assert_problem(await client.post("/api/v1/account/tokens", json={"realm_id": bobs},
                                     headers=key), 404, "not_found")
    assert_problem(await client.get(f"/api/v1/account/realms/{bobs}", headers=key),
                   404, "not_found")
