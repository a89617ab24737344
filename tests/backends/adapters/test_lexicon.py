"""The dns-lexicon bridge beyond the contract: provider and option
validation, which credentials are secrets, record mapping, and the undo of
a half-done change when a lexicon call fails."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
import requests

from dnsgate.backends import lexicon, registry
from dnsgate.backends.lexicon import LexiconBackend, LexiconConfig
from dnsgate.backends.lexicon_records import parse_record, record_content
from dnsgate.backends.sealing import sealed_dump, unsealed
from dnsgate.domain.errors import (
    BackendTimeout,
    BackendUnavailable,
    InvalidInput,
    InvalidRecord,
    ZoneNotFound,
)
from dnsgate.domain.records import Delete, RRset, Upsert, canonical_records
from tests.backends.providers import lexicon_powerdns
from tests.backends.providers.lexicon_powerdns import LexiconPowerDNSHarness
from tests.support.server import free_port

TOKEN = "tok-5ecr3t-value"


@pytest.fixture(scope="module")
def lx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LexiconPowerDNSHarness]:
    started = lexicon_powerdns.start(tmp_path_factory.mktemp("lexicon-adapter"))
    try:
        yield started
    finally:
        started.stop()


def parse(raw: dict[str, Any]) -> LexiconConfig:
    parsed = registry.parse_config("lexicon", raw)
    assert isinstance(parsed, LexiconConfig)
    return parsed


def rrset(name: str, rtype: str, records: list[str], ttl: int = 300) -> RRset:
    return RRset(name, rtype, ttl, canonical_records(rtype, records))


def through_proxy(lx: LexiconPowerDNSHarness) -> LexiconBackend:
    """An adapter whose every lexicon call passes the harness's FaultProxy."""
    return LexiconBackend(parse({
        "provider_name": "powerdns",
        "credentials": {"pdns_server": lx.proxy.url, "auth_token": lx.server.api_key}}))


def fail_calls(backend: LexiconBackend, lx: LexiconPowerDNSHarness,
               failing: Callable[[int], bool]) -> list[int]:
    """Make the n-th lexicon call (1-based) fail with HTTP 500 where ``failing(n)``."""
    original: Callable[[Callable[[], Any]], Awaitable[Any]] = backend._run
    seen: list[int] = []

    async def run(call: Callable[[], Any]) -> Any:
        seen.append(len(seen) + 1)
        if failing(len(seen)):
            with lx.proxy.fault("error"):
                return await original(call)
        return await original(call)

    backend._run = run  # type: ignore[method-assign]
    return seen


# -- configuration -----------------------------------------------------------


def test_provider_name_must_be_a_lexicon_provider() -> None:
    with pytest.raises(InvalidInput) as unknown:
        parse({"provider_name": "no-such-dns", "credentials": {}})
    assert "provider_name" in unknown.value.message
    assert parse({"provider_name": "PowerDNS"}).provider_name == "powerdns"
    assert "cloudflare" in lexicon.available_providers()


def test_credentials_must_be_options_of_the_provider() -> None:
    with pytest.raises(InvalidInput) as unknown:
        parse({"provider_name": "powerdns",
               "credentials": {"auth_token": TOKEN, "api_secret": "hunter2"}})
    assert "api_secret" in unknown.value.message and "auth_token" in unknown.value.message
    assert TOKEN not in unknown.value.message and "hunter2" not in unknown.value.message
    with pytest.raises(InvalidInput) as badly_named:
        parse({"provider_name": "powerdns", "credentials": {"Auth-Token": TOKEN}})
    assert "credentials" in badly_named.value.message
    assert TOKEN not in badly_named.value.message
    with pytest.raises(InvalidInput) as extra:
        parse({"provider_name": "powerdns", "password": TOKEN})
    assert "password" in extra.value.message and TOKEN not in extra.value.message
    with pytest.raises(InvalidInput) as bad_zone:
        parse({"provider_name": "powerdns", "check_domain": "not a zone"})
    assert "check_domain" in bad_zone.value.message


def test_credentials_are_secret_except_public_options() -> None:
    config = parse({"provider_name": "powerdns", "check_domain": "Example.TEST.",
                    "credentials": {"pdns_server": "http://127.0.0.1:8081",
                                    "auth_token": TOKEN}})
    assert config.check_domain == "example.test"
    for text in (repr(config), str(config), config.model_dump_json(),
                 str(config.model_dump()), str(config.model_dump(mode="json"))):
        assert TOKEN not in text
    shown = config.model_dump(mode="json")["credentials"]
    assert shown == {"pdns_server": "http://127.0.0.1:8081", "auth_token": "**********"}
    assert config.options() == {"pdns_server": "http://127.0.0.1:8081", "auth_token": TOKEN}
    # At rest the token is sealed, the endpoint is not; unsealing gives the same config.
    key = b"k" * 32
    stored = sealed_dump(key, config)
    assert stored["credentials"]["pdns_server"] == "http://127.0.0.1:8081"
    assert stored["credentials"]["auth_token"].startswith("sealed:v1:")
    assert TOKEN not in str(stored)
    assert parse(unsealed(key, stored)) == config


async def test_without_check_domain_check_says_it_did_not_test() -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    backend = LexiconBackend(parse({"provider_name": "powerdns", "credentials": {
        "pdns_server": closed, "auth_token": TOKEN}}))
    health = await backend.check()
    assert health.ok and "not tested" in health.message and "check_domain" in health.message
    assert await backend.zones() == []


def test_capabilities_follow_the_provider() -> None:
    pdns = LexiconBackend(parse({"provider_name": "powerdns"}))
    other = LexiconBackend(parse({"provider_name": "cloudflare"}))
    for backend in (pdns, other):
        assert not backend.capabilities.list_zones
        assert not backend.capabilities.atomic_batches
    assert {"MX", "SRV", "CAA"} <= pdns.capabilities.record_types
    assert other.capabilities.record_types == {"A", "AAAA", "CNAME", "TXT"}
    assert pdns.capabilities.record_types <= lexicon.PROVIDER.capabilities.record_types


def test_record_content_for_lexicon() -> None:
    pdns = LexiconBackend(parse({"provider_name": "powerdns"}))
    other = LexiconBackend(parse({"provider_name": "cloudflare"}))
    txt = canonical_records("TXT", ["x" * 300])[0]
    assert record_content(pdns.dialect, "TXT", txt) == txt
    assert record_content(other.dialect, "TXT", txt) == "x" * 300
    assert record_content(other.dialect, "CNAME", "www.example.test.") == "www.example.test"
    zone = "example.test"
    for listed, owner in [("www.example.test", "www.example.test"),
                          ("WWW.example.test.", "www.example.test"),
                          ("www", "www.example.test"), ("@", zone), (zone + ".", zone)]:
        parsed = parse_record(pdns.dialect, zone, {"type": "A", "name": listed,
                                                   "content": "192.0.2.1", "ttl": 60})
        assert parsed is not None and parsed[0] == (owner, "A")
    # lexicon's powerdns strips every outer quote, also one that ended an escape
    parsed = parse_record(pdns.dialect, zone, {"type": "TXT", "name": "t", "ttl": 60,
                                               "content": 'say \\"hi\\'})
    assert parsed is not None and parsed[1].canonical == '"say \\"hi\\""'


async def test_out_of_zone_cname_is_refused_before_any_call() -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    backend = LexiconBackend(parse({"provider_name": "powerdns", "credentials": {
        "pdns_server": closed, "auth_token": TOKEN}}))
    with pytest.raises(InvalidRecord):  # not BackendUnavailable: nothing was sent
        await backend.apply("example.test", [
            Upsert(rrset("www.example.test", "CNAME", ["elsewhere.example.net."]))])


# -- against pdns_server -------------------------------------------------------


async def test_read_of_an_unknown_zone(lx: LexiconPowerDNSHarness) -> None:
    backend = LexiconBackend(parse(lx.config()))
    with pytest.raises(ZoneNotFound):
        await backend.read("nowhere.example")


async def test_ttl_change_and_delete(lx: LexiconPowerDNSHarness) -> None:
    zone = lx.new_zone()
    name = f"h.{zone}"
    backend = LexiconBackend(parse(lx.config()))
    await backend.apply(zone, [Upsert(rrset(name, "A", ["192.0.2.1", "192.0.2.2"]))])
    await backend.apply(zone, [Upsert(rrset(name, "A", ["192.0.2.2", "192.0.2.3"], ttl=900))])
    assert await backend.read(zone, name, "A") == [
        rrset(name, "A", ["192.0.2.2", "192.0.2.3"], ttl=900)]
    await backend.apply(zone, [Delete(name, "A")])
    assert await backend.read(zone, name, "A") == []
    assert lx.lookup(zone, name, "A") == []


async def test_a_failed_create_undoes_the_done_ones(lx: LexiconPowerDNSHarness) -> None:
    zone = lx.new_zone()
    name = f"u.{zone}"
    backend = through_proxy(lx)
    await backend.apply(zone, [Upsert(rrset(name, "A", ["192.0.2.9"]))])
    # calls: 1 authenticate, 2 list, 3 create .1, 4 create .2 (fails), then undo
    seen = fail_calls(backend, lx, lambda n: n == 4)
    with pytest.raises(BackendUnavailable) as failure:
        await backend.apply(zone, [Upsert(rrset(name, "A", ["192.0.2.1", "192.0.2.2"]))])
    assert not isinstance(failure.value, BackendTimeout)
    assert "500" in failure.value.detail and "undo incomplete" not in failure.value.detail
    assert len(seen) > 4  # the undo ran
    assert lx.lookup(zone, name, "A") == ["192.0.2.9"]
    assert TOKEN not in failure.value.detail and lx.server.api_key not in failure.value.detail


async def test_a_failed_ttl_change_restores_records_and_ttl(lx: LexiconPowerDNSHarness) -> None:
    zone = lx.new_zone()
    name = f"t.{zone}"
    backend = through_proxy(lx)
    await backend.apply(zone, [Upsert(rrset(name, "TXT", ["one", "two"], ttl=300))])
    before = await backend.read(zone, name, "TXT")
    # calls: 1 auth, 2 list, 3-4 delete both, 5 create "one", 6 create "two" (fails)
    fail_calls(backend, lx, lambda n: n == 6)
    with pytest.raises(BackendUnavailable):
        await backend.apply(zone, [Upsert(rrset(name, "TXT", ["one", "two"], ttl=60))])
    after = await LexiconBackend(parse(lx.config())).read(zone, name, "TXT")
    assert after == before and after[0].ttl == 300
    assert lx.lookup(zone, name, "TXT") == ['"one"', '"two"']


async def test_an_undo_that_fails_is_reported(lx: LexiconPowerDNSHarness) -> None:
    zone = lx.new_zone()
    name = f"r.{zone}"
    backend = through_proxy(lx)
    await backend.apply(zone, [Upsert(rrset(name, "A", ["192.0.2.9"]))])
    fail_calls(backend, lx, lambda n: n >= 4)  # the create of .2 and every undo call fail
    with pytest.raises(BackendUnavailable) as failure:
        await backend.apply(zone, [Upsert(rrset(name, "A", ["192.0.2.1", "192.0.2.2"]))])
    assert "undo incomplete" in failure.value.detail
    # .1 stays (the undo could not remove it); the old record was never touched
    assert lx.lookup(zone, name, "A") == ["192.0.2.1", "192.0.2.9"]


async def test_a_timed_out_call_does_not_leave_its_thread_hanging(
        lx: LexiconPowerDNSHarness) -> None:
    before = {thread.ident for thread in threading.enumerate()}
    with lx.fault("slow") as raw:
        backend = LexiconBackend(parse(raw))
        started = time.monotonic()
        with pytest.raises(BackendTimeout):
            await backend.read(lx.check_zone)
        assert time.monotonic() - started < 3
        # requests in our worker thread got a timeout too, so the thread ends
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            busy = [thread for thread in threading.enumerate()
                    if thread.ident not in before and thread.name.startswith("asyncio_")]
            if not any(_is_in_requests(thread) for thread in busy):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("a lexicon worker thread is still waiting on the upstream")


def _is_in_requests(thread: threading.Thread) -> bool:
    import sys
    import traceback
    frame = sys._current_frames().get(thread.ident or -1)
    return frame is not None and any(
        "requests" in entry.filename for entry in traceback.extract_stack(frame))


def test_timeout_hook_only_applies_to_lexicon_threads() -> None:
    lexicon._install_timeout_hook()
    seen: dict[str, Any] = {}

    class Probe(requests.adapters.BaseAdapter):
        def send(self, request: Any, **kwargs: Any) -> Any:
            seen["timeout"] = kwargs.get("timeout")
            raise requests.exceptions.ConnectionError("probe")

        def close(self) -> None:
            pass

    def call() -> None:
        session = requests.Session()
        session.mount("http://", Probe())
        with pytest.raises(requests.exceptions.ConnectionError):
            session.get("http://127.0.0.1:9/")

    call()
    assert seen["timeout"] is None
    token = lexicon._HTTP_TIMEOUT.set(2.5)
    try:
        call()
    finally:
        lexicon._HTTP_TIMEOUT.reset(token)
    assert seen["timeout"] == 2.5
