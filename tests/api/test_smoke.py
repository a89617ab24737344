"""The issue's "done when" walk-through, over HTTP."""

from __future__ import annotations

from tests.support.factories import bearer


async def test_done_when(client, world):
    zone = await world.zone("example.test")
    alice = world.account("alice")
    realm = world.realm(alice, zone, "home", kind="host", types=["A", "AAAA"])
    token = world.token(realm)

    put = await client.put("/api/v1/zones/example.test/rrsets/home.example.test/A",
                           json={"records": ["192.0.2.10"]}, headers=bearer(token.secret))
    assert put.status_code == 200, put.text
    assert put.json() == {"name": "home.example.test", "type": "A", "ttl": 300,
                          "records": ["192.0.2.10"]}

    got = await client.get("/api/v1/zones/example.test/rrsets", headers=bearer(token.secret))
    assert got.status_code == 200
    assert got.json() == [put.json()]

    other = await client.put("/api/v1/zones/example.test/rrsets/other.example.test/A",
                             json={"records": ["192.0.2.10"]}, headers=bearer(token.secret))
    assert other.status_code == 403
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["code"] == "name_outside_realm"

    txt = await client.put("/api/v1/zones/example.test/rrsets/home.example.test/TXT",
                           json={"records": ["hello"]}, headers=bearer(token.secret))
    assert txt.status_code == 403
    assert txt.json()["code"] == "type_not_allowed"

    admin = world.api_key(world.account("root", admin=True))
    revoked = await client.post(f"/api/v1/admin/tokens/{token.id}/revoke", headers=bearer(admin))
    assert revoked.status_code == 200
    after = await client.get("/api/v1/whoami", headers=bearer(token.secret))
    assert after.status_code == 401
    assert after.json()["code"] == "token_revoked"
