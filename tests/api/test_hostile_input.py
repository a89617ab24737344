"""No input is a server error: 404 or 422 (a facade's own 4xx), never 500, on
the REST API and every protocol facade.

The classes: ids and numbers beyond what the database's integers hold,
references to rows that do not exist, text that is not Unicode (JSON's lone
surrogates) or holds NUL, in bodies, paths and queries, numbers spelled in
digits that are not ASCII, bodies that are not UTF-8. The web UI's share is
in tests/web/test_hostile_input.py; schemathesis fuzzes the whole OpenAPI
document in test_openapi_fuzz.py.
"""

from __future__ import annotations

import json

import pytest

from tests.support.api import PROBLEM, assert_problem
from tests.support.factories import bearer

HUGE = "99999999999999999999999"  # beyond 64 bits
BEYOND_INT32 = str(2**31)
SURROGATE = '"\\ud800"'  # a lone surrogate, as JSON spells it
NUL = '"a\\u0000b"'


@pytest.fixture
async def token(world, zone, alice) -> str:
    """A token of alice's host realm home.example.test (A, AAAA, TXT)."""
    return world.token(world.realm(alice, zone, "home", types=["A", "AAAA", "TXT"])).secret


def _json(raw: str, credential: str) -> dict[str, object]:
    """A raw JSON body with its content type, and the credential."""
    return {"content": raw.encode(),
            "headers": {**bearer(credential), "content-type": "application/json"}}


@pytest.mark.parametrize("path", [
    f"/api/v1/admin/realms/{HUGE}/approve",
    f"/api/v1/admin/realms/{BEYOND_INT32}/revoke",
    f"/api/v1/admin/accounts/{HUGE}/disable",
    f"/api/v1/admin/accounts/{HUGE}/enable",
    f"/api/v1/admin/grants/{HUGE}/revoke",
    f"/api/v1/account/realms/{HUGE}/revoke",
])
async def test_ids_beyond_the_database_are_invalid_input(client, admin, path):
    response = await client.post(path, headers=bearer(admin))
    assert_problem(response, 422, "invalid_request", path)


@pytest.mark.parametrize("query", [
    f"/api/v1/admin/realms?account_id={HUGE}", f"/api/v1/admin/tokens?realm_id={HUGE}",
    f"/api/v1/admin/tokens?account_id={BEYOND_INT32}", f"/api/v1/admin/audit?before_id={HUGE}",
    f"/api/v1/admin/audit?account_id={HUGE}", f"/api/v1/account/tokens?realm_id={HUGE}",
    f"/api/v1/account/audit?before_id={HUGE}", f"/api/v1/account/realms/{HUGE}",
])
async def test_numbers_in_queries_beyond_the_database(client, admin, query):
    assert_problem(await client.get(query, headers=bearer(admin)), 422, "invalid_request",
                   query)


async def test_a_reference_to_an_unknown_account_is_404(client, admin, zone):
    response = await client.post("/api/v1/admin/realms", headers=bearer(admin), json={
        "zone": zone, "name": "x", "account_id": 12345})
    assert_problem(response, 404, "not_found")


async def test_a_reference_the_database_refuses_is_404(app, admin, caplog, make_client):
    """A service that forgot a check: the database's refusal is a 404 (logged
    with the traceback), never a 500."""
    from fastapi import APIRouter

    from dnsgate.db.models import Realm

    env = app.state.env
    broken = APIRouter()

    @broken.post("/api/v1/test-only/orphan")
    async def orphan() -> None:
        with env.db.write() as session:
            session.add(Realm(account_id=12345, zone_id=12345, name="x.test", kind="host",
                              types=[], ops=[], pending_reasons=[], handover=[]))

    app.include_router(broken)
    async with make_client(app, raise_app_exceptions=False) as c:
        response = await c.post("/api/v1/test-only/orphan", headers=bearer(admin))
    assert_problem(response, 404, "not_found")
    assert "broke a foreign key constraint" in caplog.text


async def test_an_id_in_range_that_names_nothing_is_404(client, admin):
    for path in ("/api/v1/admin/realms/2147483647/approve",
                 "/api/v1/admin/accounts/2147483647/disable"):
        assert (await client.post(path, headers=bearer(admin))).status_code == 404, path
    response = await client.post("/api/v1/admin/tokens", json={"realm_id": 2147483647},
                                 headers=bearer(admin))
    assert response.status_code == 404, response.text


@pytest.mark.parametrize(("path", "body"), [
    ("/api/v1/admin/zones/example.test/grants", {"account_id": int(HUGE)}),
    ("/api/v1/admin/realms", {"zone": "example.test", "name": "x", "account_id": int(HUGE)}),
    ("/api/v1/admin/tokens", {"realm_id": int(HUGE)}),
    ("/api/v1/admin/tokens", {"realm_id": 1, "expires_in": int(HUGE)}),
    ("/api/v1/admin/tokens", {"realm_id": 1, "max_idle_seconds": 2**40}),
    ("/api/v1/account/api-keys", {"expires_in": int(HUGE)}),
    ("/api/v1/admin/zones", {"zone": "z2.test", "min_depth": int(HUGE)}),
    ("/api/v1/admin/zones", {"zone": "z3.test", "realm_quota": 2**40}),
])
async def test_numbers_in_bodies_beyond_the_database(client, admin, zone, path, body):
    response = await client.post(path, json=body, headers=bearer(admin))
    assert_problem(response, 422, "invalid_request", (path, body))


async def test_a_zone_policy_cannot_hold_numbers_its_columns_cannot(client, admin, zone):
    response = await client.patch(f"/api/v1/admin/zones/{zone}", json={"ttl_max": 2**40},
                                  headers=bearer(admin))
    assert_problem(response, 422, "invalid_request")


@pytest.mark.parametrize(("method", "path", "raw"), [
    ("POST", "/api/v1/admin/accounts", '{"name": "ok", "email": ' + SURROGATE + "}"),
    ("POST", "/api/v1/admin/accounts", '{"name": ' + NUL + "}"),
    ("POST", "/api/v1/admin/accounts", '{"name": "ok", ' + SURROGATE + ": 1}"),
    ("POST", "/api/v1/auth/api-keys", '{"username": ' + SURROGATE + ', "password": "x"}'),
    ("POST", "/api/v1/admin/backends",
     '{"name": "b", "provider": "powerdns", "config": {"api_key": ' + SURROGATE + "}}"),
    ("POST", "/api/v1/admin/realms/1/reject", '{"reason": ' + NUL + "}"),
    ("POST", "/api/v1/account/tokens", '{"realm_id": 1, "names": [' + SURROGATE + "]}"),
])
async def test_text_that_is_not_unicode_or_holds_nul_is_invalid(client, admin, zone, method,
                                                               path, raw):
    response = await client.request(method, path, **_json(raw, admin))
    body = assert_problem(response, 422, "invalid_request", raw)
    json.dumps(body, ensure_ascii=False).encode()  # the answer itself is Unicode


@pytest.mark.parametrize("raw", [
    '{"records": [' + SURROGATE + "]}", '{"records": [' + NUL + "]}",
    '{"ttl": 99999999999999999999999, "records": ["192.0.2.1"]}',
])
async def test_record_writes_refuse_such_text(client, token, raw):
    response = await client.put("/api/v1/zones/example.test/rrsets/home.example.test/TXT",
                                **_json(raw, token))
    assert response.status_code == 422, response.text
    batch = ('{"changes": [{"action": "upsert", "name": "home.example.test", "type": "TXT", '
             '"records": [' + SURROGATE + "]}]}")
    response = await client.patch("/api/v1/zones/example.test/rrsets", **_json(batch, token))
    assert_problem(response, 422, "invalid_request")


async def test_a_body_that_is_not_utf8_is_invalid(client, admin):
    response = await client.post("/api/v1/admin/accounts", content=b'{"name": "\xff\xfe"}',
                                 headers={**bearer(admin), "content-type": "application/json"})
    assert_problem(response, 422, "invalid_request")


@pytest.mark.parametrize("url", [
    "/api/v1/zones/exa%00mple.test/rrsets", "/api/v1/admin/accounts?q=%00",
    "/api/v1/zones/example.test/rrsets?name=home%00", "/nic/update?hostname=a%00b",
    "/ui/login?next=%00", "/pdns/api/v1/servers/localhost/zones?zone=%00",
])
async def test_nul_in_a_url_is_refused_at_the_edge(client, admin, url):
    response = await client.get(url, headers=bearer(admin))
    assert_problem(response, 422, "invalid_request", url)


async def test_undecodable_bytes_in_a_url_are_replacement_characters(client, admin, token):
    for url in ("/api/v1/zones/%ED%A0%80/rrsets", "/api/v1/zones/example.test/rrsets?name=%FF",
                "/api/v1/admin/accounts?q=%ED%A0%80"):
        response = await client.get(url, headers=bearer(admin))
        assert response.status_code in (200, 404, 422), (url, response.text)


async def test_a_content_length_of_other_digits_is_refused(client, admin):
    response = await client.post("/api/v1/admin/accounts",
                                 headers={**bearer(admin), "content-length": "²".encode("latin-1")})
    assert_problem(response, 413, "body_too_large")


async def test_405_names_every_method_of_the_path(client, admin):
    response = await client.post("/api/v1/zones/example.test/rrsets/a.example.test/A",
                                 headers=bearer(admin))
    assert_problem(response, 405, "method_not_allowed")
    assert set(response.headers["allow"].split(", ")) == {"GET", "PUT", "DELETE"}
    response = await client.delete("/api/v1/admin/accounts", headers=bearer(admin))
    assert set(response.headers["allow"].split(", ")) == {"GET", "POST"}


# --- the protocol facades ----------------------------------------------------------


async def test_acme_dns_refuses_such_text(client, token):
    user = token.split("_")[1]
    headers = {"X-Api-User": user, "X-Api-Key": token, "content-type": "application/json"}
    for raw in ('{"subdomain": ' + SURROGATE + ', "txt": "x"}',
                '{"subdomain": "' + user + '", "txt": ' + NUL + "}"):
        response = await client.post("/acme-dns/update", content=raw.encode(), headers=headers)
        assert response.status_code == 400, response.text
        assert response.json() == {"error": "malformed_json_payload"}


async def test_acme_dns_405_carries_allow(client):
    response = await client.get("/acme-dns/update")
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    assert (await client.post("/acme-dns/health")).headers["allow"] == "GET"


async def test_httpreq_refuses_such_text(client, token):
    for raw in ('{"fqdn": "home.example.test", "value": ' + SURROGATE + "}",
                '{"fqdn": ' + SURROGATE + ', "value": "x"}',
                '{"fqdn": "home.example.test", "value": ' + NUL + "}"):
        response = await client.post("/httpreq/present", content=raw.encode(),
                                     headers=bearer(token))
        assert response.status_code == 400, (raw, response.text)
        assert response.json()["error"] == "invalid_request"
    response = await client.get("/httpreq/present")
    assert response.status_code == 405 and response.headers["allow"] == "POST"


@pytest.mark.parametrize("rrset", [
    {"records": [{"content": '"\ud800"'}]},
    {"records": [{"content": '"a\x00"'}]},
    {"ttl": "²", "records": [{"content": '"x"'}]},
    {"ttl": HUGE, "records": [{"content": '"x"'}]},
    {"ttl": 2**70, "records": [{"content": '"x"'}]},
])
async def test_pdns_api_refuses_such_input(client, token, rrset):
    body = {"rrsets": [{"name": "home.example.test.", "type": "TXT", "changetype": "REPLACE",
                        **rrset}]}
    raw = json.dumps(body).encode()  # ensure_ascii: the surrogate goes as \ud800
    response = await client.patch("/pdns/api/v1/servers/localhost/zones/example.test.",
                                  content=raw, headers={"X-API-Key": token,
                                                        "content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert "error" in response.json()


async def test_dyndns2_refuses_such_input(client, token):
    for query in ("hostname=%ED%A0%80&myip=192.0.2.1", "hostname=home.example.test&myip=%C2%B2",
                  "hostname=" + "a" * 300 + "&myip=192.0.2.1"):
        response = await client.get(f"/nic/update?{query}", headers=bearer(token))
        assert response.status_code == 200, response.text
        assert response.text.split()[0] in ("notfqdn", "dnserr"), (query, response.text)
    response = await client.post("/nic/update", content=b"hostname=a%00b&myip=192.0.2.1",
                                 headers={**bearer(token),
                                          "content-type": "application/x-www-form-urlencoded"})
    assert response.text.strip() == "notfqdn"


async def test_no_facade_answers_problem_json_for_its_own_refusals(client, token):
    response = await client.post("/httpreq/present", content=b"\xff", headers=bearer(token))
    assert response.status_code == 400
    assert response.headers["content-type"] != PROBLEM


DEEP = b"[" * 30000 + b"]" * 30000  # deeper than Python's json can go


async def test_json_nested_too_deep_is_refused_input(client, admin, token):
    json_type = {"content-type": "application/json"}
    response = await client.post("/api/v1/admin/accounts", content=DEEP,
                                 headers={**bearer(admin), **json_type})
    assert_problem(response, 422, "invalid_request")
    response = await client.put("/api/v1/zones/example.test/rrsets/home.example.test/A",
                                content=DEEP, headers={**bearer(token), **json_type})
    assert_problem(response, 422, "invalid_request")
    response = await client.post("/acme-dns/register", content=DEEP,
                                 headers={**bearer(admin), **json_type})
    assert (response.status_code, response.json()) == (400, {"error": "malformed_json_payload"})
    response = await client.post("/httpreq/present", content=DEEP, headers=bearer(token))
    assert response.status_code == 400
    response = await client.patch("/pdns/api/v1/servers/localhost/zones/example.test.",
                                  content=DEEP, headers={"X-API-Key": token, **json_type})
    assert (response.status_code, response.json()) == (400, {"error": "Bad Request"})
