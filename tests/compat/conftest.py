"""Fixtures of the protocol facade tests, on top of tests/conftest.py.

Shared:
- ``_cheap_password_hashes`` (autouse): argon2id at minimal cost; the tests
  create accounts, and the hash's strength is not what they are about.

dyndns2 (``dyndns_*``):
- ``dyndns_token``: ``dyndns_token(zone, name, kind=, types=, **scope)`` makes an
  account with a realm on ``name`` and returns a token of it (in-process
  ``env``/``world``).
- ``dyndns_stack`` (session scope, one per xdist worker): a real ``dnsgate
  serve`` process with its embedded DNS server, on a database of its own,
  plus a real PowerDNS (``tests/support/pdns.py``). Zones: ``dyn.test``
  (built-in), ``pdns.test`` (PowerDNS) and ``fault.test`` (PowerDNS reached
  through a ``FaultProxy`` that a test can break). ddclient and inadyn talk
  to this server; the tests create their own hosts with
  ``stack.host_token(...)`` (unique names), so they never share records.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher

from tests.conftest import TEST_SECRET_KEY
from tests.dns.tools import free_dns_port, require_tool
from tests.support import pdns
from tests.support.databases import stack_database
from tests.support.factories import Made, World, bearer
from tests.support.faultproxy import FaultProxy
from tests.support.server import cli_env, running


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    from dnsgate.security import passwords

    monkeypatch.setattr(passwords, "_hasher",
                        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


# --- dyndns2 -----------------------------------------------------------------

DYNDNS_BUILTIN_ZONE = "dyn.test"
DYNDNS_PDNS_ZONE = "pdns.test"
DYNDNS_FAULT_ZONE = "fault.test"

_dyndns_names = itertools.count(1)


def dyndns_make_token(world: World, zone: str, name: str, *, kind: str = "host",
                      types: tuple[str, ...] = ("A", "AAAA"), **scope: Any) -> Made:
    """A fresh account with an approved realm ``name`` in ``zone`` and one token of it."""
    account = world.account(f"dyn{next(_dyndns_names)}")
    realm = world.realm(account, zone, name, kind=kind, types=list(types))
    return world.token(realm, **scope)


@pytest.fixture
def dyndns_token(world: World) -> Callable[..., Made]:
    """``dyndns_token(zone, name, kind="host", types=("A", "AAAA"), **token_scope)``."""

    def make(zone: str, name: str, **kwargs: Any) -> Made:
        return dyndns_make_token(world, zone, name, **kwargs)

    return make


@dataclass
class DyndnsStack:
    """A running ``dnsgate serve`` (HTTP + DNS) with a PowerDNS behind it."""

    base: str
    http_port: int
    dns_port: int
    pdns: pdns.PowerDNS
    proxy: FaultProxy
    world: World
    admin_key: str

    def host(self, zone: str, label: str = "host") -> str:
        """A name in ``zone`` no other test uses."""
        return f"{label}{next(_dyndns_names)}.{zone}"

    def host_token(self, zone: str, name: str, **kwargs: Any) -> str:
        """The text of a new token whose realm is ``name``."""
        return dyndns_make_token(self.world, zone, name, **kwargs).secret

    def api_records(self, zone: str, name: str, rtype: str) -> set[str]:
        """The RRset's records as the REST API of the running server shows them."""
        response = httpx.get(f"{self.base}/api/v1/zones/{zone}/rrsets",
                             params={"name": name, "type": rtype},
                             headers=bearer(self.admin_key), timeout=10, trust_env=False)
        assert response.status_code == 200, response.text
        return {record for rr in response.json() for record in rr["records"]}


def dyndns_dig(port: int, name: str, rtype: str = "A") -> set[str]:
    """``dig +short`` against a loopback server: the answer's records."""
    result = subprocess.run(
        [require_tool("dig"), "@127.0.0.1", "-p", str(port), "+short", "+time=3", "+tries=2",
         "+norecurse", name, rtype], capture_output=True, text=True, timeout=20)
    assert result.returncode == 0, result.stdout + result.stderr
    return {line.strip() for line in result.stdout.splitlines() if line.strip()}


@pytest.fixture(scope="session")
def _dyndns_database_url(database_backend: str, request: pytest.FixtureRequest,
                         tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database of the selected backend for the session's stack."""
    with stack_database(request, database_backend,
                        tmp_path_factory.mktemp("dyndns-db")) as url:
        yield url


@pytest.fixture(scope="session")
def dyndns_stack(_dyndns_database_url: str,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[DyndnsStack]:
    from dnsgate.app import build_env
    from dnsgate.config import Settings
    from dnsgate.db import migrate
    from dnsgate.services import backends
    from dnsgate.services.context import SYSTEM_CALLER, SYSTEM_CONTEXT
    from dnsgate.services.setup import ensure_builtin_backend

    work = tmp_path_factory.mktemp("dyndns-stack")
    settings = Settings(data_dir=work / "data", database_url=_dyndns_database_url,
                        secret_key=TEST_SECRET_KEY, dns_port=0)
    env = build_env(settings)
    migrate.upgrade(env.db)
    ensure_builtin_backend(env)
    world = World(env)
    power = pdns.start(work / "pdns")
    proxy = FaultProxy("127.0.0.1", power.api_port)
    try:
        power.create_zone(DYNDNS_PDNS_ZONE)
        power.create_zone(DYNDNS_FAULT_ZONE)
        for name, url in (("pdns", power.api_url), ("pdnsfault", proxy.url)):
            backends.add_backend(env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, name=name,
                                 provider="powerdns",
                                 config={"api_url": url, "api_key": power.api_key})

        async def add_zones() -> None:
            try:
                await world.zone(DYNDNS_BUILTIN_ZONE)
                await world.zone(DYNDNS_PDNS_ZONE, backend="pdns")
                await world.zone(DYNDNS_FAULT_ZONE, backend="pdnsfault")
            finally:
                await env.backends.aclose()

        asyncio.run(add_zones())
        admin_key = world.api_key(world.account("dynadmin", admin=True))
        dns_port = free_dns_port()
        process_env = cli_env(settings.data_dir, _dyndns_database_url,
                              DNSGATE_DNS_PORT=str(dns_port),
                              DNSGATE_SECRET_KEY=TEST_SECRET_KEY,
                              DNSGATE_WRITE_RATE_LIMIT="1000/second")
        with running("serve", process_env) as server:
            yield DyndnsStack(base=server.base, http_port=int(server.base.rsplit(":", 1)[1]),
                              dns_port=dns_port, pdns=power, proxy=proxy, world=world,
                              admin_key=admin_key)
    finally:
        with contextlib.suppress(Exception):
            proxy.stop()
        power.stop()
        env.db.dispose()
