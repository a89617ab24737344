"""lego's httpreq protocol (``/httpreq/present``, ``/httpreq/cleanup``), in process.

Every result and error code, and that a refused request changes nothing.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import httpx
import pytest

from tests.support.acme import basic, break_backends, client_of, limited_app
from tests.support.api import audit_events, audit_text
from tests.support.factories import bearer

ZONE = "example.test"
CHALLENGE = "_acme-challenge.www.example.test"
VALUE1 = "a" * 43
VALUE2 = "b" * 43


@pytest.fixture
async def token(world) -> Any:
    """A token of a host realm on www.example.test that may write TXT."""
    await world.zone(ZONE)
    await world.zone("other.test")
    account = world.account("alice")
    realm = world.realm(account, ZONE, "www", kind="host", types=["A", "TXT"])
    return world.token(realm)


async def _txt(client: httpx.AsyncClient, admin: str, name: str = CHALLENGE
               ) -> dict[str, Any] | None:
    response = await client.get(f"/api/v1/zones/{ZONE}/rrsets",
                                params={"name": name, "type": "TXT"}, headers=bearer(admin))
    assert response.status_code == 200, response.text
    found = response.json()
    return found[0] if found else None


async def _present(client: httpx.AsyncClient, secret: str, body: Any,
                   path: str = "present", user: str = "lego") -> httpx.Response:
    return await client.post(f"/httpreq/{path}", json=body, headers=basic(user, secret))


async def test_present_then_cleanup_keeps_other_values(client, token, admin) -> None:
    first = await _present(client, token.secret, {"fqdn": f"{CHALLENGE}.", "value": VALUE1})
    assert first.status_code == 200, first.text
    assert first.json() == {"fqdn": f"{CHALLENGE}.", "value": VALUE1}
    second = await _present(client, token.secret, {"fqdn": f"{CHALLENGE}.", "value": VALUE2})
    assert second.status_code == 200, second.text
    rrset = await _txt(client, admin)
    assert rrset is not None
    assert rrset["records"] == [f'"{VALUE1}"', f'"{VALUE2}"']
    assert rrset["ttl"] == 60  # a short TTL for challenges, within the zone's bounds

    again = await _present(client, token.secret, {"fqdn": CHALLENGE, "value": VALUE2})
    assert again.status_code == 200
    assert (await _txt(client, admin))["records"] == [f'"{VALUE1}"', f'"{VALUE2}"']

    gone = await _present(client, token.secret, {"fqdn": f"{CHALLENGE}.", "value": VALUE1},
                          "cleanup")
    assert gone.status_code == 200, gone.text
    assert (await _txt(client, admin))["records"] == [f'"{VALUE2}"']
    last = await _present(client, token.secret, {"fqdn": f"{CHALLENGE}.", "value": VALUE2},
                          "cleanup")
    assert last.status_code == 200
    assert await _txt(client, admin) is None


async def test_cleanup_of_an_absent_value_is_a_no_op(client, token, admin) -> None:
    await _present(client, token.secret, {"fqdn": CHALLENGE, "value": VALUE1})
    response = await _present(client, token.secret, {"fqdn": CHALLENGE, "value": VALUE2},
                              "cleanup")
    assert response.status_code == 200
    assert (await _txt(client, admin))["records"] == [f'"{VALUE1}"']
    nothing = await _present(client, token.secret, {"fqdn": "_acme-challenge.www.example.test",
                                                    "value": VALUE1}, "cleanup")
    assert nothing.status_code == 200
    empty = await _present(client, token.secret, {"fqdn": CHALLENGE, "value": VALUE1},
                           "cleanup")
    assert empty.status_code == 200
    assert await _txt(client, admin) is None


async def test_raw_mode_computes_the_dns01_value(client, token, admin) -> None:
    key_auth = "token123.thumbprint456"
    expected = base64.urlsafe_b64encode(
        hashlib.sha256(key_auth.encode()).digest()).decode().rstrip("=")
    body = {"domain": "www.example.test", "token": "token123", "keyAuth": key_auth}
    response = await _present(client, token.secret, body)
    assert response.status_code == 200, response.text
    assert response.json() == {"fqdn": f"{CHALLENGE}.", "value": expected}
    assert (await _txt(client, admin))["records"] == [f'"{expected}"']
    wildcard = await _present(client, token.secret, {**body, "domain": "*.www.example.test"},
                              "cleanup")
    assert wildcard.status_code == 200
    assert await _txt(client, admin) is None


@pytest.mark.parametrize("how", ["password", "id-and-secret", "bearer"])
async def test_credential_placements(client, token, admin, how) -> None:
    token_id = token.id
    secret_part = token.secret.split("_")[2]
    headers = {
        "password": basic("anything", token.secret),
        "id-and-secret": basic(token_id, secret_part),
        "bearer": bearer(token.secret),
    }[how]
    response = await client.post("/httpreq/present", headers=headers,
                                 json={"fqdn": CHALLENGE, "value": VALUE1})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("headers", [
    {},
    basic("lego", "dg_aaaaaaaaaaaaaaaa_" + "a" * 52),
    basic("lego", "not-a-token"),
    {"Authorization": "Basic !!!"},
    {"Authorization": "Digest x"},
], ids=["none", "unknown-token", "garbage", "bad-base64", "other-scheme"])
async def test_bad_credentials_get_401(client, token, admin, headers) -> None:
    response = await client.post("/httpreq/present", headers=headers,
                                 json={"fqdn": CHALLENGE, "value": VALUE1})
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Basic")
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"] in ("token_missing", "token_invalid")
    assert await _txt(client, admin) is None


async def test_revoked_token_gets_401(client, token, admin, env) -> None:
    from dnsgate.services import tokens
    from dnsgate.services.context import SYSTEM_CALLER, SYSTEM_CONTEXT

    tokens.revoke_token(env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, token_id=token.id)
    response = await _present(client, token.secret, {"fqdn": CHALLENGE, "value": VALUE1})
    assert response.status_code == 401
    assert response.json()["error"] == "token_revoked"
    assert await _txt(client, admin) is None


@pytest.mark.parametrize("body", [
    b"{not json",
    b"[]",
    b'"text"',
    b"{}",
    b'{"fqdn": "_acme-challenge.www.example.test."}',
    b'{"value": "x"}',
    b'{"fqdn": 5, "value": "x"}',
    b'{"fqdn": "_acme-challenge.www.example.test.", "value": ""}',
    b'{"fqdn": "_acme-challenge.www.example.test.", "value": ["x"]}',
    b'{"fqdn": "bad..name", "value": "x"}',
    b'{"domain": "www.example.test"}',
    b'{"domain": "www.example.test", "token": 5, "keyAuth": "k"}',
    b'{"domain": 7, "keyAuth": "k"}',
], ids=lambda b: b.decode()[:40])
async def test_malformed_bodies_get_400(client, token, admin, body) -> None:
    response = await client.post("/httpreq/present", content=body,
                                 headers={**basic("lego", token.secret),
                                          "content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    assert await _txt(client, admin) is None


async def test_a_name_outside_the_realm_is_refused(client, token, admin, env) -> None:
    other = "_acme-challenge.mail.example.test"
    response = await _present(client, token.secret, {"fqdn": other, "value": VALUE1})
    assert response.status_code == 403, response.text
    assert response.json()["error"] == "name_outside_realm"
    assert await _txt(client, admin, other) is None
    denied = audit_events(env, outcome="denied", name=other)
    assert denied and denied[-1].details["surface"] == "httpreq"
    # a suffix without a dot boundary is another name
    evil = await _present(client, token.secret,
                          {"fqdn": "_acme-challenge.evilwww.example.test", "value": VALUE1})
    assert evil.status_code == 403


async def test_a_name_in_no_zone_of_the_token_is_404(client, token, admin) -> None:
    response = await _present(client, token.secret,
                              {"fqdn": "_acme-challenge.www.other.test", "value": VALUE1})
    assert response.status_code == 404, response.text
    assert response.json()["error"] == "zone_not_found"


async def test_api_key_reaches_its_realms(client, token, world, admin) -> None:
    account = world.account("bob")
    world.realm(account, ZONE, "bob", kind="subtree", types=["TXT"])
    key = world.api_key(account)
    name = "_acme-challenge.bob.example.test"
    response = await _present(client, key, {"fqdn": name, "value": VALUE1})
    assert response.status_code == 200, response.text
    assert (await _txt(client, admin, name))["records"] == [f'"{VALUE1}"']


async def test_rate_limit_is_429(settings, env, token) -> None:
    async with await client_of(limited_app(settings, env)) as client:
        first = await _present(client, token.secret, {"fqdn": CHALLENGE, "value": VALUE1})
        assert first.status_code == 200, first.text
        second = await _present(client, token.secret, {"fqdn": CHALLENGE, "value": VALUE2})
    assert second.status_code == 429, second.text
    assert second.json()["error"] == "rate_limited"
    assert int(second.headers["retry-after"]) >= 1


@pytest.mark.parametrize("slow", [False, True])
async def test_backend_failure_is_502_or_504(client, token, monkeypatch, env, slow) -> None:
    break_backends(monkeypatch, env, timeout=slow)
    response = await _present(client, token.secret, {"fqdn": CHALLENGE, "value": VALUE1})
    assert response.status_code == (504 if slow else 502), response.text
    assert response.json()["error"] == "backend_unavailable"
    assert "connection refused" not in response.text  # the provider's detail is for the audit


async def test_unknown_paths_and_methods(client, token) -> None:
    wrong_method = await client.get("/httpreq/present", headers=basic("l", token.secret))
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"] == "method_not_allowed"
    missing = await client.post("/httpreq/other", headers=basic("l", token.secret))
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"


async def test_audit_names_the_surface_and_holds_no_secret(client, token, env) -> None:
    await _present(client, token.secret, {"fqdn": CHALLENGE, "value": VALUE1})
    await _present(client, token.secret, {"fqdn": CHALLENGE, "value": VALUE1}, "cleanup")
    events = audit_events(env, name=CHALLENGE, outcome="success")
    assert [e.action for e in events] == ["rrset.create", "rrset.delete"]
    assert all(e.details["surface"] == "httpreq" for e in events)
    assert all(e.actor_type == "token" and e.actor_id == token.id for e in events)
    text = audit_text(env)
    assert token.secret not in text and token.secret.split("_")[2] not in text
