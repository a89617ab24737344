"""netcup adapter behaviour beyond the contract, against the CCP API simulator:
one upstream call per update in steady state, one re-login when the session
expired, only changed records sent, priorities and TXT mapped both ways, a
stale record cache recovered, the zone TTL, faults, configuration, secrets."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from dnsgate.backends import registry
from dnsgate.backends.base import secret_fields
from dnsgate.backends.netcup import DEFAULT_ENDPOINT, NetcupBackend, NetcupConfig
from dnsgate.domain.errors import (
    BackendTimeout,
    BackendUnavailable,
    InvalidInput,
    InvalidRecord,
    ZoneNotFound,
)
from dnsgate.domain.records import Delete, RRset, Upsert, canonical_rdata, canonical_records
from tests.fakes.netcup import NetcupSimulator
from tests.support.server import free_port

ZONE = "gw-shop.example"


@pytest.fixture
def sim() -> Iterator[NetcupSimulator]:
    with NetcupSimulator(customer_number="314159") as simulator:
        simulator.add_zone(ZONE, ttl=3600, records=[
            ("@", "A", "192.0.2.80"), ("www", "A", "192.0.2.1"), ("www", "A", "192.0.2.2"),
            ("mail", "A", "192.0.2.25"), ("@", "MX", f"mail.{ZONE}", "10")])
        yield simulator


def raw_config(sim: NetcupSimulator, **over: Any) -> dict[str, Any]:
    return {"customer_number": sim.customer_number, "api_key": sim.api_key,
            "api_password": sim.api_password, "endpoint": sim.url, "zones": [ZONE],
            "timeout": 2, **over}


def config_of(raw: dict[str, Any]) -> NetcupConfig:
    parsed = registry.parse_config("netcup", raw)
    assert isinstance(parsed, NetcupConfig)
    return parsed


@pytest.fixture
async def backend(sim: NetcupSimulator) -> AsyncIterator[NetcupBackend]:
    opened = NetcupBackend(config_of(raw_config(sim)))
    try:
        yield opened
    finally:
        await opened.aclose()


def rrset(name: str, rtype: str, records: list[str], ttl: int = 300) -> RRset:
    return RRset(name, rtype, ttl, canonical_records(rtype, records))


def lookup(sim: NetcupSimulator, name: str, rtype: str) -> list[str]:
    return sorted({canonical_rdata(rtype, text) for text in sim.rdata(ZONE, name, rtype)})


def ids(sim: NetcupSimulator, hostname: str, rtype: str) -> dict[str, str]:
    """destination -> record id of (hostname, type)."""
    return {r["destination"]: r["id"] for r in sim.records(ZONE)
            if r["hostname"] == hostname and r["type"] == rtype}


async def warm(backend: NetcupBackend, sim: NetcupSimulator) -> None:
    await backend.read(ZONE)
    sim.reset_calls()


# -- upstream calls --------------------------------------------------------------

async def test_steady_state_costs_one_call_per_update(backend: NetcupBackend,
                                                      sim: NetcupSimulator) -> None:
    await warm(backend, sim)
    changes = [Upsert(rrset(f"h{i}.{ZONE}", "A", [f"192.0.2.{100 + i}"])) for i in range(4)]
    changes += [Upsert(rrset(f"www.{ZONE}", "A", ["192.0.2.9"])), Delete(f"mail.{ZONE}", "A"),
                Upsert(rrset(f"_acme-challenge.{ZONE}", "TXT", ["token"]))]
    for change in changes:
        await backend.apply(ZONE, [change])
    assert sim.calls == Counter({"updateDnsRecords": len(changes)})
    assert lookup(sim, f"h3.{ZONE}", "A") == ["192.0.2.103"]
    assert lookup(sim, f"www.{ZONE}", "A") == ["192.0.2.9"]
    assert lookup(sim, f"mail.{ZONE}", "A") == []


async def test_a_cold_apply_reads_once_then_never_again(backend: NetcupBackend,
                                                        sim: NetcupSimulator) -> None:
    for i in range(3):
        await backend.apply(ZONE, [Upsert(rrset(f"c{i}.{ZONE}", "AAAA", [f"2001:db8::{i}"]))])
    assert sim.calls == Counter({"login": 1, "infoDnsRecords": 1, "updateDnsRecords": 3})


async def test_a_stale_cache_is_read_again(sim: NetcupSimulator) -> None:
    backend = NetcupBackend(config_of(raw_config(sim)), cache_max_age=0.2)
    try:
        await warm(backend, sim)
        await asyncio.sleep(0.3)
        await backend.apply(ZONE, [Upsert(rrset(f"x.{ZONE}", "A", ["192.0.2.7"]))])
        assert sim.calls == Counter({"infoDnsRecords": 1, "updateDnsRecords": 1})
    finally:
        await backend.aclose()


async def test_one_relogin_after_the_session_expired(backend: NetcupBackend,
                                                     sim: NetcupSimulator) -> None:
    await warm(backend, sim)
    sim.expire_sessions()
    await backend.apply(ZONE, [Upsert(rrset(f"a.{ZONE}", "A", ["192.0.2.10"]))])
    assert sim.calls == Counter({"updateDnsRecords": 2, "login": 1})  # 4001, login, again
    assert lookup(sim, f"a.{ZONE}", "A") == ["192.0.2.10"]
    sim.reset_calls()
    await backend.apply(ZONE, [Upsert(rrset(f"b.{ZONE}", "A", ["192.0.2.11"]))])
    assert sim.calls == Counter({"updateDnsRecords": 1})  # the new session is reused


async def test_a_session_expired_by_inactivity_is_replaced(backend: NetcupBackend,
                                                           sim: NetcupSimulator) -> None:
    sim.session_timeout = 0.3
    await warm(backend, sim)
    await asyncio.sleep(0.5)
    assert await backend.read(ZONE, f"www.{ZONE}", "A")
    assert sim.calls == Counter({"infoDnsRecords": 2, "login": 1})


async def test_the_relogin_is_tried_once_only(backend: NetcupBackend,
                                              sim: NetcupSimulator) -> None:
    sim.session_timeout = -1  # every session is already expired when it is used
    with pytest.raises(BackendUnavailable) as failure:
        await backend.apply(ZONE, [Upsert(rrset(f"a.{ZONE}", "A", ["192.0.2.10"]))])
    assert "4001" in failure.value.detail
    assert sim.calls == Counter({"login": 2, "infoDnsRecords": 2})


async def test_an_idle_session_is_replaced_before_use(sim: NetcupSimulator) -> None:
    backend = NetcupBackend(config_of(raw_config(sim)), session_idle=0.2)
    try:
        await warm(backend, sim)
        await asyncio.sleep(0.3)
        await backend.read(ZONE)
        assert sim.calls == Counter({"login": 1, "infoDnsRecords": 1})  # no failed call first
    finally:
        await backend.aclose()


async def test_concurrent_calls_share_one_login(backend: NetcupBackend,
                                                sim: NetcupSimulator) -> None:
    results = await asyncio.gather(*(backend.read(ZONE) for _ in range(6)))
    assert all(result == results[0] for result in results)
    assert sim.calls["login"] == 1


async def test_aclose_logs_out(sim: NetcupSimulator) -> None:
    backend = NetcupBackend(config_of(raw_config(sim)))
    await backend.read(ZONE)
    assert sim.session_count() == 1
    await backend.aclose()
    assert sim.calls["logout"] == 1 and sim.session_count() == 0


async def test_one_keep_alive_session_released_by_aclose(sim: NetcupSimulator) -> None:
    sessions: list[aiohttp.ClientSession] = []
    connections: Counter[str] = Counter()

    async def on_request(session: aiohttp.ClientSession, ctx: Any, params: Any) -> None:
        sessions.append(session)

    async def on_connection(kind: str) -> None:
        connections[kind] += 1

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request)
    trace.on_connection_create_end.append(lambda *_: on_connection("new"))
    trace.on_connection_reuseconn.append(lambda *_: on_connection("reused"))
    backend = NetcupBackend(config_of(raw_config(sim)), trace_configs=[trace])
    await backend.read(ZONE)
    await backend.apply(ZONE, [Upsert(rrset(f"k.{ZONE}", "A", ["192.0.2.12"]))])
    await backend.aclose()
    # login, infoDnsRecords, infoDnsZone, updateDnsRecords, logout: one session, one connection
    assert sum(sim.calls.values()) == 5 and sim.calls["logout"] == 1
    assert len(sessions) == 5 and len(set(map(id, sessions))) == 1
    assert connections == Counter({"new": 1, "reused": 4})
    assert sessions[0].closed
    await backend.aclose()  # a second close is harmless and calls nobody
    assert sum(sim.calls.values()) == 5


# -- what is sent ------------------------------------------------------------------

async def test_only_changed_records_are_sent(backend: NetcupBackend,
                                             sim: NetcupSimulator) -> None:
    await warm(backend, sim)
    before = ids(sim, "www", "A")
    others = {(r["id"], r["destination"]) for r in sim.records(ZONE) if r["hostname"] != "www"}
    await backend.apply(ZONE, [Upsert(rrset(f"www.{ZONE}", "A", ["192.0.2.1", "192.0.2.3"]))])
    [sent] = sim.sent("updateDnsRecords")
    assert sent["dnsrecordset"]["dnsrecords"] == [{
        "id": before["192.0.2.2"], "hostname": "www", "type": "A", "destination": "192.0.2.3",
        "deleterecord": False}]  # .2 lends its id to .3; .1 is not sent at all
    assert ids(sim, "www", "A") == {"192.0.2.1": before["192.0.2.1"],
                                    "192.0.2.3": before["192.0.2.2"]}
    assert {(r["id"], r["destination"]) for r in sim.records(ZONE)
            if r["hostname"] != "www"} == others

    sim.reset_calls()
    await backend.apply(ZONE, [Upsert(rrset(f"www.{ZONE}", "A", ["192.0.2.3", "192.0.2.1"]))])
    assert sim.calls == Counter()  # nothing to change, nothing sent

    await backend.apply(ZONE, [Delete(f"www.{ZONE}", "A")])
    [sent] = sim.sent("updateDnsRecords")
    deleted = sent["dnsrecordset"]["dnsrecords"]
    assert {(r["id"], r["deleterecord"]) for r in deleted} == {
        (before["192.0.2.1"], True), (before["192.0.2.2"], True)}
    assert ids(sim, "www", "A") == {}
    await backend.apply(ZONE, [Delete(f"nothing.{ZONE}", "A")])  # absent: not an error
    assert sim.calls["updateDnsRecords"] == 1


async def test_mx_priority_round_trip(backend: NetcupBackend, sim: NetcupSimulator) -> None:
    wanted = rrset(ZONE, "MX", [f"10 mx1.{ZONE}.", f"20 Mx2.{ZONE}."])
    await backend.apply(ZONE, [Upsert(wanted)])
    stored = sorted((r["priority"], r["destination"]) for r in sim.records(ZONE)
                    if r["type"] == "MX")
    assert stored == [("10", f"mx1.{ZONE}"), ("20", f"mx2.{ZONE}")]  # no trailing dot
    [got] = await backend.read(ZONE, ZONE, "MX")
    assert got.records == wanted.records
    sim.add_record(ZONE, "shop", "MX", "mail.other.example", "5")
    [other] = await backend.read(ZONE, f"shop.{ZONE}", "MX")
    assert other.records == ("5 mail.other.example.",)


async def test_srv_cname_and_txt_mapping(backend: NetcupBackend, sim: NetcupSimulator) -> None:
    srv = rrset(f"_sip._tcp.{ZONE}", "SRV", [f"10 60 5060 sip.{ZONE}."])
    cname = rrset(f"docs.{ZONE}", "CNAME", ["pages.example.net."])
    txt = rrset(f"t.{ZONE}", "TXT", ['say "hi"; then \\ leave', "v=DKIM1; p=" + "B" * 300])
    for wanted in (srv, cname, txt):
        await backend.apply(ZONE, [Upsert(wanted)])
        [got] = await backend.read(ZONE, wanted.name, wanted.type)
        assert sorted(got.records) == sorted(wanted.records)
        assert lookup(sim, wanted.name, wanted.type) == sorted(wanted.records)
    stored = {(r["type"], r["destination"]) for r in sim.records(ZONE)}
    assert ("SRV", f"10 60 5060 sip.{ZONE}") in stored
    assert ("CNAME", "pages.example.net") in stored
    assert ("TXT", 'say \\"hi\\"; then \\\\ leave') in stored
    assert ("TXT", "v=DKIM1; p=" + "B" * 300) in stored  # one text; netcup splits it


async def test_records_netcup_cannot_hold_are_refused_before_any_call(
        backend: NetcupBackend, sim: NetcupSimulator) -> None:
    await warm(backend, sim)
    refused = [
        rrset(f"t.{ZONE}", "TXT", ['"one" "two"']),  # split somewhere netcup would not
        rrset(f"t.{ZONE}", "TXT", ['""']),
        rrset(ZONE, "NS", ["ns1.example.net."]),
        rrset(f"p.{ZONE}", "PTR", ["host.example.net."]),
        rrset("other.example", "A", ["192.0.2.1"]),
    ]
    for wanted in refused:
        with pytest.raises(InvalidRecord):
            await backend.apply(ZONE, [Upsert(wanted)])
    assert sim.calls == Counter()
    await backend.apply(ZONE, [Upsert(rrset(f"sub.{ZONE}", "NS", ["ns1.example.net."]))])
    assert lookup(sim, f"sub.{ZONE}", "NS") == ["ns1.example.net."]


async def test_a_netcup_validation_error_is_an_invalid_record(backend: NetcupBackend,
                                                              sim: NetcupSimulator) -> None:
    await warm(backend, sim)
    sim.fail_next("updateDnsRecords", 4013, "Validation Error.",
                  f"destination refused (key {sim.api_key})")
    with pytest.raises(InvalidRecord) as failure:
        await backend.apply(ZONE, [Upsert(rrset(f"v.{ZONE}", "A", ["192.0.2.5"]))])
    assert "destination refused" in failure.value.message
    assert sim.api_key not in failure.value.message
    sim.reset_calls()
    await backend.apply(ZONE, [Upsert(rrset(f"v.{ZONE}", "A", ["192.0.2.5"]))])
    assert sim.calls == Counter({"infoDnsRecords": 1, "updateDnsRecords": 1})  # cache dropped


# -- a stale cache ---------------------------------------------------------------

async def test_a_record_deleted_behind_our_back(backend: NetcupBackend,
                                                sim: NetcupSimulator) -> None:
    await warm(backend, sim)
    for record_id in ids(sim, "www", "A").values():
        sim.delete_record(ZONE, record_id)  # in netcup's web interface
    await backend.apply(ZONE, [Upsert(rrset(f"www.{ZONE}", "A", ["192.0.2.9"]))])
    # the update names an id that is gone (5028): read again, send the new diff once
    assert sim.calls == Counter({"updateDnsRecords": 2, "infoDnsRecords": 1})
    assert lookup(sim, f"www.{ZONE}", "A") == ["192.0.2.9"]


async def test_a_record_added_behind_our_back(backend: NetcupBackend,
                                              sim: NetcupSimulator) -> None:
    await warm(backend, sim)
    sim.add_record(ZONE, "www", "A", "192.0.2.66")
    await backend.apply(ZONE, [Upsert(rrset(f"www.{ZONE}", "A", ["192.0.2.1"]))])
    # the answer (the whole zone) shows .66 still there: one corrective update
    assert sim.calls == Counter({"updateDnsRecords": 2})
    assert lookup(sim, f"www.{ZONE}", "A") == ["192.0.2.1"]


async def test_read_always_asks_netcup(backend: NetcupBackend, sim: NetcupSimulator) -> None:
    await warm(backend, sim)
    sim.add_record(ZONE, "new", "A", "192.0.2.77")
    [got] = await backend.read(ZONE, f"new.{ZONE}")
    assert got == RRset(f"new.{ZONE}", "A", 3600, ("192.0.2.77",))
    assert sim.calls == Counter({"infoDnsRecords": 1})  # the zone TTL is cached


async def test_an_unreadable_record_is_skipped_and_replaced(backend: NetcupBackend,
                                                            sim: NetcupSimulator) -> None:
    bad_id = sim.add_record(ZONE, "odd", "A", "not-an-address")  # the web UI let it in
    assert await backend.read(ZONE, f"odd.{ZONE}") == []
    await backend.apply(ZONE, [Upsert(rrset(f"odd.{ZONE}", "A", ["192.0.2.8"]))])
    assert ids(sim, "odd", "A") == {"192.0.2.8": bad_id}


# -- zones and TTL ---------------------------------------------------------------

async def test_one_ttl_per_zone(backend: NetcupBackend, sim: NetcupSimulator) -> None:
    assert backend.capabilities.per_record_ttl is False
    assert backend.capabilities.atomic_batches is False
    everything = await backend.read(ZONE)
    assert everything and {rr.ttl for rr in everything} == {3600}
    await backend.apply(ZONE, [Upsert(rrset(f"t.{ZONE}", "A", ["192.0.2.4"], ttl=60))])
    assert sim.zone_ttl(ZONE) == 3600 and "updateDnsZone" not in sim.calls  # TTL ignored
    sim.set_zone_ttl(ZONE, 7200)
    fresh = NetcupBackend(config_of(raw_config(sim)))
    try:
        [got] = await fresh.read(ZONE, f"t.{ZONE}", "A")
        assert got.ttl == 7200
    finally:
        await fresh.aclose()


async def test_empty_and_unknown_zones(backend: NetcupBackend, sim: NetcupSimulator) -> None:
    sim.add_zone("empty.example")
    assert await backend.read("empty.example") == []  # 5029, and infoDnsZone says it exists
    await backend.apply("empty.example", [Upsert(rrset("empty.example", "A", ["192.0.2.1"]))])
    assert [rr.records for rr in await backend.read("empty.example")] == [("192.0.2.1",)]
    with pytest.raises(ZoneNotFound):
        await backend.read("not-mine.example")
    with pytest.raises(ZoneNotFound):
        await backend.apply("not-mine.example",
                            [Upsert(rrset("not-mine.example", "A", ["192.0.2.1"]))])


async def test_zones_come_from_the_configuration(sim: NetcupSimulator) -> None:
    backend = NetcupBackend(config_of(raw_config(sim, zones=["B.example.", "a.example",
                                                              "b.example"])))
    assert await backend.zones() == ["b.example", "a.example"]
    assert backend.capabilities.list_zones and not backend.capabilities.create_zones
    assert sim.calls == Counter()


# -- faults ------------------------------------------------------------------------

async def test_upstream_faults(sim: NetcupSimulator) -> None:
    backend = NetcupBackend(config_of(raw_config(sim, timeout=0.5)))
    change = [Upsert(rrset(f"f.{ZONE}", "A", ["192.0.2.50"]))]
    try:
        await warm(backend, sim)
        with sim.fault("hang", actions=["updateDnsRecords"]), pytest.raises(BackendTimeout):
            await backend.apply(ZONE, change)
        with (sim.fault("error", actions=["updateDnsRecords"]),
              pytest.raises(BackendUnavailable) as failure):
            await backend.apply(ZONE, change)
        assert not isinstance(failure.value, BackendTimeout)
        assert "HTTP 500" in failure.value.detail
        with (sim.fault("garbage", actions=["updateDnsRecords"]),
              pytest.raises(BackendUnavailable, match="netcup backend failed")):
            await backend.apply(ZONE, change)
        # a write is never repeated; after a failed write the zone is read again
        assert sim.calls == Counter({"updateDnsRecords": 3, "infoDnsRecords": 2})

        sim.reset_calls()
        with (sim.fault("down", actions=["updateDnsRecords"]),
              pytest.raises(BackendUnavailable) as failure):
            await backend.apply(ZONE, change)  # the connection closes without an answer
        assert not isinstance(failure.value, BackendTimeout)
        assert "ServerDisconnected" in failure.value.detail
        assert sim.api_key not in failure.value.detail
        assert sim.calls == Counter({"updateDnsRecords": 1, "infoDnsRecords": 1})

        sim.reset_calls()
        with sim.fault("error", actions=["infoDnsRecords"]), pytest.raises(BackendUnavailable):
            await backend.read(ZONE)
        assert sim.calls == Counter({"infoDnsRecords": 3})  # a read is retried twice
        with sim.fault("down", actions=["infoDnsRecords"], times=1):
            assert await backend.read(ZONE, f"www.{ZONE}", "A")
        assert lookup(sim, f"f.{ZONE}", "A") == []
    finally:
        await backend.aclose()


async def test_check(sim: NetcupSimulator) -> None:
    good = NetcupBackend(config_of(raw_config(sim)))
    health = await good.check()
    await good.aclose()
    assert health.ok and "314159" in health.message

    wrong = raw_config(sim, api_password="wrong-password-123")
    bad = NetcupBackend(config_of(wrong))
    health = await bad.check()
    await bad.aclose()
    assert not health.ok
    assert "4013" in health.message and "API password" in health.message
    for secret in (sim.api_key, "wrong-password-123"):
        assert secret not in health.message
    bad = NetcupBackend(config_of(wrong))
    with pytest.raises(BackendUnavailable) as failure:
        await bad.read(ZONE)
    await bad.aclose()
    assert "4013" in failure.value.detail and sim.api_key not in failure.value.detail

    closed = NetcupBackend(config_of(raw_config(
        sim, endpoint=f"http://127.0.0.1:{free_port()}/run/webservice/servers/endpoint.php")))
    health = await closed.check()
    await closed.aclose()
    assert not health.ok and "unreachable" in health.message

    slow = NetcupBackend(config_of(raw_config(sim, timeout=0.3)))
    with sim.fault("hang"):
        started = time.monotonic()
        health = await slow.check()
    await slow.aclose()
    assert not health.ok and "did not answer" in health.message
    assert time.monotonic() - started < 2


# -- configuration -----------------------------------------------------------------

def test_configuration_is_validated_without_echoing_values() -> None:
    good = {"customer_number": 12345, "api_key": "k" * 20, "api_password": "p" * 20}
    config = config_of(good)
    assert config.customer_number == "12345" and config.endpoint == DEFAULT_ENDPOINT
    assert config.zones == ()
    assert config_of({**good, "zones": ["Shop.Example.", "shop.example", "b.example"]}).zones == (
        "shop.example", "b.example")
    bad = [
        {**good, "customer_number": "12a45"},
        {**good, "api_key": ""},
        {**good, "endpoint": "ftp://ccp.netcup.net/x"},
        {**good, "endpoint": "http://ccp.netcup.net/run/webservice/servers/endpoint.php?JSON"},
        {**good, "endpoint": "https://user:secret-in-url@ccp.netcup.net/"},
        {**good, "zones": ["ok.example", "bad..example"]},
        {**good, "zones": ["*.example"]},
        {**good, "timeout": 0},
        {**good, "surprise": True},
    ]
    for raw in bad:
        with pytest.raises(InvalidInput) as failure:
            registry.parse_config("netcup", raw)
        assert "secret-in-url" not in failure.value.message
        assert "k" * 20 not in failure.value.message
    missing = {k: v for k, v in good.items() if k != "api_password"}
    with pytest.raises(InvalidInput, match="api_password"):
        registry.parse_config("netcup", missing)
    assert config_of({**good, "endpoint": "http://[::1]:8080/endpoint.php?JSON"})


def test_secrets_are_masked() -> None:
    config = config_of({"customer_number": "1", "api_key": "key-0123456789",
                        "api_password": "pw-0123456789"})
    assert secret_fields(NetcupConfig) == {"api_key", "api_password"}
    for text in (str(config), repr(config), config.model_dump_json(),
                 json.dumps(config.model_dump(mode="json"))):
        assert "key-0123456789" not in text and "pw-0123456789" not in text
    provider = registry.provider("netcup")
    assert provider.capabilities.record_types == {
        "A", "AAAA", "CAA", "CNAME", "DS", "MX", "NS", "SRV", "SSHFP", "TLSA", "TXT"}
