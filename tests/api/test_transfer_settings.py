"""/api/v1/admin/zones/{zone}/transfer: secondaries of a built-in zone over the API."""

from __future__ import annotations

import base64

from tests.support.api import assert_problem, audit_text
from tests.support.factories import bearer

SECRET = base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


async def test_set_and_read_back_without_the_secret(client, world, admin, env):
    await world.zone("example.test")
    url = "/api/v1/admin/zones/example.test/transfer"
    put = await client.put(url, headers=bearer(admin), json={
        "notify": ["127.0.0.1:5301"], "allow_transfer": ["127.0.0.1"],
        "tsig_keys": [f"xfr-key:hmac-sha256:{SECRET}"]})
    assert put.status_code == 200, put.text
    expected = {"zone": "example.test", "notify": ["127.0.0.1:5301"],
                "allow_transfer": ["127.0.0.1/32"],
                "tsig_keys": [{"name": "xfr-key", "algorithm": "hmac-sha256"}]}
    assert put.json() == expected
    got = await client.get(url, headers=bearer(admin))
    assert got.json() == expected
    assert SECRET not in put.text + got.text
    assert SECRET not in audit_text(env)


async def test_only_given_lists_change(client, world, admin):
    await world.zone("example.test")
    url = "/api/v1/admin/zones/example.test/transfer"
    await client.put(url, headers=bearer(admin), json={"notify": ["127.0.0.1:5301"]})
    await client.put(url, headers=bearer(admin), json={"allow_transfer": ["::1"]})
    got = (await client.get(url, headers=bearer(admin))).json()
    assert got["notify"] == ["127.0.0.1:5301"] and got["allow_transfer"] == ["::1/128"]


async def test_bad_input_and_access(client, world, admin):
    await world.zone("example.test")
    url = "/api/v1/admin/zones/example.test/transfer"
    before = (await client.get(url, headers=bearer(admin))).json()
    for body in ({"notify": ["not-an-address"]}, {"tsig_keys": ["k:hmac-md5:" + SECRET]},
                 {"tsig_keys": ["k:hmac-sha256:short"]}, {"allow_transfer": ["10.0.0.0/33"]}):
        response = await client.put(url, headers=bearer(admin), json=body)
        assert_problem(response, 422, "invalid_request")
    assert (await client.get(url, headers=bearer(admin))).json() == before
    user_key = world.api_key(world.account())
    assert_problem(await client.get(url, headers=bearer(user_key)), 403, "admin_required")
    missing = await client.get("/api/v1/admin/zones/nope.test/transfer", headers=bearer(admin))
    assert_problem(missing, 404, "zone_not_found")
