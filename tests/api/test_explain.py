"""``GET /api/v1/whoami/explain``: decide()'s answer, its row and the realm that
decided (or came closest), for a realm token or an account API key."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from tests.support.api import assert_problem
from tests.support.factories import bearer

EXPLAIN = "/api/v1/whoami/explain"
RRSETS = "/api/v1/zones/example.test/rrsets"


async def made(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def ask(client, secret: str, *, zone: str = "example.test", name: str,
              type: str = "A", operation: str = "update") -> dict[str, Any]:
    response = await client.get(EXPLAIN, headers=bearer(secret), params={
        "zone": zone, "name": name, "type": type, "operation": operation})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"allowed", "code", "row", "realm"}
    return body


@pytest.fixture
async def home(world, zone, alice):
    """alice's realm ``home`` (host, A and TXT) and a token of it."""
    realm = await made(world.realm(alice, zone, "home", types=["A", "TXT"]))
    return realm, world.token(realm)


async def test_an_allowed_operation_names_its_realm_and_row(client, home):
    realm, token = home
    assert await ask(client, token.secret, name="home.example.test") == {
        "allowed": True, "code": "ok", "row": 15,
        "realm": {"id": realm, "name": "home.example.test", "kind": "host"}}


async def test_a_denial_names_the_realm_that_came_closest(client, home):
    realm, token = home
    answer = await ask(client, token.secret, name="home.example.test", type="AAAA")
    assert answer == {"allowed": False, "code": "type_not_allowed", "row": 11,
                      "realm": {"id": realm, "name": "home.example.test", "kind": "host"}}


async def test_a_name_no_realm_holds(client, home):
    _, token = home
    answer = await ask(client, token.secret, name="other.example.test")
    assert answer == {"allowed": False, "code": "name_outside_realm", "row": 8, "realm": None}


async def test_the_token_narrows_its_realm(client, world, home):
    realm, _ = home
    narrow = world.token(realm, operations=["read"])
    answer = await ask(client, narrow.secret, name="home.example.test")
    assert (answer["code"], answer["row"], answer["realm"]["id"]) == (
        "operation_not_allowed", 12, realm)
    assert (await ask(client, narrow.secret, name="home.example.test",
                      operation="read"))["allowed"]


async def test_a_revoked_token_learns_why(client, home, admin):
    _, token = home
    await client.post(f"/api/v1/admin/tokens/{token.id}/revoke", headers=bearer(admin))
    assert await ask(client, token.secret, name="home.example.test") == {
        "allowed": False, "code": "token_revoked", "row": 1, "realm": None}


async def test_an_api_key_with_several_realms(client, world, zone, alice):
    await made(world.realm(alice, zone, "a", types=["A"]))
    lab = await made(world.realm(alice, zone, "lab", kind="subtree", types=["A"]))
    key = world.api_key(alice)
    answer = await ask(client, key, name="x.lab.example.test", type="TXT")
    assert (answer["allowed"], answer["code"], answer["row"]) == (False, "type_not_allowed", 11)
    assert answer["realm"] == {"id": lab, "name": "lab.example.test", "kind": "subtree"}
    assert (await ask(client, key, name="a.example.test"))["realm"]["name"] == "a.example.test"


async def test_an_admin_key_is_decided_by_the_admin_row(client, zone, admin):
    assert await ask(client, admin, name="anything.example.test", type="TXT") == {
        "allowed": True, "code": "ok", "row": 6, "realm": None}


async def test_explain_says_what_a_write_then_does(client, world, home):
    """The explanation is decide()'s answer: the real request agrees with it."""
    _, token = home
    for name, rtype in (("home.example.test", "A"), ("home.example.test", "AAAA"),
                        ("other.example.test", "A"), ("home.example.test", "TXT")):
        answer = await ask(client, token.secret, name=name, type=rtype)
        records = ['"x"'] if rtype == "TXT" else (
            ["2001:db8::1"] if rtype == "AAAA" else ["192.0.2.1"])
        written = await client.put(f"{RRSETS}/{name}/{rtype}", json={"records": records},
                                   headers=bearer(token.secret))
        if answer["allowed"]:
            assert written.status_code == 200, (name, rtype, written.text)
        else:
            assert_problem(written, 403, answer["code"], case=(name, rtype))


async def test_invalid_questions_are_422(client, home):
    _, token = home
    base = {"zone": "example.test", "name": "home.example.test", "type": "A",
            "operation": "update"}
    for change, code in (({"name": "bad..name"}, "invalid_name"),
                         ({"name": "home.elsewhere.test"}, "invalid_name"),
                         ({"type": "BOGUS"}, "invalid_record"),
                         ({"operation": "write"}, "invalid_request"),
                         ({"operation": None}, "invalid_request")):
        params = {k: v for k, v in {**base, **change}.items() if v is not None}
        response = await client.get(EXPLAIN, headers=bearer(token.secret), params=params)
        assert_problem(response, 422, code, case=change)


async def test_a_zone_the_credential_may_not_see_is_404(client, world, home):
    _, token = home
    await world.zone("other.test")
    for zone in ("nowhere.test", "other.test"):
        response = await client.get(EXPLAIN, headers=bearer(token.secret), params={
            "zone": zone, "name": f"x.{zone}", "type": "A", "operation": "read"})
        assert_problem(response, 404, "zone_not_found", case=zone)


async def test_explain_needs_a_credential(client, zone):
    response = await client.get(EXPLAIN, params={"zone": "example.test", "name": "x",
                                                 "type": "A", "operation": "read"})
    assert_problem(response, 401, "token_missing")
