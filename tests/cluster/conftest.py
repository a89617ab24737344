"""Fixtures of the two-node tests: PowerDNS, a template database, and a factory
of clusters (a fresh database copied from the template, a fresh Redis, two
``dnsgate serve`` nodes).

Each cluster gets its own Redis (``tests/support/redis.py``), so no count of
one test reaches another.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cluster.nodes import SECRET_KEY, Cluster, start_nodes
from tests.support import pdns
from tests.support.postgres import PostgresServer
from tests.support.redis import redis_server

BUILTIN_ZONE = "example.test"
PDNS_ZONE = "pdns.test"
USER = "alice"
PASSWORD = "correct horse battery staple 42"

_numbers = itertools.count(1)


@dataclass(frozen=True)
class Template:
    """A migrated database with an account, two zones, realms and tokens."""

    name: str  # the database to copy
    builtin_tokens: tuple[str, str]  # two tokens of lab.example.test (A, TXT)
    pdns_token: str  # a token of lab.pdns.test (A, TXT)


@pytest.fixture(scope="module")
def powerdns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pdns.PowerDNS]:
    """A real pdns_server with the zone pdns.test."""
    server = pdns.start(tmp_path_factory.mktemp("pdns"))
    try:
        server.create_zone(PDNS_ZONE)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def cluster_template(postgres_server: PostgresServer, powerdns: pdns.PowerDNS,
                     tmp_path_factory: pytest.TempPathFactory) -> Iterator[Template]:
    """The set-up of the acceptance check (``db upgrade``, ``user create``,
    ``backend add``, ``zone add``, ``realm add``, ``token create``), done once
    through the services the CLI calls, in this process: ten ``dnsgate``
    processes would cost ~14 s of CPU on a 2-core machine. Each test copies
    the result (CREATE DATABASE ... TEMPLATE)."""
    from dnsgate.app import build_env
    from dnsgate.config import Settings
    from dnsgate.db import migrate
    from dnsgate.services import accounts, backends, realms, setup, tokens, zones
    from dnsgate.services.context import SYSTEM_CALLER, SYSTEM_CONTEXT

    name = f"cluster_template_{next(_numbers)}"
    url = postgres_server.create_database(name)
    env = build_env(Settings(data_dir=tmp_path_factory.mktemp("template"), database_url=url,
                             secret_key=SECRET_KEY, dns_port=0))
    try:
        migrate.upgrade(env.db)
        setup.ensure_builtin_backend(env)
        ctx, caller = SYSTEM_CONTEXT, SYSTEM_CALLER
        accounts.create_account(env, ctx, caller=caller, name=USER, password=PASSWORD)
        backends.add_backend(env, ctx, caller=caller, name="pdns", provider="powerdns",
                             config={"api_url": powerdns.api_url, "api_key": powerdns.api_key})
        public = zones.PolicyUpdate(visibility="public", approval="auto")

        async def add_zones() -> None:
            try:
                for zone, backend in ((BUILTIN_ZONE, "builtin"), (PDNS_ZONE, "pdns")):
                    await zones.add_zone(env, ctx, caller=caller, zone=zone, backend=backend,
                                         policy=public)
            finally:
                await env.backends.aclose()

        asyncio.run(add_zones())
        with env.db.read() as session:
            account_id = accounts.find_account(session, USER).id
        builtin_realm, pdns_realm = (
            realms.request_realm(env, ctx, caller=caller, zone=zone, name=f"lab.{zone}",
                                 kind="subtree", types=["A", "TXT"], account_id=account_id).id
            for zone in (BUILTIN_ZONE, PDNS_ZONE))
        made = [tokens.create_token(env, ctx, caller=caller, realm_id=realm)[1]
                for realm in (builtin_realm, builtin_realm, pdns_realm)]
    finally:
        env.db.dispose()  # a template must have no open connections when it is copied
    try:
        yield Template(name, (made[0], made[1]), made[2])
    finally:
        postgres_server.drop_database(name)


ClusterFactory = Callable[..., Cluster]


@pytest.fixture
def cluster(postgres_server: PostgresServer, cluster_template: Template,
            tmp_path: Path) -> Iterator[ClusterFactory]:
    """``cluster(write_rate_limit="10/minute", ...)``: two nodes on a fresh copy of
    the template database and a fresh Redis; keyword arguments are settings
    (``DNSGATE_`` + upper case), the same on both nodes."""
    started: list[tuple[Cluster, str]] = []
    with contextlib.ExitStack() as redis_servers:

        def make(nodes: int = 2, **settings: str) -> Cluster:
            name = f"cluster_{next(_numbers)}"
            url = postgres_server.create_database(name, template=cluster_template.name)
            redis = redis_servers.enter_context(redis_server())
            made = Cluster(url, redis.url)
            started.append((made, name))
            made.nodes = start_nodes(tmp_path / name, url, redis.url, nodes,
                                     {"write_rate_limit": "100000/minute", **settings})
            return made

        yield make
        for made, name in reversed(started):
            made.stop()
            for node in made.nodes:  # shown with a failed test's output
                if text := node.log().strip():
                    print(f"--- node {node.name} ({name}) log, last 6000 characters ---")
                    print(text[-6000:])
            postgres_server.drop_database(name)
