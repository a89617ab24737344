"""The acme-dns API (``/acme-dns/register``, ``/update``, ``/health``), in process.

Register needs an account API key and mints a token for one challenge name;
update speaks acme-dns's headers, body and error strings.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.acme import break_backends, client_of, limited_app
from tests.support.api import audit_events, audit_text
from tests.support.factories import bearer

ZONE = "example.test"
CHALLENGE = "_acme-challenge.www.example.test"
TXT = [c * 43 for c in "abcd"]


@pytest.fixture
async def alice(world) -> dict[str, Any]:
    """An account with one host realm (www, A+TXT) and its API key."""
    await world.zone(ZONE)
    account = world.account("alice")
    realm = world.realm(account, ZONE, "www", kind="host", types=["A", "TXT"])
    return {"id": account, "realm": realm, "key": world.api_key(account)}


async def _register(client: httpx.AsyncClient, key: str | None, body: Any = None,
                    raw: bytes | None = None) -> httpx.Response:
    headers = bearer(key) if key else {}
    if raw is not None:
        return await client.post("/acme-dns/register", content=raw, headers=headers)
    if body is None:
        return await client.post("/acme-dns/register", headers=headers)
    return await client.post("/acme-dns/register", json=body, headers=headers)


async def _update(client: httpx.AsyncClient, account: dict[str, Any], txt: Any,
                  **override: Any) -> httpx.Response:
    headers = {"X-Api-User": account["username"], "X-Api-Key": account["password"]}
    headers.update(override.pop("headers", {}))
    body = {"subdomain": account["subdomain"], "txt": txt, **override}
    return await client.post("/acme-dns/update", json=body, headers=headers)


async def _txt(client: httpx.AsyncClient, admin: str, name: str = CHALLENGE) -> list[str]:
    response = await client.get(f"/api/v1/zones/{ZONE}/rrsets",
                                params={"name": name, "type": "TXT"}, headers=bearer(admin))
    assert response.status_code == 200, response.text
    return [r for rr in response.json() for r in rr["records"]]


async def test_health(client) -> None:
    response = await client.get("/acme-dns/health")
    assert response.status_code == 200
    assert response.content == b""


async def test_register_answers_acme_dns_shape(client, alice) -> None:
    response = await _register(client, alice["key"])
    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/json"
    account = response.json()
    assert set(account) == {"username", "password", "fulldomain", "subdomain", "allowfrom"}
    assert account["fulldomain"] == CHALLENGE
    assert account["subdomain"] == account["username"]
    assert account["password"].startswith(f"dg_{account['username']}_")
    assert account["allowfrom"] == []


async def test_register_then_update_keeps_two_newest(client, alice, admin) -> None:
    account = (await _register(client, alice["key"], {"domain": "www.example.test"})).json()
    for i, txt in enumerate(TXT):
        response = await _update(client, account, txt)
        assert response.status_code == 200, response.text
        assert response.json() == {"txt": txt}
        expected = [f'"{t}"' for t in TXT[max(0, i - 1):i + 1]]
        assert await _txt(client, admin) == expected
    # the same value again: the same two values (an RRset is a set)
    again = await _update(client, account, TXT[2])
    assert again.status_code == 200
    assert sorted(await _txt(client, admin)) == [f'"{TXT[2]}"', f'"{TXT[3]}"']


async def test_bare_secret_as_key(client, alice, admin) -> None:
    account = (await _register(client, alice["key"])).json()
    secret = account["password"].split("_")[2]
    response = await _update(client, account, TXT[0], headers={"X-Api-Key": secret})
    assert response.status_code == 200, response.text
    assert await _txt(client, admin) == [f'"{TXT[0]}"']


async def test_register_domain_in_a_subtree_realm(client, world, admin) -> None:
    await world.zone(ZONE)
    account = world.account("team")
    world.realm(account, ZONE, "lab", kind="subtree", types=["TXT"])
    world.realm(account, ZONE, "www", kind="host", types=["A", "TXT"])
    key = world.api_key(account)
    needs_domain = await _register(client, key)
    assert needs_domain.status_code == 400
    assert needs_domain.json() == {"error": "domain_required"}
    response = await _register(client, key, {"domain": "*.web.lab.example.test"})
    assert response.status_code == 201, response.text
    registered = response.json()
    assert registered["fulldomain"] == "_acme-challenge.web.lab.example.test"
    assert (await _update(client, registered, TXT[0])).status_code == 200
    assert await _txt(client, admin, registered["fulldomain"]) == [f'"{TXT[0]}"']
    # the token is for that one name only: nothing else of the realm
    other = await client.post("/httpreq/present", headers=bearer(registered["password"]),
                              json={"fqdn": "_acme-challenge.x.lab.example.test",
                                    "value": TXT[1]})
    assert other.status_code == 403


async def test_allowfrom_becomes_the_tokens_networks(client, alice, admin) -> None:
    response = await _register(client, alice["key"],
                               {"allowfrom": ["192.0.2.7/24", "[2001:db8::1]/64"]})
    assert response.status_code == 201, response.text
    account = response.json()
    assert account["allowfrom"] == ["192.0.2.0/24", "2001:db8::/64"]
    # the test client comes from 127.0.0.1: not in the list
    refused = await _update(client, account, TXT[0])
    assert refused.status_code == 401
    assert refused.json() == {"error": "forbidden"}
    assert await _txt(client, admin) == []
    local = (await _register(client, alice["key"], {"allowfrom": ["127.0.0.0/8"]})).json()
    assert (await _update(client, local, TXT[0])).status_code == 200


@pytest.mark.parametrize(("body", "error"), [
    (b"{nope", "malformed_json_payload"),
    (b"[]", "malformed_json_payload"),
    (b'{"allowfrom": "10.0.0.0/8"}', "malformed_json_payload"),
    (b'{"allowfrom": [5]}', "malformed_json_payload"),
    (b'{"domain": 5}', "malformed_json_payload"),
    (b'{"allowfrom": ["10.0.0.1"]}', "invalid_allowfrom_cidr"),
    (b'{"allowfrom": ["10.0.0.300/8"]}', "invalid_allowfrom_cidr"),
    (b'{"domain": "bad..name"}', "invalid_name"),
])
async def test_register_bad_input(client, alice, env, body, error) -> None:
    response = await _register(client, alice["key"], raw=body)
    assert response.status_code == 400, response.text
    assert response.json() == {"error": error}
    assert not audit_events(env, action="token.create")


@pytest.mark.parametrize(("domain", "status", "error"), [
    ("mail.example.test", 403, "name_outside_realm"),
    ("evilwww.example.test", 403, "name_outside_realm"),
    ("www.elsewhere.test", 403, "name_outside_realm"),
])
async def test_register_outside_the_realms(client, alice, env, domain, status, error) -> None:
    response = await _register(client, alice["key"], {"domain": domain})
    assert response.status_code == status, response.text
    assert response.json() == {"error": error}
    assert not audit_events(env, action="token.create")


async def test_register_a_realm_without_txt(client, world, env) -> None:
    await world.zone(ZONE)
    account = world.account("ahost")
    world.realm(account, ZONE, "home", kind="host", types=["A"])
    response = await _register(client, world.api_key(account))
    assert response.status_code == 403
    # _acme-challenge.home is the host's own attached name, but the realm has no TXT.
    assert response.json() == {"error": "type_not_allowed"}


@pytest.mark.parametrize("credential", [None, "dgk_aaaaaaaaaaaaaaaa_" + "a" * 52, "token"])
async def test_register_needs_an_account_api_key(client, alice, world, credential) -> None:
    if credential == "token":
        credential = world.token(alice["realm"]).secret  # a realm token cannot register
    response = await _register(client, credential)
    assert response.status_code == 401
    assert response.json() == {"error": "forbidden"}


async def test_register_by_a_disabled_account(client, alice, env) -> None:
    from dnsgate.db.models import Account

    with env.db.write() as session:
        session.get(Account, alice["id"]).status = "disabled"
    response = await _register(client, alice["key"])
    assert response.status_code == 401
    assert response.json() == {"error": "forbidden"}


@pytest.mark.parametrize("change", [
    {"headers": {"X-Api-User": ""}},
    {"headers": {"X-Api-Key": ""}},
    {"headers": {"X-Api-User": "aaaaaaaaaaaaaaaa"}},
    {"headers": {"X-Api-Key": "dg_aaaaaaaaaaaaaaaa_" + "a" * 52}},
    {"headers": {"X-Api-Key": "b" * 52}},
    {"subdomain": "someoneelse"},
    {"subdomain": None},
], ids=["no-user", "no-key", "other-user", "other-token", "wrong-secret", "other-subdomain",
        "no-subdomain"])
async def test_update_forbidden(client, alice, admin, change) -> None:
    account = (await _register(client, alice["key"])).json()
    body_change = {k: v for k, v in change.items() if k != "headers"}
    if body_change.get("subdomain", "") is None:
        response = await client.post(
            "/acme-dns/update", json={"txt": TXT[0]},
            headers={"X-Api-User": account["username"], "X-Api-Key": account["password"]})
    else:
        response = await _update(client, account, TXT[0], **change)
    assert response.status_code == 401, response.text
    assert response.json() == {"error": "forbidden"}
    assert await _txt(client, admin) == []


async def test_update_by_a_revoked_token(client, alice, admin, env) -> None:
    from dnsgate.services import tokens
    from dnsgate.services.context import SYSTEM_CALLER, SYSTEM_CONTEXT

    account = (await _register(client, alice["key"])).json()
    tokens.revoke_token(env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, token_id=account["username"])
    response = await _update(client, account, TXT[0])
    assert response.status_code == 401
    assert response.json() == {"error": "forbidden"}
    assert await _txt(client, admin) == []


@pytest.mark.parametrize(("body", "error"), [
    (b"{nope", "malformed_json_payload"),
    (b"[1]", "malformed_json_payload"),
    (b'{"subdomain": "bad_label!", "txt": "x"}', "bad_subdomain"),
    (b'{"subdomain": 5, "txt": "x"}', "bad_subdomain"),
    (b'{"subdomain": "-leading", "txt": "x"}', "bad_subdomain"),
    (b'{"subdomain": "SUB", "txt": "' + b"a" * 42 + b'"}', "bad_txt"),
    (b'{"subdomain": "SUB", "txt": "' + b"a" * 44 + b'"}', "bad_txt"),
    (b'{"subdomain": "SUB", "txt": "' + b"a" * 42 + b'!"}', "bad_txt"),
    (b'{"subdomain": "SUB", "txt": 5}', "bad_txt"),
    (b'{"subdomain": "SUB"}', "bad_txt"),
], ids=lambda v: v.decode()[:30] if isinstance(v, bytes) else v)
async def test_update_bad_input(client, alice, admin, body, error) -> None:
    account = (await _register(client, alice["key"])).json()
    response = await client.post(
        "/acme-dns/update", content=body.replace(b"SUB", account["subdomain"].encode()),
        headers={"X-Api-User": account["username"], "X-Api-Key": account["password"]})
    assert response.status_code == 400, response.text
    assert response.json() == {"error": error}
    assert await _txt(client, admin) == []


async def test_update_with_a_portal_token(client, world, admin) -> None:
    """A token minted elsewhere works too: subdomain and username are its id."""
    await world.zone(ZONE)
    account = world.account("carol")
    realm = world.realm(account, ZONE, "carol", kind="host", types=["TXT"])
    token = world.token(realm)
    creds = {"username": token.id, "password": token.secret, "subdomain": token.id}
    response = await _update(client, creds, TXT[0])
    assert response.status_code == 200, response.text
    assert await _txt(client, admin, "_acme-challenge.carol.example.test") == [f'"{TXT[0]}"']


async def test_update_rate_limited(settings, env, alice) -> None:
    async with await client_of(limited_app(settings, env)) as client:
        account = (await _register(client, alice["key"])).json()
        assert (await _update(client, account, TXT[0])).status_code == 200
        second = await _update(client, account, TXT[1])
    assert second.status_code == 429
    assert second.json() == {"error": "rate_limited"}
    assert "retry-after" in second.headers


@pytest.mark.parametrize("slow", [False, True])
async def test_update_backend_failure(client, alice, monkeypatch, env, slow) -> None:
    account = (await _register(client, alice["key"])).json()
    break_backends(monkeypatch, env, timeout=slow)
    response = await _update(client, account, TXT[0])
    assert response.status_code == (504 if slow else 502)
    assert response.json() == {"error": "backend_unavailable"}


async def test_unknown_paths_and_methods(client) -> None:
    assert (await client.get("/acme-dns/update")).json() == {"error": "method_not_allowed"}
    missing = await client.post("/acme-dns/nothing")
    assert missing.status_code == 404
    assert missing.json() == {"error": "not_found"}


async def test_audit_surface_and_no_secrets(client, alice, env) -> None:
    account = (await _register(client, alice["key"])).json()
    assert (await _update(client, account, TXT[0])).status_code == 200
    created = audit_events(env, action="token.create")
    assert created[-1].details["surface"] == "acme-dns"
    assert created[-1].details["names"] == [CHALLENGE]
    written = audit_events(env, name=CHALLENGE, outcome="success")
    assert written and all(e.details["surface"] == "acme-dns" for e in written)
    text = audit_text(env)
    assert account["password"] not in text
    assert account["password"].split("_")[2] not in text
    assert alice["key"].split("_")[2] not in text


async def test_update_in_a_realm_on_the_challenge_name_itself(client, world, admin) -> None:
    """A host realm on ``_acme-challenge.www`` writes there, not one label deeper."""
    await world.zone(ZONE)
    account = world.account("dave")
    realm = world.realm(account, ZONE, CHALLENGE, kind="host", types=["TXT"])
    token = world.token(realm)
    creds = {"username": token.id, "password": token.secret, "subdomain": token.id}
    response = await _update(client, creds, TXT[1])
    assert response.status_code == 200, response.text
    assert await _txt(client, admin) == [f'"{TXT[1]}"']
    assert await _txt(client, admin, f"_acme-challenge.{CHALLENGE}") == []
