"""The same contract through dnsgate itself: a backend configured over the
admin API, a zone offered from it, a scoped token writing through the REST API.

Per provider (on its real server or simulator): writes land upstream and are
read back by the harness without dnsgate; 50 concurrent updates of different
names in one zone all survive (the zone write lock); an upstream that is down,
slow, failing or talking garbage gives a clean 502/504 with the upstream
detail in the audit log, no credential anywhere, and the zone unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from dnsgate.backends import registry
from tests.backends.adapters.test_adapter_contract import _secret_values
from tests.backends.harness import Fault, ProviderHarness
from tests.support.api import assert_problem, audit_events, audit_text
from tests.support.factories import World, bearer

BACKEND = "upstream"
CONCURRENT = 50


@dataclass
class Gateway:
    zone: str
    realm: str  # a subtree the token may write
    token: str
    admin: dict[str, str]
    per_record_ttl: bool

    def body(self, *records: str) -> dict[str, Any]:
        return {"records": list(records)} if not self.per_record_ttl else {
            "ttl": 300, "records": list(records)}


@pytest.fixture
async def gateway(harness: ProviderHarness, world: World, client: httpx.AsyncClient,
                  admin: str, env: Any) -> AsyncIterator[Gateway]:
    """A backend on the harness's upstream, a zone from it, a token for lab.<zone>.

    The app runs without its lifespan here, so the adapters it opened are
    closed at the end by hand (as the lifespan does at shutdown).
    """
    zone = harness.new_zone()
    headers = bearer(admin)
    added = await client.post("/api/v1/admin/backends", headers=headers, json={
        "name": BACKEND, "provider": harness.provider, "config": harness.config()})
    assert added.status_code == 201, added.text
    checked = await client.post(f"/api/v1/admin/backends/{BACKEND}/check", headers=headers)
    assert checked.status_code == 200 and checked.json()["health_status"] == "ok", checked.text
    offered = await client.post("/api/v1/admin/zones", headers=headers, json={
        "zone": zone, "backend": BACKEND, "visibility": "public", "approval": "auto",
        "types": ["A", "AAAA", "TXT", "CNAME", "MX"]})
    assert offered.status_code == 201, offered.text
    realm = f"lab.{zone}"
    alice = world.account("alice")
    realm_id = world.realm(alice, zone, realm, kind="subtree",
                           types=["A", "AAAA", "TXT", "CNAME"])
    caps = registry.provider(harness.provider).capabilities
    try:
        yield Gateway(zone, realm, world.token(realm_id).secret, headers, caps.per_record_ttl)
    finally:
        await env.backends.aclose()


async def test_write_read_delete_through_the_api(harness: ProviderHarness, gateway: Gateway,
                                                 client: httpx.AsyncClient, env: Any) -> None:
    name = f"home.{gateway.realm}"
    url = f"/api/v1/zones/{gateway.zone}/rrsets/{name}/A"
    put = await client.put(url, headers=bearer(gateway.token),
                           json=gateway.body("192.0.2.7", "192.0.2.8"))
    assert put.status_code == 200, put.text
    assert harness.lookup(gateway.zone, name, "A") == ["192.0.2.7", "192.0.2.8"]
    got = await client.get(f"/api/v1/zones/{gateway.zone}/rrsets",
                           params={"name": name, "type": "A"}, headers=bearer(gateway.token))
    assert got.status_code == 200
    assert [sorted(rr["records"]) for rr in got.json()] == [["192.0.2.7", "192.0.2.8"]]
    again = await client.put(url, headers=bearer(gateway.token),
                             json=gateway.body("192.0.2.8", "192.0.2.7"))
    assert again.status_code == 200
    actions = [e.action for e in audit_events(env, zone=gateway.zone, name=name)]
    if registry.provider(harness.provider).capabilities.blind_writes:
        # written without reading first (the token may create and update alike)
        assert actions == ["rrset.upsert", "rrset.upsert"]
    else:
        assert actions == ["rrset.create"]  # the second PUT changed nothing
    deleted = await client.delete(url, headers=bearer(gateway.token))
    assert deleted.status_code == 204, deleted.text
    assert harness.lookup(gateway.zone, name, "A") == []


async def test_scope_denial_never_reaches_the_provider(harness: ProviderHarness,
                                                       gateway: Gateway,
                                                       client: httpx.AsyncClient) -> None:
    outside = f"www.{gateway.zone}"
    response = await client.put(f"/api/v1/zones/{gateway.zone}/rrsets/{outside}/A",
                                headers=bearer(gateway.token), json=gateway.body("192.0.2.66"))
    assert_problem(response, 403, "name_outside_realm")
    assert harness.lookup(gateway.zone, outside, "A") == []


async def test_concurrent_updates_in_one_zone_are_all_kept(
        harness: ProviderHarness, gateway: Gateway, client: httpx.AsyncClient) -> None:
    async def put(i: int) -> httpx.Response:
        return await client.put(
            f"/api/v1/zones/{gateway.zone}/rrsets/n{i}.{gateway.realm}/A",
            headers=bearer(gateway.token), json=gateway.body(f"198.51.100.{i + 1}"))

    responses = await asyncio.gather(*(put(i) for i in range(CONCURRENT)))
    assert [r.status_code for r in responses] == [200] * CONCURRENT, \
        [r.text for r in responses if r.status_code != 200][:3]
    for i in range(CONCURRENT):
        assert harness.lookup(gateway.zone, f"n{i}.{gateway.realm}", "A") == [
            f"198.51.100.{i + 1}"], i


async def test_batch_is_atomic_or_refused(harness: ProviderHarness, gateway: Gateway,
                                          client: httpx.AsyncClient) -> None:
    changes = [{"action": "upsert", "name": f"b{i}.{gateway.realm}", "type": "TXT",
                **gateway.body(f"batch {i}")} for i in range(3)]
    response = await client.patch(f"/api/v1/zones/{gateway.zone}/rrsets",
                                  headers=bearer(gateway.token), json={"changes": changes})
    if registry.provider(harness.provider).capabilities.atomic_batches:
        assert response.status_code == 200, response.text
        for i in range(3):
            assert harness.lookup(gateway.zone, f"b{i}.{gateway.realm}", "TXT") == [
                f'"batch {i}"']
    else:
        assert_problem(response, 403, "zone_policy")
        for i in range(3):
            assert harness.lookup(gateway.zone, f"b{i}.{gateway.realm}", "TXT") == []


@pytest.mark.parametrize("mode", ["down", "slow", "error", "garbage"])
async def test_upstream_failure_is_a_clean_502_or_504(
        harness: ProviderHarness, gateway: Gateway, client: httpx.AsyncClient, env: Any,
        mode: Fault) -> None:
    name = f"keep.{gateway.realm}"
    url = f"/api/v1/zones/{gateway.zone}/rrsets/{name}/A"
    first = await client.put(url, headers=bearer(gateway.token), json=gateway.body("192.0.2.1"))
    assert first.status_code == 200, first.text
    with harness.fault(mode) as config:
        switched = await client.patch(f"/api/v1/admin/backends/{BACKEND}",
                                      headers=gateway.admin, json={"config": config})
        assert switched.status_code == 200, switched.text
        response = await client.put(url, headers=bearer(gateway.token),
                                    json=gateway.body("192.0.2.99"))
        body = assert_problem(response, 504 if mode == "slow" else 502, "backend_unavailable")
        read = await client.get(f"/api/v1/zones/{gateway.zone}/rrsets",
                                headers=bearer(gateway.token))
        assert_problem(read, 504 if mode == "slow" else 502, "backend_unavailable")
        restored = await client.patch(f"/api/v1/admin/backends/{BACKEND}",
                                      headers=gateway.admin, json={"config": harness.config()})
        assert restored.status_code == 200
    assert harness.lookup(gateway.zone, name, "A") == ["192.0.2.1"]
    failures = audit_events(env, zone=gateway.zone, outcome="error")
    assert failures and all(e.details.get("backend") == BACKEND for e in failures)
    everything = audit_text(env) + response.text + str(body)
    for secret in _secret_values(harness.provider, harness.config()):
        assert secret not in everything


async def test_wrong_credentials_fail_the_check_and_stay_masked(
        harness: ProviderHarness, gateway: Gateway, client: httpx.AsyncClient, env: Any) -> None:
    bad = harness.bad_credentials()
    switched = await client.patch(f"/api/v1/admin/backends/{BACKEND}", headers=gateway.admin,
                                  json={"config": bad})
    assert switched.status_code == 200, switched.text
    checked = await client.post(f"/api/v1/admin/backends/{BACKEND}/check",
                                headers=gateway.admin)
    assert checked.status_code == 200
    view = checked.json()
    assert view["health_status"] == "failing" and view["health_message"], view
    shown = checked.text + audit_text(env)
    for secret in _secret_values(harness.provider, bad) + _secret_values(
            harness.provider, harness.config()):
        assert secret not in shown


async def test_backend_zones_offer_the_zone(harness: ProviderHarness, gateway: Gateway,
                                            client: httpx.AsyncClient) -> None:
    response = await client.get(f"/api/v1/admin/backends/{BACKEND}/zones",
                                headers=gateway.admin)
    if registry.provider(harness.provider).capabilities.list_zones:
        assert response.status_code == 200, response.text
        assert gateway.zone in response.json()
    else:
        assert_problem(response, 422, "invalid_request")


async def test_disabled_backend_refuses_writes_at_once(
        harness: ProviderHarness, gateway: Gateway, client: httpx.AsyncClient) -> None:
    name = f"off.{gateway.realm}"
    disabled = await client.patch(f"/api/v1/admin/backends/{BACKEND}", headers=gateway.admin,
                                  json={"status": "disabled"})
    assert disabled.status_code == 200 and disabled.json()["status"] == "disabled"
    response = await client.put(f"/api/v1/zones/{gateway.zone}/rrsets/{name}/A",
                                headers=bearer(gateway.token), json=gateway.body("192.0.2.5"))
    assert_problem(response, 403, "zone_disabled")
    assert harness.lookup(gateway.zone, name, "A") == []
    enabled = await client.patch(f"/api/v1/admin/backends/{BACKEND}", headers=gateway.admin,
                                 json={"status": "active"})
    assert enabled.status_code == 200
    again = await client.put(f"/api/v1/zones/{gateway.zone}/rrsets/{name}/A",
                             headers=bearer(gateway.token), json=gateway.body("192.0.2.5"))
    assert again.status_code == 200, again.text
    assert harness.lookup(gateway.zone, name, "A") == ["192.0.2.5"]


async def test_config_is_masked_in_responses_and_sealed_at_rest(
        harness: ProviderHarness, gateway: Gateway, client: httpx.AsyncClient, env: Any) -> None:
    from sqlalchemy import text

    shown = await client.get(f"/api/v1/admin/backends/{BACKEND}", headers=gateway.admin)
    assert shown.status_code == 200
    listed = await client.get("/api/v1/admin/backends", headers=gateway.admin)
    with env.db.read() as session:
        stored = str(session.execute(text("SELECT config FROM backends")).all())
    secrets = _secret_values(harness.provider, harness.config())
    assert secrets, "every provider has at least one secret"
    for secret in secrets:
        assert secret not in shown.text and secret not in listed.text and secret not in stored
    assert "**********" in shown.text


async def test_cname_conflict_is_refused_and_nothing_changes(
        harness: ProviderHarness, gateway: Gateway, client: httpx.AsyncClient) -> None:
    name = f"both.{gateway.realm}"
    base = f"/api/v1/zones/{gateway.zone}/rrsets/{name}"
    first = await client.put(f"{base}/A", headers=bearer(gateway.token),
                             json=gateway.body("192.0.2.9"))
    assert first.status_code == 200, first.text
    conflict = await client.put(f"{base}/CNAME", headers=bearer(gateway.token),
                                json=gateway.body(f"target.{gateway.zone}."))
    assert_problem(conflict, 422, "invalid_record")
    assert harness.lookup(gateway.zone, name, "CNAME") == []
    assert harness.lookup(gateway.zone, name, "A") == ["192.0.2.9"]
