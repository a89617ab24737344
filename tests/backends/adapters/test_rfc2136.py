"""What the RFC 2136 adapter does beyond the contract, against a real BIND 9:
one UPDATE message per batch, all or nothing, TSIG required, the apex NS
replaced rather than merged, and a configuration that never shows its secret."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import dns.query
import dns.rcode
import dns.tsig
import dns.update
import dns.xfr
import dns.zone
import pytest

from dnsgate.backends import registry
from dnsgate.backends.base import secret_fields
from dnsgate.backends.rfc2136 import RFC2136Backend, RFC2136Config
from dnsgate.domain.errors import (
    BackendTimeout,
    BackendUnavailable,
    InvalidInput,
    InvalidName,
    InvalidRecord,
    ZoneNotFound,
)
from dnsgate.domain.records import Change, Delete, RRset, Upsert, canonical_records
from tests.backends.harness import FAULT_TIMEOUT, Fault
from tests.backends.providers.rfc2136_bind import BindHarness, start
from tests.support.bind import LOCKED_LABEL


@pytest.fixture(scope="module")
def bind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BindHarness]:
    harness = start(tmp_path_factory.mktemp("rfc2136"))
    try:
        yield harness
    finally:
        harness.stop()


@pytest.fixture
def zone(bind: BindHarness) -> str:
    return bind.new_zone()


def open_backend(config: dict[str, Any]) -> RFC2136Backend:
    backend = registry.provider("rfc2136").open(registry.parse_config("rfc2136", config))
    assert isinstance(backend, RFC2136Backend)
    return backend


@pytest.fixture
async def backend(bind: BindHarness, zone: str) -> AsyncIterator[RFC2136Backend]:
    opened = open_backend(bind.config())
    try:
        yield opened
    finally:
        await opened.aclose()


def rrset(name: str, rtype: str, records: Sequence[str], ttl: int = 300) -> RRset:
    return RRset(name, rtype, ttl, canonical_records(rtype, records))


def serial(bind: BindHarness, zone: str) -> int:
    return bind.bind.serial(zone)


def send_unsigned(bind: BindHarness, update: dns.update.UpdateMessage) -> dns.rcode.Rcode:
    response = dns.query.tcp(update, "127.0.0.1", port=bind.bind.port, timeout=2)
    return response.rcode()


# -- one message, all or nothing ---------------------------------------------------


async def test_a_batch_is_one_update_message(bind: BindHarness, zone: str,
                                             backend: RFC2136Backend) -> None:
    await backend.apply(zone, [Upsert(rrset(f"old.{zone}", "A", ["192.0.2.1"]))])
    before = serial(bind, zone)
    batch: list[Change] = [
        Upsert(rrset(f"www.{zone}", "A", ["192.0.2.10", "192.0.2.11"])),
        Upsert(rrset(f"www.{zone}", "TXT", ["hello"])),
        Upsert(rrset(f"alias.{zone}", "CNAME", [f"www.{zone}."])),
        Delete(f"old.{zone}", "A"),
        Delete(f"never-was.{zone}", "A"),
    ]
    await backend.apply(zone, batch)
    assert serial(bind, zone) == before + 1  # BIND bumps the serial once per message
    assert bind.lookup(zone, f"www.{zone}", "A") == ["192.0.2.10", "192.0.2.11"]
    assert bind.lookup(zone, f"www.{zone}", "TXT") == ['"hello"']
    assert bind.lookup(zone, f"alias.{zone}", "CNAME") == [f"www.{zone}."]
    assert bind.lookup(zone, f"old.{zone}", "A") == []


async def test_upsert_replaces_records_and_ttl(bind: BindHarness, zone: str,
                                               backend: RFC2136Backend) -> None:
    name = f"h.{zone}"
    await backend.apply(zone, [Upsert(rrset(name, "A", ["192.0.2.1", "192.0.2.2"], ttl=60))])
    await backend.apply(zone, [Upsert(rrset(name, "A", ["192.0.2.3"], ttl=7200))])
    assert await backend.read(zone, name, "A") == [rrset(name, "A", ["192.0.2.3"], ttl=7200)]


async def test_a_cname_conflict_makes_bind_refuse_the_whole_batch(
        bind: BindHarness, zone: str, backend: RFC2136Backend) -> None:
    # BIND would silently ignore a CNAME added beside an A (and an A beside a
    # CNAME) and apply the rest; the adapter's prerequisites make it refuse all.
    await backend.apply(zone, [Upsert(rrset(f"a.{zone}", "A", ["192.0.2.1"])),
                               Upsert(rrset(f"c.{zone}", "CNAME", ["target.example."]))])
    before = serial(bind, zone)
    for batch in (
        [Upsert(rrset(f"new.{zone}", "A", ["192.0.2.9"])),
         Upsert(rrset(f"a.{zone}", "CNAME", ["target.example."]))],
        [Upsert(rrset(f"new.{zone}", "A", ["192.0.2.9"])),
         Upsert(rrset(f"c.{zone}", "TXT", ["beside a cname"]))],
    ):
        with pytest.raises(InvalidRecord, match="CNAME"):
            await backend.apply(zone, batch)
        assert serial(bind, zone) == before
        assert bind.lookup(zone, f"new.{zone}", "A") == []
    assert bind.lookup(zone, f"a.{zone}", "A") == ["192.0.2.1"]
    assert bind.lookup(zone, f"c.{zone}", "CNAME") == ["target.example."]


async def test_replacing_data_by_a_cname_in_one_batch(bind: BindHarness, zone: str,
                                                      backend: RFC2136Backend) -> None:
    name = f"x.{zone}"
    await backend.apply(zone, [Upsert(rrset(name, "A", ["192.0.2.1"])),
                               Upsert(rrset(name, "TXT", ["t"]))])
    # The CNAME comes first in the list: deletes still go out before adds.
    await backend.apply(zone, [Upsert(rrset(name, "CNAME", ["target.example."])),
                               Delete(name, "A"), Delete(name, "TXT")])
    assert {(rr.type, rr.records) for rr in await backend.read(zone, name)} == {
        ("CNAME", ("target.example.",))}


async def test_a_batch_bind_refuses_changes_nothing(bind: BindHarness, zone: str,
                                                    backend: RFC2136Backend) -> None:
    # The update policy denies the key one name: BIND refuses the whole message.
    before = serial(bind, zone)
    with pytest.raises(BackendUnavailable, match="REFUSED") as refused:
        await backend.apply(zone, [Upsert(rrset(f"fine.{zone}", "A", ["192.0.2.1"])),
                                   Upsert(rrset(f"{LOCKED_LABEL}.{zone}", "A", ["192.0.2.2"]))])
    assert not isinstance(refused.value, BackendTimeout)
    assert serial(bind, zone) == before
    assert bind.lookup(zone, f"fine.{zone}", "A") == []


async def test_what_bind_would_refuse_never_leaves(bind: BindHarness, zone: str,
                                                   backend: RFC2136Backend) -> None:
    before = serial(bind, zone)
    for name in (f"evil{zone}", "elsewhere.example"):  # the dot boundary, and far away
        with pytest.raises(InvalidName):
            await backend.apply(zone, [Upsert(rrset(f"ok.{zone}", "A", ["192.0.2.1"])),
                                       Upsert(rrset(name, "A", ["192.0.2.2"]))])
    with pytest.raises(InvalidRecord):
        await backend.apply(zone, [Upsert(RRset(zone, "SOA", 300, (
            f"ns.example. hostmaster.{zone}. 99 1 1 1 1",)))])
    with pytest.raises(InvalidRecord):
        await backend.apply(zone, [Upsert(rrset(zone, "CNAME", ["target.example."]))])
    with pytest.raises(InvalidRecord):
        await backend.apply(zone, [Upsert(rrset(f"d.{zone}", "A", ["192.0.2.1"])),
                                   Delete(f"d.{zone}", "A")])
    too_big = [Upsert(rrset(f"t{i}.{zone}", "TXT", [f"{j}" + "x" * 250 for j in range(3)]))
               for i in range(100)]
    with pytest.raises(InvalidInput, match="too large"):
        await backend.apply(zone, too_big)
    assert serial(bind, zone) == before
    assert bind.lookup(zone, f"ok.{zone}", "A") == []


# -- SOA and apex NS ---------------------------------------------------------------


async def test_read_holds_soa_and_apex_ns(bind: BindHarness, zone: str,
                                          backend: RFC2136Backend) -> None:
    everything = await backend.read(zone)
    assert [(rr.name, rr.type) for rr in everything] == [(zone, "NS"), (zone, "SOA")]
    (ns,) = await backend.read(zone, zone.upper() + ".", "ns")
    assert ns.records == ("ns.bind.test.",)


async def test_apex_ns_is_replaced_not_merged(bind: BindHarness, zone: str,
                                              backend: RFC2136Backend) -> None:
    # BIND ignores "delete the apex NS RRset": a naive delete + add would merge.
    (soa,) = await backend.read(zone, zone, "SOA")
    first = rrset(zone, "NS", ["ns1.example.", "ns2.example."], ttl=600)
    await backend.apply(zone, [Upsert(first)])
    assert bind.lookup(zone, zone, "NS") == ["ns1.example.", "ns2.example."]
    assert await backend.read(zone, zone, "NS") == [first]

    second = rrset(zone, "NS", ["ns2.example."], ttl=900)
    before = serial(bind, zone)
    await backend.apply(zone, [Upsert(second), Upsert(rrset(f"w.{zone}", "A", ["192.0.2.5"]))])
    assert serial(bind, zone) == before + 1
    assert await backend.read(zone, zone, "NS") == [second]
    longer = rrset(zone, "NS", ["ns2.example."], ttl=1200)  # the TTL alone changes
    await backend.apply(zone, [Upsert(longer)])
    assert await backend.read(zone, zone, "NS") == [longer]

    with pytest.raises(InvalidRecord, match="apex NS"):
        await backend.apply(zone, [Delete(zone, "NS")])
    assert bind.lookup(zone, zone, "NS") == ["ns2.example."]
    (soa_after,) = await backend.read(zone, zone, "SOA")
    assert soa_after.records[0].split()[:2] == soa.records[0].split()[:2]


# -- TSIG ---------------------------------------------------------------------------


async def test_bind_requires_tsig(bind: BindHarness, zone: str) -> None:
    before = serial(bind, zone)
    update = dns.update.UpdateMessage(zone)
    update.add(f"unsigned.{zone}.", 300, "A", "192.0.2.66")
    assert send_unsigned(bind, update) == dns.rcode.REFUSED
    assert serial(bind, zone) == before
    assert bind.lookup(zone, f"unsigned.{zone}", "A") == []
    query, _ = dns.xfr.make_query(dns.zone.Zone(zone, relativize=False), serial=None)
    with pytest.raises(dns.xfr.TransferError):
        dns.query.inbound_xfr("127.0.0.1", dns.zone.Zone(zone, relativize=False), query,
                              port=bind.bind.port, timeout=2)


@pytest.mark.parametrize("wrong", ["secret", "key name", "algorithm"])
async def test_wrong_tsig_fails_cleanly(bind: BindHarness, zone: str, wrong: str) -> None:
    config = bind.config()
    if wrong == "secret":
        config = bind.bad_credentials()
    elif wrong == "key name":
        config["tsig_key_name"] = "nobody-knows-me"
    else:
        config["tsig_algorithm"] = "hmac-sha512"
    backend = open_backend(config)
    before = serial(bind, zone)
    with pytest.raises(BackendUnavailable, match="TSIG authentication failed") as failed:
        await backend.apply(zone, [Upsert(rrset(f"t.{zone}", "A", ["192.0.2.1"]))])
    with pytest.raises(BackendUnavailable, match="TSIG authentication failed"):
        await backend.read(zone)
    health = await backend.check()
    assert not health.ok and "TSIG authentication failed" in health.message, health.message
    assert serial(bind, zone) == before
    for text in (str(failed.value), failed.value.detail, health.message):
        assert config["tsig_secret"] not in text
        assert bind.bind.key_secret not in text


# -- check and zones ---------------------------------------------------------------


async def test_check_names_a_zone_bind_does_not_serve(bind: BindHarness, zone: str) -> None:
    config = {**bind.config(), "zones": [zone, "not-here.example"]}
    backend = open_backend(config)
    health = await backend.check()
    assert not health.ok
    assert "not authoritative for not-here.example" in health.message
    with pytest.raises(ZoneNotFound):
        await open_backend(bind.config()).read("not-here.example")
    with pytest.raises(BackendUnavailable, match="not authoritative"):
        await backend.read("not-here.example")


async def test_zones_are_the_configured_ones_normalized(bind: BindHarness, zone: str) -> None:
    backend = open_backend({**bind.config(), "zones": [zone.upper() + ".", zone, "Ex.Test"]})
    assert await backend.zones() == [zone, "ex.test"]
    assert (await open_backend(bind.config()).check()).ok


@pytest.mark.parametrize("mode, words", [("down", "connection refused"),
                                         ("slow", "no answer within"),
                                         ("error", "SERVFAIL"),
                                         ("garbage", "unusable answer")])
async def test_fault_messages_are_clear(bind: BindHarness, zone: str, mode: Fault,
                                        words: str) -> None:
    with bind.fault(mode) as config:
        backend = open_backend(config)
        started = time.monotonic()
        health = await backend.check()
        took = time.monotonic() - started
    assert not health.ok and words in health.message, health.message
    assert config["tsig_secret"] not in health.message
    # Timeouts are not retried: one FAULT_TIMEOUT, not three.
    assert took < FAULT_TIMEOUT * 2, took


# -- configuration ------------------------------------------------------------------


def good_config(**changes: Any) -> dict[str, Any]:
    config = {"server": "127.0.0.1", "port": 5353, "tsig_key_name": "dnsgate",
              "tsig_secret": base64.b64encode(b"s" * 32).decode(), "zones": ["example.test"]}
    config.update(changes)
    return config


def test_config_defaults_and_normalization() -> None:
    config = registry.parse_config("rfc2136", good_config(
        server="NS1.Example.TEST.", zones=["Example.TEST.", "example.test", "b.test"]))
    assert isinstance(config, RFC2136Config)
    assert config.server == "ns1.example.test"
    assert config.zones == ["example.test", "b.test"]
    assert config.tsig_algorithm == "hmac-sha256" and config.timeout == 10.0
    for algorithm in ("hmac-sha1", "hmac-sha384", "hmac-sha512"):
        registry.parse_config("rfc2136", good_config(tsig_algorithm=algorithm))


@pytest.mark.parametrize("changes, field", [
    ({"tsig_secret": "not base64!!"}, "tsig_secret"),
    ({"tsig_secret": ""}, "tsig_secret"),
    ({"tsig_algorithm": "hmac-md5"}, "tsig_algorithm"),
    ({"tsig_algorithm": "rot13"}, "tsig_algorithm"),
    ({"surprise": 1}, "surprise"),
    ({"zones": []}, "zones"),
    ({"zones": ["bad..name"]}, "zones"),
    ({"server": "not a host"}, "server"),
    ({"port": 0}, "port"),
    ({"tsig_key_name": ""}, "tsig_key_name"),
])
def test_config_is_validated(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as invalid:
        registry.parse_config("rfc2136", good_config(**changes))
    assert field in invalid.value.message
    if changes.get("tsig_secret"):
        assert changes["tsig_secret"] not in invalid.value.message


def test_config_missing_fields() -> None:
    with pytest.raises(InvalidInput, match="tsig_secret"):
        registry.parse_config("rfc2136", {k: v for k, v in good_config().items()
                                          if k != "tsig_secret"})


async def test_the_secret_never_shows(bind: BindHarness, zone: str) -> None:
    config = bind.config()
    secret = config["tsig_secret"]
    parsed = registry.parse_config("rfc2136", config)
    backend = open_backend(config)
    shown = [repr(parsed), str(parsed), parsed.model_dump_json(), str(parsed.model_dump()),
             repr(backend), repr(backend._key), str(await backend.check())]
    for text in shown:
        assert secret not in text
    assert secret_fields(RFC2136Config) == {"tsig_secret"}


def test_the_key_repr_of_dnspython_would_leak() -> None:
    # Why the adapter wraps dnspython's key: its repr prints the secret.
    secret = base64.b64encode(b"k" * 32).decode()
    assert secret in repr(dns.tsig.Key("k", secret, "hmac-sha256"))


def test_capabilities() -> None:
    caps = registry.provider("rfc2136").capabilities
    assert caps.atomic_batches and caps.list_zones and not caps.create_zones
    assert "SOA" not in caps.record_types and {"A", "CNAME", "NS", "TXT"} <= caps.record_types

