"""Routes outside the resources: health, readiness, OpenAPI, docs, unknown routes."""

from __future__ import annotations

from tests.support.api import PROBLEM, assert_problem


async def test_healthz_answers_without_credentials(client):
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_when_the_database_is_reachable(client):
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


async def test_readyz_is_503_when_the_database_is_unreachable(settings, env, tmp_path, make_client):
    import dataclasses

    from dnsgate.app import create_app
    from dnsgate.db.engine import Database

    missing = Database(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'x.db'}")
    try:
        app = create_app(settings, env=dataclasses.replace(env, db=missing),
                         migrate_on_start=False)
        async with make_client(app) as c:
            assert_problem(await c.get("/readyz"), 503, "not_ready")
            assert (await c.get("/healthz")).status_code == 200  # up, though not ready
    finally:
        missing.dispose()


async def test_openapi_describes_the_v1_api(client):
    response = await client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert spec["info"]["title"] == "dnsgate"
    paths = spec["paths"]
    assert set(paths["/api/v1/zones/{zone}/rrsets"]) == {"get", "patch"}
    assert set(paths["/api/v1/zones/{zone}/rrsets/{name}/{type}"]) == {"get", "put", "delete"}
    for path in ("/api/v1/whoami", "/api/v1/zones", "/api/v1/auth/api-keys",
                 "/api/v1/account/tokens", "/api/v1/admin/realms/{realm_id}/approve",
                 "/api/v1/admin/audit"):
        assert path in paths, path


async def test_docs_page_points_at_the_openapi_document(client):
    response = await client.get("/api/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/api/v1/openapi.json" in response.text


async def test_unknown_route_is_a_404_problem(client):
    body = assert_problem(await client.get("/api/v1/nothing-here"), 404, "not_found")
    assert body["request_id"]


async def test_wrong_method_is_a_405_problem(client):
    response = await client.post("/api/v1/whoami")
    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["content-type"] == PROBLEM
