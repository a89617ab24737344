"""netcup through dnsgate: in steady state one update is ONE upstream call
(``updateDnsRecords``), with no login and no ``infoDnsRecords`` -- the API
session and the zone's record list are reused."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fakes.netcup import NetcupSimulator
from tests.support.factories import World, bearer

ZONE = "steady.example"
UPDATES = 20


@pytest.fixture
def netcup() -> Iterator[NetcupSimulator]:
    simulator = NetcupSimulator(customer_number="314159").start()
    simulator.add_zone(ZONE, ttl=300, records=[("@", "A", "192.0.2.80")])
    try:
        yield simulator
    finally:
        simulator.stop()


async def test_steady_state_update_is_one_upstream_call(
        netcup: NetcupSimulator, world: World, client: httpx.AsyncClient, admin: str,
        env: Any) -> None:
    config = {"customer_number": netcup.customer_number, "api_key": netcup.api_key,
              "api_password": netcup.api_password, "endpoint": netcup.url, "zones": [ZONE]}
    added = await client.post("/api/v1/admin/backends", headers=bearer(admin), json={
        "name": "netcup", "provider": "netcup", "config": config})
    assert added.status_code == 201, added.text
    await world.zone(ZONE, backend="netcup")
    realm = world.realm(world.account("dyn"), ZONE, f"home.{ZONE}", kind="host",
                        types=["A"])
    token = world.token(realm).secret
    url = f"/api/v1/zones/{ZONE}/rrsets/home.{ZONE}/A"
    try:
        warm = await client.put(url, headers=bearer(token), json={"records": ["198.51.100.1"]})
        assert warm.status_code == 200, warm.text
        netcup.reset_calls()
        for i in range(UPDATES):
            put = await client.put(url, headers=bearer(token),
                                   json={"records": [f"198.51.100.{i + 2}"]})
            assert put.status_code == 200, put.text
        assert dict(netcup.calls) == {"updateDnsRecords": UPDATES}
        assert netcup.rdata(ZONE, f"home.{ZONE}", "A") == [f"198.51.100.{UPDATES + 1}"]
        netcup.reset_calls()
        same = await client.put(url, headers=bearer(token),
                                json={"records": [f"198.51.100.{UPDATES + 1}"]})
        assert same.status_code == 200
        assert dict(netcup.calls) == {}  # unchanged: nothing sent at all
    finally:
        await env.backends.aclose()


async def test_a_type_the_provider_lacks_is_refused_before_any_call(
        netcup: NetcupSimulator, world: World, client: httpx.AsyncClient, admin: str,
        env: Any) -> None:
    config = {"customer_number": netcup.customer_number, "api_key": netcup.api_key,
              "api_password": netcup.api_password, "endpoint": netcup.url, "zones": [ZONE]}
    added = await client.post("/api/v1/admin/backends", headers=bearer(admin), json={
        "name": "netcup", "provider": "netcup", "config": config})
    assert added.status_code == 201, added.text
    await world.zone(ZONE, backend="netcup", types=["A", "HTTPS"])
    realm = world.realm(world.account("web"), ZONE, f"www.{ZONE}", kind="host",
                        types=["A", "HTTPS"])
    token = world.token(realm).secret
    netcup.reset_calls()
    try:
        response = await client.put(f"/api/v1/zones/{ZONE}/rrsets/www.{ZONE}/HTTPS",
                                    headers=bearer(token),
                                    json={"records": [f"1 www.{ZONE}. alpn=h2"]})
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "invalid_record"
        assert "does not support HTTPS" in response.json()["detail"]
        assert dict(netcup.calls) == {}
    finally:
        await env.backends.aclose()
