"""The client address over HTTP: the socket peer, unless it is a trusted proxy.

From peers listed in ``DNSGATE_TRUSTED_PROXIES`` exactly one header is read,
the one the proxy sets (``DNSGATE_PROXY_HEADER``: ``x-forwarded-for`` by
default, or ``forwarded``); then the forwarded address is what the audit log
records and what token CIDRs are checked against. The other header is
whatever the client sent, and never counts.
"""

from __future__ import annotations

import pytest

from tests.support.api import assert_problem, audit_events
from tests.support.factories import bearer

HOME_A = "/api/v1/zones/example.test/rrsets/home.example.test/A"
SPOOF = {"X-Forwarded-For": "192.0.2.55", "Forwarded": 'for="192.0.2.55"'}


@pytest.fixture
async def realm(world) -> int:
    zone = await world.zone("example.test")
    return world.realm(world.account("alice"), zone, "home")


@pytest.fixture
def proxied_app(settings, env, make_settings):
    """The app behind a reverse proxy on 127.0.0.1 (the test client's address)
    that sets X-Forwarded-For."""
    from dnsgate.app import create_app

    return create_app(make_settings(trusted_proxies="127.0.0.1/32, ::1"), env=env,
                      migrate_on_start=False)


@pytest.fixture
def rfc7239_app(settings, env, make_settings):
    """The app behind a reverse proxy on 127.0.0.1 that sets ``Forwarded``."""
    from dnsgate.app import create_app

    return create_app(make_settings(trusted_proxies="127.0.0.1/32, ::1",
                                    proxy_header="Forwarded"), env=env,
                      migrate_on_start=False)


async def put(client, secret, headers=None, data="192.0.2.1"):
    return await client.put(HOME_A, json={"records": [data]},
                            headers={**bearer(secret), **(headers or {})})


def source_of(env, response) -> str | None:
    (event,) = audit_events(env, request_id=response.headers["x-request-id"])
    return event.source_ip


async def test_forwarded_headers_are_ignored_without_trusted_proxies(client, world, env, realm):
    token = world.token(realm)
    for i, headers in enumerate((SPOOF, {"X-Forwarded-For": "192.0.2.55"},
                                 {"Forwarded": "for=192.0.2.55"})):
        response = await put(client, token.secret, headers, data=f"192.0.2.{i + 1}")
        assert response.status_code == 200
        assert source_of(env, response) == "127.0.0.1"


async def test_forwarded_headers_do_not_pass_a_cidr_check_from_an_untrusted_peer(
        client, world, realm):
    token = world.token(realm, cidrs=["192.0.2.0/24"])
    response = await put(client, token.secret, SPOOF)
    assert_problem(response, 403, "ip_not_allowed")


async def test_untrusted_peer_cannot_spoof_even_when_proxies_are_configured(
        proxied_app, world, env, realm, make_client):
    token = world.token(realm, cidrs=["192.0.2.0/24"])
    async with make_client(proxied_app, peer="198.51.100.20") as c:
        response = await put(c, token.secret, SPOOF)
        assert_problem(response, 403, "ip_not_allowed")
        (event,) = audit_events(env, outcome="denied")
        assert event.source_ip == "198.51.100.20"


async def test_x_forwarded_for_from_a_trusted_proxy(proxied_app, world, env, realm,
                                                    make_client):
    token = world.token(realm, cidrs=["203.0.113.0/24"])
    async with make_client(proxied_app) as c:
        response = await put(c, token.secret, {"X-Forwarded-For": "203.0.113.7"})
        assert response.status_code == 200, response.text
        assert source_of(env, response) == "203.0.113.7"
        # the rightmost untrusted hop is the client; what it claims further left is not
        response = await put(c, token.secret,
                             {"X-Forwarded-For": "192.0.2.1, 203.0.113.8, 127.0.0.1"},
                             data="192.0.2.2")
        assert source_of(env, response) == "203.0.113.8"
        response = await put(c, token.secret, {"X-Forwarded-For": "203.0.113.9, 192.0.2.1"})
        assert_problem(response, 403, "ip_not_allowed")
        assert source_of(env, response) == "192.0.2.1"
        # without any forwarding header, the proxy itself is the client
        response = await put(c, token.secret)
        assert_problem(response, 403, "ip_not_allowed")
        assert source_of(env, response) == "127.0.0.1"


async def test_forwarded_from_a_trusted_proxy(rfc7239_app, world, env, realm, make_client):
    token = world.token(realm, cidrs=["2001:db8::/32"])
    async with make_client(rfc7239_app) as c:
        response = await put(c, token.secret,
                             {"Forwarded": 'for=192.0.2.60;proto=https, '
                                           'for="[2001:db8:cafe::17]:4711"'})
        assert response.status_code == 200, response.text
        assert source_of(env, response) == "2001:db8:cafe::17"
        # X-Forwarded-For is the client's own text here: never read
        response = await put(c, token.secret, {"Forwarded": 'for="[2001:db8::1]"',
                                               "X-Forwarded-For": "192.0.2.1"},
                             data="192.0.2.2")
        assert response.status_code == 200
        assert source_of(env, response) == "2001:db8::1"
        response = await put(c, token.secret, {"X-Forwarded-For": "2001:db8::99"},
                             data="192.0.2.3")
        assert_problem(response, 403, "ip_not_allowed")
        assert source_of(env, response) == "127.0.0.1"


async def test_a_client_forwarded_header_cannot_outvote_the_proxy(proxied_app, world, env,
                                                                  realm, make_client):
    """The proxy appends the client's address to X-Forwarded-For and passes the
    client's own Forwarded through: reading it would let the client choose."""
    token = world.token(realm, cidrs=["203.0.113.0/24"])
    async with make_client(proxied_app) as c:
        response = await put(c, token.secret, {"X-Forwarded-For": "198.51.100.7",
                                               "Forwarded": "for=203.0.113.5"})
        assert_problem(response, 403, "ip_not_allowed")
        assert source_of(env, response) == "198.51.100.7"
        response = await put(c, token.secret, {"Forwarded": "for=203.0.113.5"})
        assert_problem(response, 403, "ip_not_allowed")
        assert source_of(env, response) == "127.0.0.1"


@pytest.mark.parametrize("value", ["x-forwarded-for", "X-Forwarded-For", "forwarded"])
def test_the_proxy_header_setting(make_settings, value):
    assert make_settings(proxy_header=value).proxy_header == value.lower()


def test_an_unknown_proxy_header_is_refused(make_settings):
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        make_settings(proxy_header="x-real-ip")


async def test_token_use_records_the_forwarded_address(proxied_app, world, realm, make_client):
    token = world.token(realm)
    key = bearer(world.api_key(world.account("root", admin=True)))
    async with make_client(proxied_app) as c:
        assert (await put(c, token.secret, {"X-Forwarded-For": "203.0.113.44"})).status_code == 200
        listed = await c.get("/api/v1/admin/tokens", headers=key)
        (row,) = [t for t in listed.json() if t["id"] == token.id]
        assert row["last_used_ip"] == "203.0.113.44"


async def test_login_throttling_and_audit_use_the_forwarded_address(proxied_app, world, env,
                                                                    make_client):
    world.account("alice")
    async with make_client(proxied_app) as c:
        response = await c.post("/api/v1/auth/api-keys",
                                json={"username": "alice", "password": "wrong password"},
                                headers={"X-Forwarded-For": "198.51.100.99"})
        assert_problem(response, 401, "login_failed")
        assert source_of(env, response) == "198.51.100.99"
