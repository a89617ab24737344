"""The OpenAPI document tells the truth about errors (``api/openapi.py``).

schemathesis checks the answers against it (test_openapi_fuzz.py); these
check the document's own promises, operation by operation.
"""

from __future__ import annotations

import pytest

from dnsgate.api.openapi import statuses_of

DOC = "/api/v1/openapi.json"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


@pytest.fixture
async def doc(client) -> dict:
    response = await client.get(DOC)
    assert response.status_code == 200
    return response.json()


def operations(doc: dict):
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


async def test_every_error_is_a_problem_document(doc):
    assert doc["components"]["schemas"]["Problem"]["required"] == [
        "type", "title", "status", "code", "detail"]
    for method, path, operation in operations(doc):
        for status, response in operation["responses"].items():
            if int(status) < 400:
                assert "application/problem+json" not in response.get("content", {})
                continue
            assert response["content"] == {"application/problem+json": {"schema": PROBLEM_REF}}, (
                method, path, status)
    assert "HTTPValidationError" not in doc["components"]["schemas"]


async def test_every_operation_lists_what_it_can_answer(doc):
    for method, path, operation in operations(doc):
        listed = {int(s) for s in operation["responses"]}
        assert {401, 403, 503} <= listed, (method, path)
        if operation.get("parameters") or "requestBody" in operation:
            assert 422 in listed, (method, path)
        if "{" in path:
            assert 404 in listed, (method, path)
        if "requestBody" in operation:
            assert 413 in listed, (method, path)
        if method in ("post", "put", "patch", "delete"):
            assert 429 in listed, (method, path)
        if 502 in listed:
            assert 504 in listed, (method, path)
        assert "Retry-After" in operation["responses"]["503"]["headers"]


@pytest.mark.parametrize(("method", "path", "expected"), [
    ("put", "/api/v1/zones/{zone}/rrsets/{name}/{type}",
     {401, 403, 404, 409, 413, 422, 429, 502, 503, 504}),
    ("get", "/api/v1/whoami", {401, 403, 503}),
    ("get", "/api/v1/admin/realms", {401, 403, 404, 422, 503}),  # ?zone= names a zone
    ("post", "/api/v1/admin/tokens", {401, 403, 404, 409, 413, 422, 429, 503}),
    ("post", "/api/v1/admin/accounts", {401, 403, 409, 413, 422, 429, 503}),
])
async def test_the_statuses_of_some_operations(doc, method, path, expected):
    listed = {int(s) for s in doc["paths"][path][method]["responses"] if int(s) >= 400}
    assert listed == expected


async def test_credentials_are_the_bearer_scheme_but_at_sign_in(doc):
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer",
        "description": "a realm token (dg_...) or an account API key (dgk_...)"}
    assert doc["security"] == [{"bearer": []}]
    anonymous = [(m, p) for m, p, op in operations(doc) if op.get("security") == []]
    assert anonymous == [("post", "/api/v1/auth/api-keys")]


async def test_ids_and_numbers_carry_their_range(doc):
    (realm_id,) = [p for p in doc["paths"]["/api/v1/admin/realms/{realm_id}/approve"]["post"][
        "parameters"] if p["name"] == "realm_id"]
    assert realm_id["schema"] == {"type": "integer", "minimum": 1, "maximum": 2**31 - 1,
                                  "title": "Realm Id"}
    token = doc["components"]["schemas"]["TokenCreate"]["properties"]
    assert token["realm_id"]["maximum"] == 2**31 - 1
    assert token["expires_in"]["anyOf"][0]["exclusiveMinimum"] == 0


def test_the_rules_on_a_bare_operation():
    assert statuses_of("get", {"responses": {"200": {}}}) == {401, 403, 503}
    assert statuses_of("delete", {"responses": {"204": {}, "502": {}}, "parameters": [
        {"in": "path", "name": "x"}]}) == {401, 403, 404, 422, 429, 502, 503, 504}
    assert 404 not in statuses_of("get", {"responses": {}, "parameters": [
        {"in": "query", "name": "before_id"}]})
    assert 404 in statuses_of("get", {"responses": {}, "parameters": [
        {"in": "query", "name": "account_id"}]})


async def test_the_document_is_made_once(app):
    assert app.openapi() is app.openapi()
