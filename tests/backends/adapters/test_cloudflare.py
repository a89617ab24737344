"""The Cloudflare adapter beyond the contract: zone ids cached, pagination,
records updated in place (proxied flag, comment and tags left as found),
atomic batches, the record mapping, configuration and secrets."""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from dnsgate.backends import registry
from dnsgate.backends.base import secret_fields
from dnsgate.backends.cloudflare import CloudflareBackend, CloudflareConfig
from dnsgate.backends.cloudflare_records import AUTO_TTL
from dnsgate.domain.errors import (
    BackendTimeout,
    BackendUnavailable,
    Conflict,
    InvalidInput,
    InvalidRecord,
    ZoneNotFound,
)
from dnsgate.domain.records import Delete, RRset, Upsert, canonical_records
from tests.fakes.cloudflare import CloudflareSimulator

ZONES = "GET /zones"
LIST = "GET /zones/{zone_id}/dns_records"
BATCH = "POST /zones/{zone_id}/dns_records/batch"
WRITES = ("POST /zones/{zone_id}/dns_records", "PUT /zones/{zone_id}/dns_records/{record_id}",
          "PATCH /zones/{zone_id}/dns_records/{record_id}",
          "DELETE /zones/{zone_id}/dns_records/{record_id}")
_zones = itertools.count(1)


@pytest.fixture(scope="module")
def sim() -> Iterator[CloudflareSimulator]:
    simulator = CloudflareSimulator()
    try:
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture(scope="module")
def token(sim: CloudflareSimulator) -> str:
    return sim.add_token()


@pytest.fixture
def zone(sim: CloudflareSimulator) -> str:
    name = f"cf{next(_zones)}.example"
    sim.add_zone(name)
    return name


def config(sim: CloudflareSimulator, token: str, **extra: Any) -> dict[str, Any]:
    return {"api_token": token, "api_url": sim.api_url, **extra}


def open_backend(settings: dict[str, Any]) -> CloudflareBackend:
    backend = registry.provider("cloudflare").open(registry.parse_config("cloudflare", settings))
    assert isinstance(backend, CloudflareBackend)
    return backend


@pytest.fixture
async def backend(sim: CloudflareSimulator, token: str) -> AsyncIterator[CloudflareBackend]:
    opened = open_backend(config(sim, token))
    try:
        yield opened
    finally:
        await opened.aclose()


@contextlib.asynccontextmanager
async def upstream(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                   ) -> AsyncIterator[str]:
    """A stand-in API on a loopback port answering every request with
    ``handler``; yields its API base URL."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("/client/v4"))
    finally:
        await server.close()


def rrset(name: str, rtype: str, records: list[str], ttl: int = 300) -> RRset:
    return RRset(name, rtype, ttl, canonical_records(rtype, records))


def by_id(sim: CloudflareSimulator, zone: str) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in sim.records(zone)}


# -- zone ids, pagination ------------------------------------------------------------


async def test_zone_id_is_looked_up_once(sim: CloudflareSimulator, backend: CloudflareBackend,
                                         zone: str) -> None:
    before = sim.counts[ZONES]
    for i in range(5):
        await backend.apply(zone, [Upsert(rrset(f"h{i}.{zone}", "A", [f"192.0.2.{i + 1}"]))])
        await backend.read(zone, f"h{i}.{zone}", "A")
    assert sim.counts[ZONES] - before == 1
    assert sorted(sim.presentation(zone, f"h4.{zone}", "A")) == ["192.0.2.5"]


async def test_a_zone_added_again_gets_its_new_id(sim: CloudflareSimulator,
                                                  backend: CloudflareBackend, zone: str) -> None:
    await backend.apply(zone, [Upsert(rrset(f"a.{zone}", "A", ["192.0.2.1"]))])
    sim.remove_zone(zone)
    sim.add_zone(zone)  # same name, new id: the cached id now answers 7003
    await backend.apply(zone, [Upsert(rrset(f"a.{zone}", "A", ["192.0.2.2"]))])
    assert sim.presentation(zone, f"a.{zone}", "A") == ["192.0.2.2"]


async def test_unknown_zone(backend: CloudflareBackend) -> None:
    with pytest.raises(ZoneNotFound):
        await backend.read("not-there.example")


async def test_more_than_one_page_of_records_is_read_fully(
        sim: CloudflareSimulator, backend: CloudflareBackend, zone: str) -> None:
    for i in range(250):
        sim.add_record(zone, name=f"n{i:03d}", type="A", content=f"198.51.100.{i % 250 + 1}",
                       ttl=300)
    before = sim.counts[LIST]
    everything = await backend.read(zone)
    assert {rr.name for rr in everything} == {f"n{i:03d}.{zone}" for i in range(250)}
    # 100 per page; total_pages (3) ends the loop without asking for an empty page.
    assert backend.records_per_page == 100
    assert sim.counts[LIST] - before == 3


async def test_zones_lists_every_zone_the_token_reaches(sim: CloudflareSimulator,
                                                        zone: str) -> None:
    other = f"cf{next(_zones)}.example"
    sim.add_zone(other)
    narrow = open_backend(config(sim, sim.add_token(zones={zone, other})))
    try:
        assert await narrow.zones() == sorted([zone, other])
        before = sim.counts[ZONES]
        await narrow.read(zone)  # zones() filled the id cache
        assert sim.counts[ZONES] == before
    finally:
        await narrow.aclose()


async def test_zones_follow_pagination(token: str) -> None:
    own = CloudflareSimulator()
    own.add_token(token)
    names = [f"p{i:03d}.example" for i in range(120)]
    for name in names:
        own.add_zone(name)
    paged = open_backend({"api_token": token, "api_url": own.api_url})
    try:
        assert await paged.zones() == names
        assert own.counts[ZONES] == 3  # 50 + 50 + 20
    finally:
        await paged.aclose()
        own.stop()


# -- updates in place -------------------------------------------------------------------


async def test_update_leaves_proxied_comment_and_tags_as_found(
        sim: CloudflareSimulator, backend: CloudflareBackend, zone: str) -> None:
    name = f"www.{zone}"
    stays = sim.add_record(zone, name="www", type="A", content="192.0.2.1", proxied=True,
                           comment="origin 1", tags=["team:web"])
    changes = sim.add_record(zone, name="www", type="A", content="192.0.2.2", proxied=True,
                             comment="origin 2", tags=["team:web"])
    plain = sim.add_record(zone, name="api", type="A", content="192.0.2.9", ttl=600,
                           comment="not proxied")
    await backend.apply(zone, [
        Upsert(rrset(name, "A", ["192.0.2.1", "192.0.2.3", "192.0.2.4"], ttl=300)),
        Upsert(rrset(f"api.{zone}", "A", ["192.0.2.10"], ttl=900)),
    ])
    after = by_id(sim, zone)
    assert after[stays["id"]] == stays  # untouched, timestamps included
    patched = after[changes["id"]]  # the same record, new content, flags as found
    assert (patched["content"], patched["proxied"], patched["comment"], patched["tags"]) == (
        "192.0.2.3", True, "origin 2", ["team:web"])
    added = [r for r in after.values() if r["content"] == "192.0.2.4"]
    assert len(added) == 1 and added[0]["proxied"] is True  # joins a proxied RRset
    api = after[plain["id"]]
    assert (api["content"], api["ttl"], api["proxied"], api["comment"]) == (
        "192.0.2.10", 900, False, "not proxied")
    # Proxied records report Cloudflare's automatic TTL, read as AUTO_TTL.
    got = await backend.read(zone, name, "A")
    assert got == [RRset(name, "A", AUTO_TTL, got[0].records)]
    assert sorted(got[0].records) == ["192.0.2.1", "192.0.2.3", "192.0.2.4"]


async def test_unchanged_rrset_sends_no_batch_and_ttl_only_is_a_patch(
        sim: CloudflareSimulator, backend: CloudflareBackend, zone: str) -> None:
    name = f"same.{zone}"
    wanted = rrset(name, "AAAA", ["2001:db8::1", "2001:db8::2"])
    await backend.apply(zone, [Upsert(wanted)])
    ids = set(by_id(sim, zone))
    before = sim.counts[BATCH]
    await backend.apply(zone, [Upsert(wanted)])
    assert sim.counts[BATCH] == before
    await backend.apply(zone, [Upsert(rrset(name, "AAAA", ["2001:db8::2", "2001:db8::1"],
                                            ttl=3600))])
    assert set(by_id(sim, zone)) == ids
    assert {r["ttl"] for r in sim.records(zone)} == {3600}
    assert await backend.read(zone, name, "AAAA") == [
        rrset(name, "AAAA", ["2001:db8::1", "2001:db8::2"], ttl=3600)]


async def test_a_later_change_to_the_same_rrset_wins(sim: CloudflareSimulator,
                                                     backend: CloudflareBackend,
                                                     zone: str) -> None:
    name = f"twice.{zone}"
    await backend.apply(zone, [Upsert(rrset(name, "A", ["192.0.2.1"])), Delete(name, "A"),
                               Upsert(rrset(name, "A", ["192.0.2.2"]))])
    assert sim.presentation(zone, name, "A") == ["192.0.2.2"]


# -- atomicity ---------------------------------------------------------------------------


async def test_a_batch_with_one_invalid_record_changes_nothing(
        sim: CloudflareSimulator, backend: CloudflareBackend, zone: str) -> None:
    await backend.apply(zone, [Upsert(rrset(f"old.{zone}", "A", ["192.0.2.50"]))])
    before = sim.records(zone)
    writes = sum(sim.counts[w] for w in WRITES)
    batches = sim.counts[BATCH]
    with pytest.raises(InvalidRecord, match="9021"):
        await backend.apply(zone, [
            Delete(f"old.{zone}", "A"),
            Upsert(rrset(f"good.{zone}", "A", ["192.0.2.20"])),
            Upsert(rrset(f"bad.{zone}", "A", ["192.0.2.21"], ttl=10)),  # below Cloudflare's 60
        ])
    assert sim.records(zone) == before
    assert sim.counts[BATCH] - batches == 1  # one atomic call ...
    assert sum(sim.counts[w] for w in WRITES) == writes  # ... and no record-by-record writes


async def test_a_cname_conflict_is_refused_whole(sim: CloudflareSimulator,
                                                 backend: CloudflareBackend, zone: str) -> None:
    await backend.apply(zone, [Upsert(rrset(f"host.{zone}", "A", ["192.0.2.1"]))])
    before = sim.records(zone)
    with pytest.raises(Conflict, match="81053"):
        await backend.apply(zone, [Upsert(rrset(f"other.{zone}", "A", ["192.0.2.2"])),
                                   Upsert(rrset(f"host.{zone}", "CNAME", [f"x.{zone}."]))])
    assert sim.records(zone) == before
    # Replacing the A by a CNAME in one batch works: deletes run before posts.
    await backend.apply(zone, [Delete(f"host.{zone}", "A"),
                               Upsert(rrset(f"host.{zone}", "CNAME", [f"x.{zone}."]))])
    assert sim.presentation(zone, f"host.{zone}", "CNAME") == [f"x.{zone}."]


async def test_a_failing_batch_is_not_retried(sim: CloudflareSimulator,
                                              backend: CloudflareBackend, zone: str) -> None:
    await backend.read(zone)  # the zone id is cached
    batches = sim.counts[BATCH]
    with sim.fault("error", BATCH), pytest.raises(BackendUnavailable) as failed:
        await backend.apply(zone, [Upsert(rrset(f"x.{zone}", "A", ["192.0.2.1"]))])
    assert "HTTP 500" in failed.value.detail
    assert sim.counts[BATCH] - batches == 1
    assert sim.records(zone) == []


async def test_hanging_and_garbage_answers(sim: CloudflareSimulator, token: str,
                                           zone: str) -> None:
    quick = open_backend(config(sim, token, timeout=0.5))
    try:
        await quick.read(zone)  # the zone id is cached
        with sim.fault("hang", LIST), pytest.raises(BackendTimeout):
            await quick.read(zone)
        with sim.fault("garbage", LIST), pytest.raises(BackendUnavailable) as garbage:
            await quick.read(zone)
        assert not isinstance(garbage.value, BackendTimeout)
        assert "unparseable" in garbage.value.detail
        assert await quick.read(zone) == []  # and then it works again
    finally:
        await quick.aclose()


async def test_reads_are_retried_on_a_bad_gateway(token: str) -> None:
    seen: list[str] = []

    async def flaky(request: web.Request) -> web.Response:
        seen.append(f"{request.method} {request.path}")
        if len(seen) < 3:
            return web.Response(status=502, text="<html>bad gateway</html>")
        return web.json_response({"success": True, "errors": [], "messages": [],
                                  "result": {"id": "t", "status": "active"}})

    statuses: list[int] = []

    async def on_end(_: aiohttp.ClientSession, __: SimpleNamespace,
                     params: aiohttp.TraceRequestEndParams) -> None:
        statuses.append(params.response.status)

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(on_end)
    async with upstream(flaky) as api_url:
        flaky_backend = CloudflareBackend(
            CloudflareConfig.model_validate({"api_token": token, "api_url": api_url}),
            trace_configs=[trace])
        try:
            assert (await flaky_backend.check()).ok
        finally:
            await flaky_backend.aclose()
    assert seen == ["GET /client/v4/user/tokens/verify"] * 3
    assert statuses == [502, 502, 200]


async def test_a_write_is_not_retried_on_a_bad_gateway(token: str) -> None:
    seen: list[str] = []

    async def writes_fail(request: web.Request) -> web.Response:
        seen.append(f"{request.method} {request.path}")
        if request.method != "GET":
            return web.Response(status=502, text="<html>bad gateway</html>")
        result = ([{"id": "zid", "name": "w.example", "status": "active"}]
                  if request.path.endswith("/zones") else [])
        return web.json_response({"success": True, "errors": [], "messages": [],
                                  "result": result,
                                  "result_info": {"page": 1, "total_pages": 1}})

    async with upstream(writes_fail) as api_url:
        writer = CloudflareBackend(
            CloudflareConfig.model_validate({"api_token": token, "api_url": api_url}))
        try:
            with pytest.raises(BackendUnavailable) as failed:
                await writer.apply("w.example", [Upsert(rrset("x.w.example", "A",
                                                              ["192.0.2.1"]))])
        finally:
            await writer.aclose()
    assert "HTTP 502" in failed.value.detail
    assert [s for s in seen if not s.startswith("GET")] == [
        "POST /client/v4/zones/zid/dns_records/batch"]


async def test_redirects_are_not_followed(token: str) -> None:
    seen: list[str] = []

    async def moved(request: web.Request) -> web.Response:
        seen.append(request.path)
        if request.path.startswith("/elsewhere"):
            return web.json_response({"success": True, "errors": [], "messages": [],
                                      "result": {"id": "t", "status": "active"}})
        raise web.HTTPTemporaryRedirect("/elsewhere")

    async with upstream(moved) as api_url:
        redirected = CloudflareBackend(
            CloudflareConfig.model_validate({"api_token": token, "api_url": api_url}))
        try:
            with pytest.raises(BackendUnavailable) as failed:
                await redirected.read("any.example")
            health = await redirected.check()
        finally:
            await redirected.aclose()
    assert "HTTP 307" in failed.value.detail
    assert not health.ok
    assert not [path for path in seen if path.startswith("/elsewhere")]


async def test_too_many_operations_for_one_batch(sim: CloudflareSimulator, token: str,
                                                 zone: str) -> None:
    small = open_backend(config(sim, token, max_batch=2))
    try:
        with pytest.raises(InvalidInput, match="at most 2"):
            await small.apply(zone, [Upsert(rrset(f"big.{zone}", "A",
                                                  ["192.0.2.1", "192.0.2.2", "192.0.2.3"]))])
    finally:
        await small.aclose()
    assert sim.records(zone) == []


# -- record mapping ----------------------------------------------------------------------


ROUND_TRIP = [
    ("MX", "@", ["10 mx1.{zone}.", "20 mx2.{zone}."]),
    ("SRV", "_sip._tcp", ["10 60 5060 sip1.{zone}.", "20 0 5061 ."]),
    ("CAA", "@", ['0 issue "letsencrypt.org"', '128 iodef "mailto:ops@example.org"']),
    ("DS", "sub", ["12345 13 2 " + "AB" * 32]),
    ("SSHFP", "host", ["4 2 " + "cd" * 32]),
    ("TLSA", "_443._tcp", ["3 1 1 " + "ef" * 32]),
    ("NAPTR", "@", ['100 10 "S" "SIP+D2U" "!^.*$!sip:info@example.org!" _sip._udp.{zone}.']),
    ("HTTPS", "@", ['1 . alpn="h2,h3" ipv4hint=192.0.2.1']),
    ("SVCB", "_dns", ['1 dns.{zone}. alpn="dot" port=853']),
    ("NS", "sub", ["ns1.example.net.", "ns2.example.net."]),
    ("PTR", "ptr", ["host.{zone}."]),
    ("AAAA", "v6", ["2001:db8::1"]),
    ("TXT", "txt", ["v=DKIM1; k=rsa; p=" + "A" * 400, 'say "hi"; then \\ leave', ""]),
]


@pytest.mark.parametrize(("rtype", "label", "records"), ROUND_TRIP,
                         ids=[row[0] for row in ROUND_TRIP])
async def test_every_type_round_trips(sim: CloudflareSimulator, backend: CloudflareBackend,
                                      zone: str, rtype: str, label: str,
                                      records: list[str]) -> None:
    name = zone if label == "@" else f"{label}.{zone}"
    wanted = rrset(name, rtype, [r.format(zone=zone) for r in records], ttl=3600)
    await backend.apply(zone, [Upsert(wanted)])
    got = await backend.read(zone, name, rtype)
    assert len(got) == 1 and got[0].ttl == 3600
    assert sorted(got[0].records) == sorted(wanted.records)
    served = sorted(canonical_records(rtype, sim.presentation(zone, name, rtype)))
    assert served == sorted(wanted.records)


async def test_structured_types_travel_as_data(sim: CloudflareSimulator,
                                               backend: CloudflareBackend, zone: str) -> None:
    await backend.apply(zone, [
        Upsert(rrset(f"_sip._tcp.{zone}", "SRV", [f"10 60 5060 sip.{zone}."])),
        Upsert(rrset(zone, "MX", [f"10 mx.{zone}."])),
    ])
    stored = {r["type"]: r for r in sim.records(zone)}
    assert stored["SRV"]["data"] == {"priority": 10, "weight": 60, "port": 5060,
                                     "target": f"sip.{zone}"}
    assert (stored["MX"]["content"], stored["MX"]["priority"]) == (f"mx.{zone}", 10)


async def test_txt_as_cloudflare_stores_it(sim: CloudflareSimulator, backend: CloudflareBackend,
                                           zone: str) -> None:
    # Written by someone else, unquoted and longer than 255: Cloudflare serves
    # it as one string split at 255 octets, and so does read().
    raw = "k=" + "B" * 300
    sim.add_record(zone, name="raw", type="TXT", content=raw, ttl=1)
    sim.add_record(zone, name="quoted", type="TXT", content='"a b" "c"', ttl=120)
    got = {rr.name: rr for rr in await backend.read(zone, None, "TXT")}
    assert got[f"raw.{zone}"] == RRset(f"raw.{zone}", "TXT", AUTO_TTL,
                                       (f'"{raw[:255]}" "{raw[255:]}"',))
    assert got[f"quoted.{zone}"] == RRset(f"quoted.{zone}", "TXT", 120, ('"a b" "c"',))
    # What the adapter writes is the quoted, split form dnsgate holds.
    await backend.apply(zone, [Upsert(rrset(f"mine.{zone}", "TXT", [raw]))])
    [mine] = [r for r in sim.records(zone) if r["name"] == f"mine.{zone}"]
    assert mine["content"] == f'"{raw[:255]}" "{raw[255:]}"'


# -- check, configuration, secrets ---------------------------------------------------------


async def test_check(sim: CloudflareSimulator, token: str) -> None:
    cases = [(token, True, "active"),
             (sim.add_token(status="disabled"), False, "not active"),
             ("z" * 40, False, "authentication failed (HTTP 401)")]
    for value, ok, message in cases:
        checked = open_backend(config(sim, value))
        try:
            health = await checked.check()
        finally:
            await checked.aclose()
        assert health.ok is ok and message in health.message
        assert value not in health.message


async def test_the_token_never_reaches_an_error(token: str) -> None:
    async def echo(request: web.Request) -> web.Response:
        # A broken upstream that echoes what it got, credentials included.
        return web.Response(status=500, text=json.dumps(dict(request.headers)))

    async with upstream(echo) as api_url:
        leaky = CloudflareBackend(CloudflareConfig.model_validate(
            {"api_token": token, "api_url": api_url}))
        try:
            with pytest.raises(BackendUnavailable) as failed:
                await leaky.read("any.example")
            health = await leaky.check()
        finally:
            await leaky.aclose()
    assert "HTTP 500" in failed.value.detail and "**********" in failed.value.detail
    assert token not in failed.value.detail and token not in str(failed.value)
    assert not health.ok and token not in health.message


def test_config_validation_and_secret_masking(token: str) -> None:
    parsed = registry.parse_config("cloudflare", {"api_token": token})
    assert isinstance(parsed, CloudflareConfig)
    assert parsed.api_url == "https://api.cloudflare.com/client/v4"
    assert parsed.max_batch == 200
    assert token not in repr(parsed) and token not in str(parsed.model_dump())
    assert parsed.api_token.get_secret_value() == token
    assert secret_fields(CloudflareConfig) == {"api_token"}
    assert registry.parse_config("cloudflare", {
        "api_token": token, "api_url": "http://127.0.0.1:8080/client/v4/"}).api_url == \
        "http://127.0.0.1:8080/client/v4"  # type: ignore[attr-defined]
    refused = [
        {"api_url": "https://api.cloudflare.com/client/v4"},  # no token
        {"api_token": ""},
        {"api_token": "has spaces inside"},
        {"api_token": token, "api_url": "http://api.cloudflare.com/client/v4"},  # not https
        {"api_token": token, "api_url": "ftp://127.0.0.1/"},
        {"api_token": token, "api_url": "https://user:pw@api.cloudflare.com/client/v4"},
        {"api_token": token, "api_url": "https://api.cloudflare.com/client/v4?x=1"},
        {"api_token": token, "max_batch": 0},
        {"api_token": token, "max_batch": 3501},
        {"api_token": token, "timeout": 0},
        {"api_token": token, "zone_id": "abc"},  # unknown keys are refused
    ]
    for settings in refused:
        with pytest.raises(InvalidInput) as failed:
            registry.parse_config("cloudflare", settings)
        assert token not in failed.value.message
        assert "has spaces inside" not in failed.value.message
        assert "user:pw" not in failed.value.message
