"""The backend contract, run against every provider's adapter on its real
server or simulator: what ``check``, ``zones``, ``read`` and ``apply`` must do,
and how upstream failures surface (BackendUnavailable / BackendTimeout,
nothing changed)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from dnsgate.backends import registry
from dnsgate.backends.base import Backend, secret_values
from dnsgate.domain.errors import BackendTimeout, BackendUnavailable
from dnsgate.domain.records import Change, Delete, RRset, Upsert, canonical_records
from tests.backends.harness import FAULT_TIMEOUT, Fault, ProviderHarness


def open_backend(harness: ProviderHarness, config: dict[str, Any]) -> Backend:
    return registry.provider(harness.provider).open(
        registry.parse_config(harness.provider, config))


async def close(backend: Backend) -> None:
    aclose = getattr(backend, "aclose", None)
    if aclose is not None:
        await aclose()


def rrset(name: str, rtype: str, records: Sequence[str], ttl: int = 300) -> RRset:
    return RRset(name, rtype, ttl, canonical_records(rtype, records))


async def apply_one_by_one(backend: Backend, zone: str, changes: Sequence[Change]) -> None:
    if backend.capabilities.atomic_batches:
        await backend.apply(zone, changes)
        return
    for change in changes:
        await backend.apply(zone, [change])


async def read_set(backend: Backend, zone: str, name: str, rtype: str) -> RRset | None:
    found = await backend.read(zone, name, rtype)
    assert all(rr.name == name and rr.type == rtype for rr in found), found
    assert len(found) <= 1, found
    return found[0] if found else None


async def test_check_ok_and_zone_listed(harness: ProviderHarness) -> None:
    zone = harness.new_zone()
    backend = open_backend(harness, harness.config())
    try:
        health = await backend.check()
        assert health.ok, health.message
        if backend.capabilities.list_zones:
            assert zone in await backend.zones()
        else:
            assert await backend.zones() == []
    finally:
        await close(backend)


async def test_wrong_credentials_fail_check_without_leaking(harness: ProviderHarness) -> None:
    config = harness.bad_credentials()
    backend = open_backend(harness, config)
    try:
        health = await backend.check()
    finally:
        await close(backend)
    assert not health.ok
    assert health.message
    for value in _secret_values(harness.provider, config):
        assert value not in health.message


def _secret_values(provider: str, config: dict[str, Any]) -> list[str]:
    return secret_values(registry.parse_config(provider, config))


async def test_create_read_replace_delete(harness: ProviderHarness) -> None:
    zone = harness.new_zone()
    name = f"host.{zone}"
    backend = open_backend(harness, harness.config())
    try:
        first = rrset(name, "A", ["192.0.2.1"])
        await backend.apply(zone, [Upsert(first)])
        assert await read_set(backend, zone, name, "A") == first
        assert harness.lookup(zone, name, "A") == ["192.0.2.1"]

        second = rrset(name, "A", ["192.0.2.2", "192.0.2.3"], ttl=600)
        await backend.apply(zone, [Upsert(second)])
        got = await read_set(backend, zone, name, "A")
        assert got is not None
        if backend.capabilities.per_record_ttl:
            assert got.ttl == 600
        else:  # one TTL for the whole zone, whatever a change asks for
            assert got.ttl == first.ttl
        assert sorted(got.records) == ["192.0.2.2", "192.0.2.3"]
        assert harness.lookup(zone, name, "A") == ["192.0.2.2", "192.0.2.3"]

        await backend.apply(zone, [Delete(name, "A")])
        assert await read_set(backend, zone, name, "A") is None
        assert harness.lookup(zone, name, "A") == []
    finally:
        await close(backend)


async def test_read_whole_zone_and_by_type(harness: ProviderHarness) -> None:
    zone = harness.new_zone()
    backend = open_backend(harness, harness.config())
    try:
        await apply_one_by_one(backend, zone, [
            Upsert(rrset(f"a.{zone}", "A", ["192.0.2.10"])),
            Upsert(rrset(f"a.{zone}", "AAAA", ["2001:db8::10"])),
            Upsert(rrset(f"b.{zone}", "A", ["192.0.2.11"])),
        ])
        everything = {(rr.name, rr.type) for rr in await backend.read(zone)}
        assert {(f"a.{zone}", "A"), (f"a.{zone}", "AAAA"), (f"b.{zone}", "A")} <= everything
        only_a = await backend.read(zone, None, "A")
        assert {(rr.name, rr.type) for rr in only_a} >= {(f"a.{zone}", "A"), (f"b.{zone}", "A")}
        assert all(rr.type == "A" for rr in only_a)
        at_a = await backend.read(zone, f"a.{zone}")
        assert {(rr.name, rr.type) for rr in at_a} == {(f"a.{zone}", "A"), (f"a.{zone}", "AAAA")}
    finally:
        await close(backend)


async def test_long_and_quoted_txt(harness: ProviderHarness) -> None:
    zone = harness.new_zone()
    name = f"_acme-challenge.www.{zone}"
    long_value = "v=DKIM1; k=rsa; p=" + "A" * 400
    wanted = rrset(name, "TXT", [long_value, 'say "hi"; then \\ leave', "plain"])
    backend = open_backend(harness, harness.config())
    try:
        await backend.apply(zone, [Upsert(wanted)])
        got = await read_set(backend, zone, name, "TXT")
        assert got is not None
        assert sorted(got.records) == sorted(wanted.records)
        assert harness.lookup(zone, name, "TXT") == sorted(wanted.records)
    finally:
        await close(backend)


async def test_mx_and_srv_priorities(harness: ProviderHarness) -> None:
    zone = harness.new_zone()
    mx = rrset(zone, "MX", [f"10 mx1.{zone}.", f"20 mx2.{zone}."])
    srv = rrset(f"_sip._tcp.{zone}", "SRV", [f"10 60 5060 sip1.{zone}.", f"20 0 5061 sip2.{zone}."])
    backend = open_backend(harness, harness.config())
    try:
        await apply_one_by_one(backend, zone, [Upsert(mx), Upsert(srv)])
        for wanted in (mx, srv):
            got = await read_set(backend, zone, wanted.name, wanted.type)
            assert got is not None and sorted(got.records) == sorted(wanted.records)
            assert harness.lookup(zone, wanted.name, wanted.type) == sorted(wanted.records)
    finally:
        await close(backend)


async def test_batch(harness: ProviderHarness) -> None:
    zone = harness.new_zone()
    backend = open_backend(harness, harness.config())
    try:
        await backend.apply(zone, [Upsert(rrset(f"old.{zone}", "A", ["192.0.2.50"]))])
        batch: list[Change] = [
            Upsert(rrset(f"x.{zone}", "A", ["192.0.2.20"])),
            Upsert(rrset(f"y.{zone}", "CNAME", [f"x.{zone}."])),
            Delete(f"old.{zone}", "A"),
        ]
        await apply_one_by_one(backend, zone, batch)
        assert harness.lookup(zone, f"x.{zone}", "A") == ["192.0.2.20"]
        assert harness.lookup(zone, f"y.{zone}", "CNAME") == [f"x.{zone}."]
        assert harness.lookup(zone, f"old.{zone}", "A") == []
    finally:
        await close(backend)


@pytest.mark.parametrize("mode", ["down", "slow", "error", "garbage"])
async def test_upstream_fault_is_clean(harness: ProviderHarness, mode: Fault) -> None:
    zone = harness.new_zone()
    name = f"fault.{zone}"
    good = open_backend(harness, harness.config())
    try:
        await good.apply(zone, [Upsert(rrset(name, "A", ["192.0.2.1"]))])
    finally:
        await close(good)
    with harness.fault(mode) as config:
        assert float(config.get("timeout", FAULT_TIMEOUT)) <= FAULT_TIMEOUT
        backend = open_backend(harness, config)
        try:
            expected = BackendTimeout if mode == "slow" else BackendUnavailable
            with pytest.raises(expected) as failure:
                await backend.apply(zone, [Upsert(rrset(name, "A", ["192.0.2.99"]))])
            if mode != "slow":
                assert not isinstance(failure.value, BackendTimeout)
            with pytest.raises(expected):
                await backend.read(zone, name, "A")
            health = await backend.check()
            assert not health.ok
        finally:
            await close(backend)
        for value in _secret_values(harness.provider, config):
            assert value not in str(failure.value) and value not in failure.value.detail
    assert harness.lookup(zone, name, "A") == ["192.0.2.1"]
