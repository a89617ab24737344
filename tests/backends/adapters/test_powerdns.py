"""PowerDNS adapter behaviour beyond the contract: one PATCH per change set,
a refused batch changes nothing, reads filter upstream, configuration is
validated without echoing values, and the API key never shows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from dnsgate.backends import registry
from dnsgate.backends.base import ZoneDefaults
from dnsgate.backends.powerdns import PowerDNSBackend, PowerDNSConfig
from dnsgate.domain.errors import (
    BackendUnavailable,
    Conflict,
    InvalidInput,
    InvalidRecord,
    ZoneNotFound,
)
from dnsgate.domain.records import Delete, RRset, Upsert, canonical_records
from tests.backends.providers import powerdns as harness_module
from tests.backends.providers.powerdns import PowerDNSHarness


class Counting:
    """Remembers every request the adapter starts (an aiohttp trace)."""

    def __init__(self) -> None:
        self.requests: list[aiohttp.TraceRequestStartParams] = []
        self.trace = aiohttp.TraceConfig()
        self.trace.on_request_start.append(self._started)

    async def _started(self, _session: aiohttp.ClientSession, _context: Any,
                       params: aiohttp.TraceRequestStartParams) -> None:
        self.requests.append(params)

    def methods(self) -> list[str]:
        return [request.method for request in self.requests]


@pytest.fixture(scope="module")
def pdns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PowerDNSHarness]:
    started = harness_module.start(tmp_path_factory.mktemp("pdns-adapter"))
    try:
        yield started
    finally:
        started.stop()


def config_of(raw: dict[str, Any]) -> PowerDNSConfig:
    parsed = registry.parse_config("powerdns", raw)
    assert isinstance(parsed, PowerDNSConfig)
    return parsed


def rrset(name: str, rtype: str, records: list[str], ttl: int = 300) -> RRset:
    return RRset(name, rtype, ttl, canonical_records(rtype, records))


async def test_a_change_set_is_one_patch(pdns: PowerDNSHarness) -> None:
    zone = pdns.new_zone()
    counting = Counting()
    backend = PowerDNSBackend(config_of(pdns.config()), trace_configs=[counting.trace])
    try:
        await backend.apply(zone, [Upsert(rrset(f"old.{zone}", "A", ["192.0.2.9"]))])
        counting.requests.clear()
        await backend.apply(zone, [
            Upsert(rrset(f"x.{zone}", "A", ["192.0.2.20", "192.0.2.21"])),
            Upsert(rrset(f"x.{zone}", "TXT", ["hello"])),
            Upsert(rrset(f"y.{zone}", "CNAME", [f"x.{zone}."])),
            Delete(f"old.{zone}", "A"),
        ])
        assert counting.methods() == ["PATCH"]
        assert counting.requests[0].url.path == f"/api/v1/servers/localhost/zones/{zone}."
        assert counting.requests[0].headers["X-API-Key"] == pdns.server.api_key
    finally:
        await backend.aclose()
    assert pdns.lookup(zone, f"x.{zone}", "A") == ["192.0.2.20", "192.0.2.21"]
    assert pdns.lookup(zone, f"x.{zone}", "TXT") == ['"hello"']
    assert pdns.lookup(zone, f"y.{zone}", "CNAME") == [f"x.{zone}."]
    assert pdns.lookup(zone, f"old.{zone}", "A") == []


async def test_an_empty_change_set_sends_nothing(pdns: PowerDNSHarness) -> None:
    counting = Counting()
    backend = PowerDNSBackend(config_of(pdns.config()), trace_configs=[counting.trace])
    try:
        await backend.apply(pdns.new_zone(), [])
    finally:
        await backend.aclose()
    assert counting.requests == []


async def test_a_batch_powerdns_refuses_changes_nothing(pdns: PowerDNSHarness) -> None:
    zone = pdns.new_zone()
    backend = PowerDNSBackend(config_of(pdns.config()))
    try:
        await backend.apply(zone, [Upsert(rrset(f"keep.{zone}", "A", ["192.0.2.1"]))])
        before = await backend.read(zone)
        # A CNAME next to an A at the same name, in one PATCH with good changes.
        with pytest.raises(InvalidRecord) as refused:
            await backend.apply(zone, [
                Upsert(rrset(f"new.{zone}", "A", ["192.0.2.2"])),
                Delete(f"keep.{zone}", "A"),
                Upsert(rrset(f"both.{zone}", "A", ["192.0.2.3"])),
                Upsert(rrset(f"both.{zone}", "CNAME", [f"keep.{zone}."])),
            ])
        assert "CNAME" in refused.value.message
        assert await backend.read(zone) == before
    finally:
        await backend.aclose()
    assert pdns.lookup(zone, f"keep.{zone}", "A") == ["192.0.2.1"]
    assert pdns.lookup(zone, f"new.{zone}", "A") == []
    assert pdns.lookup(zone, f"both.{zone}", "A") == []


async def test_read_filters_upstream_and_skips_disabled_records(pdns: PowerDNSHarness) -> None:
    zone = pdns.new_zone()
    response = pdns.server.api("PATCH", f"/zones/{zone}.", json={"rrsets": [
        {"name": f"h.{zone}.", "type": "A", "ttl": 120, "changetype": "REPLACE",
         "records": [{"content": "192.0.2.1", "disabled": False},
                     {"content": "192.0.2.2", "disabled": True}]},
        {"name": f"h.{zone}.", "type": "AAAA", "ttl": 120, "changetype": "REPLACE",
         "records": [{"content": "2001:db8::1", "disabled": True}]},
        {"name": f"h.{zone}.", "type": "TXT", "ttl": 120, "changetype": "REPLACE",
         "records": [{"content": '"t"', "disabled": False}]},
    ]})
    assert response.status_code == 204, response.text
    counting = Counting()
    backend = PowerDNSBackend(config_of(pdns.config()), trace_configs=[counting.trace])
    try:
        assert await backend.read(zone, f"h.{zone}", "A") == [
            RRset(f"h.{zone}", "A", 120, ("192.0.2.1",))]
        assert counting.requests[-1].url.query["rrset_name"] == f"h.{zone}."
        assert counting.requests[-1].url.query["rrset_type"] == "A"
        at_name = await backend.read(zone, f"h.{zone}")
        assert [(rr.type, rr.records) for rr in at_name] == [
            ("A", ("192.0.2.1",)), ("TXT", ('"t"',))]
        whole = {(rr.name, rr.type) for rr in await backend.read(zone)}
        assert {(zone, "SOA"), (zone, "NS"), (f"h.{zone}", "A")} <= whole
        assert (f"h.{zone}", "AAAA") not in whole
    finally:
        await backend.aclose()


async def test_unknown_zone_is_zone_not_found(pdns: PowerDNSHarness) -> None:
    backend = PowerDNSBackend(config_of(pdns.config()))
    try:
        with pytest.raises(ZoneNotFound):
            await backend.read("missing.example")
        with pytest.raises(ZoneNotFound):
            await backend.apply("missing.example",
                                [Upsert(rrset("a.missing.example", "A", ["192.0.2.1"]))])
        assert "missing.example" not in await backend.zones()
    finally:
        await backend.aclose()


async def test_create_and_delete_zone(pdns: PowerDNSHarness) -> None:
    zone = f"made-{pdns.tag}.example"
    backend = PowerDNSBackend(config_of(pdns.config()))
    defaults = ZoneDefaults(nameservers=("ns1.example.net", "ns2.example.net"),
                            hostmaster="hostmaster.example.net", ttl=1800)
    try:
        await backend.create_zone(zone, defaults)
        assert zone in await backend.zones()
        with pytest.raises(Conflict):
            await backend.create_zone(zone, defaults)
        assert pdns.lookup(zone, zone, "NS") == ["ns1.example.net.", "ns2.example.net."]
        soa = await backend.read(zone, zone, "SOA")
        assert soa[0].ttl == 1800
        assert soa[0].records[0].startswith("ns1.example.net. hostmaster.example.net. ")
        await backend.delete_zone(zone)
        assert zone not in await backend.zones()
        with pytest.raises(ZoneNotFound):
            await backend.delete_zone(zone)
    finally:
        await backend.aclose()


async def test_writes_are_never_retried_reads_are(pdns: PowerDNSHarness) -> None:
    zone = pdns.new_zone()
    with pdns.fault("down") as raw:
        counting = Counting()
        backend = PowerDNSBackend(config_of(raw), trace_configs=[counting.trace])
        try:
            with pytest.raises(BackendUnavailable):
                await backend.apply(zone, [Upsert(rrset(f"a.{zone}", "A", ["192.0.2.1"]))])
            assert counting.methods() == ["PATCH"]
            counting.requests.clear()
            with pytest.raises(BackendUnavailable):
                await backend.read(zone)
            assert counting.methods() == ["GET"] * 3
        finally:
            await backend.aclose()


async def test_check_messages(pdns: PowerDNSHarness) -> None:
    good = PowerDNSBackend(config_of(pdns.config()))
    bad = PowerDNSBackend(config_of(pdns.bad_credentials()))
    wrong_server = PowerDNSBackend(config_of({**pdns.config(), "server_id": "nothere"}))
    try:
        health = await good.check()
        assert health.ok and "PowerDNS" in health.message
        health = await bad.check()
        assert not health.ok and health.message == "authentication failed (HTTP 401)"
        health = await wrong_server.check()
        assert not health.ok and "nothere" in health.message
    finally:
        for backend in (good, bad, wrong_server):
            await backend.aclose()


def test_api_url_may_end_in_api_v1() -> None:
    config = config_of({"api_url": "https://pdns.example.net:8081/api/v1/", "api_key": "k"})
    assert config.api_url == "https://pdns.example.net:8081"


@pytest.mark.parametrize("url", ["ftp://pdns.example.net", "pdns.example.net:8081",
                                 "http://", "http://user:hunter2@pdns.example.net",
                                 "http://pdns.example.net:99999", "http://h/?key=hunter2"])
def test_bad_api_url_names_the_field_not_the_value(url: str) -> None:
    with pytest.raises(InvalidInput) as error:
        config_of({"api_url": url, "api_key": "k"})
    assert "api_url" in error.value.message
    assert url not in error.value.message
    assert "hunter2" not in error.value.message


def test_missing_key_and_unknown_field() -> None:
    with pytest.raises(InvalidInput) as missing:
        config_of({"api_url": "http://127.0.0.1:8081"})
    assert "api_key" in missing.value.message
    with pytest.raises(InvalidInput) as empty:
        config_of({"api_url": "http://127.0.0.1:8081", "api_key": "  "})
    assert "api_key" in empty.value.message
    with pytest.raises(InvalidInput) as unknown:
        config_of({"api_url": "http://127.0.0.1:8081", "api_key": "k",
                   "password": "sw0rdfish"})
    assert "password" in unknown.value.message
    assert "sw0rdfish" not in unknown.value.message
    with pytest.raises(InvalidInput) as server_id:
        config_of({"api_url": "http://127.0.0.1:8081", "api_key": "k",
                   "server_id": "../zones"})
    assert "server_id" in server_id.value.message


async def test_the_key_never_shows(pdns: PowerDNSHarness) -> None:
    key = pdns.server.api_key
    config = config_of(pdns.config())
    assert key not in repr(config)
    assert key not in str(config)
    assert key not in config.model_dump_json()
    assert key not in str(config.model_dump())
    for mode in ("error", "garbage", "down"):
        with pdns.fault(mode) as raw:
            backend = PowerDNSBackend(config_of(raw))
            try:
                with pytest.raises(BackendUnavailable) as failure:
                    await backend.read(pdns.new_zone())
                health = await backend.check()
            finally:
                await backend.aclose()
        assert failure.value.detail
        for text in (failure.value.message, failure.value.detail, health.message):
            assert key not in text
