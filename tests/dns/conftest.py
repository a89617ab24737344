"""Fixtures of the DNS server tests, on top of tests/conftest.py.

- ``zone``: the built-in zone ``example.test`` filled through the services
  with the records in ``RECORDS`` (CNAME chains and loops, wildcards, an empty
  non-terminal, a delegation with glue, long TXT RRsets, a DNSKEY at the apex).
- ``start_dns``: starts ``DnsService`` in the test's own event loop on a free
  loopback port (stopped after the test); ``server`` is one with the default
  config. Anything that talks to it must not block the loop: ``dig`` runs
  through ``asyncio.create_subprocess_exec`` (tests/dns/tools.py) and
  dnspython through ``dns.asyncquery``.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from argon2 import PasswordHasher

ZONE = "example.test"
LONG_TXT = "v=long " + "a" * 240  # one string close to the 255-byte limit
MEDIUM_TXT = [f"medium-{i}-" + "m" * 190 for i in range(4)]  # ~900 bytes: > 512, < 1232
BIG_TXT = [f"big-{i:02d}-" + "b" * 190 for i in range(20)]  # ~4.2 KB: needs TCP

#: (owner relative to the zone, type, ttl, records), written through the services.
RECORDS: list[tuple[str, str, int, list[str]]] = [
    ("@", "MX", 300, ["10 mail.example.test."]),
    ("@", "TXT", 300, ["v=spf1 -all"]),
    ("ns1", "A", 300, ["192.0.2.1"]),
    ("www", "A", 300, ["192.0.2.10"]),
    ("www", "AAAA", 300, ["2001:db8::10"]),
    ("mail", "A", 300, ["192.0.2.25"]),
    ("home", "A", 60, ["192.0.2.7"]),
    ("alias", "CNAME", 300, ["www.example.test."]),
    ("chain1", "CNAME", 300, ["chain2.example.test."]),
    ("chain2", "CNAME", 300, ["chain3.example.test."]),
    ("chain3", "CNAME", 300, ["www.example.test."]),
    ("dangling", "CNAME", 300, ["nothing.example.test."]),
    ("external", "CNAME", 300, ["www.example.org."]),
    ("loop1", "CNAME", 300, ["loop2.example.test."]),
    ("loop2", "CNAME", 300, ["loop1.example.test."]),
    ("self", "CNAME", 300, ["self.example.test."]),
    ("*.wild", "A", 300, ["192.0.2.50"]),
    ("*.wild", "TXT", 300, ["wildcard"]),
    ("explicit.wild", "TXT", 300, ["explicit"]),
    ("host.ent.wild", "A", 300, ["192.0.2.51"]),  # makes ent.wild an empty non-terminal
    ("*.wc", "CNAME", 300, ["www.example.test."]),
    ("sub", "NS", 300, ["ns1.sub.example.test.", "ns.elsewhere.example.org."]),
    ("ns1.sub", "A", 300, ["192.0.2.53"]),
    ("ns1.sub", "AAAA", 300, ["2001:db8::53"]),
    ("long", "TXT", 300, [LONG_TXT]),
    ("medium", "TXT", 300, MEDIUM_TXT),
    ("big", "TXT", 300, BIG_TXT),
]
DNSKEY = "257 3 13 " + base64.b64encode(bytes(range(64))).decode()


def fqdn(owner: str, zone: str = ZONE) -> str:
    return zone if owner == "@" else f"{owner}.{zone}"


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    from dnsgate.security import passwords

    monkeypatch.setattr(passwords, "_hasher",
                        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


async def put(env: Any, zone: str, owner: str, rtype: str, values: list[str],
              ttl: int = 300) -> None:
    """Upsert one RRset through the records service, as the operator."""
    from dnsgate.services import records
    from dnsgate.services.context import SYSTEM_CALLER, SYSTEM_CONTEXT
    from dnsgate.services.records import ChangeInput

    await records.apply_changes(env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, zone=zone, inputs=[
        ChangeInput("upsert", fqdn(owner, zone), rtype, ttl, values)])


@pytest.fixture
async def zone(env, world) -> str:
    """``example.test`` on the built-in backend, filled with ``RECORDS``."""
    from dnsgate.domain.records import RRset, Upsert
    from dnsgate.services import records
    from dnsgate.services.context import SYSTEM_CALLER, SYSTEM_CONTEXT
    from dnsgate.services.records import ChangeInput

    await world.zone(ZONE)
    await records.apply_changes(env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, zone=ZONE, inputs=[
        ChangeInput("upsert", fqdn(owner), rtype, ttl, rrs)
        for owner, rtype, ttl, rrs in RECORDS])
    # DNSKEY is not a type users may write; the backend itself can hold one.
    await env.backends.builtin().apply(ZONE, [Upsert(RRset(ZONE, "DNSKEY", 3600, (DNSKEY,)))])
    return ZONE


StartDns = Callable[..., Awaitable[Any]]


@pytest.fixture
async def start_dns(env, caplog: pytest.LogCaptureFixture) -> AsyncIterator[StartDns]:
    """``await start_dns(**ServerConfig fields)``: a DnsService on a free port.

    The server swallows its own exceptions (one bad packet must not stop it)
    and logs them; any such error log fails the test.
    """
    from dnsgate.dnsserver.server import ServerConfig
    from dnsgate.dnsserver.service import DnsService

    caplog.set_level(logging.WARNING, logger="dnsgate.dns")
    started: list[DnsService] = []

    async def start(db: Any = None, **config: Any) -> DnsService:
        base = ServerConfig(host="127.0.0.1", port=0)
        service = DnsService(db or env.db, dataclasses.replace(base, **config))
        await service.start()
        started.append(service)
        return service

    yield start
    for service in reversed(started):
        await service.stop()
    # asyncio logs what escapes a connection handler ("Unhandled exception in
    # client_connected_cb"): that is a crash of the server's TCP side.
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR
              and (r.name.startswith("dnsgate.dns") or r.name == "asyncio")]
    assert not errors, "the DNS server logged errors:\n" + "\n".join(
        caplog.text.splitlines()[-60:])


@pytest.fixture
async def server(zone, start_dns):
    """The DNS service with the default config, serving ``zone``."""
    return await start_dns()
