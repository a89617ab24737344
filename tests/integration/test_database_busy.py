"""A locked database is a clean 503 (db/engine.py, db/group_commit.py).

Another process holds SQLite's write lock; a write waits for it at most
``DNSGATE_DB_BUSY_TIMEOUT`` seconds (1 s here) and then answers 503
``database_busy`` with Retry-After, having written nothing. It waits on a
worker thread, never on the event loop: meanwhile /healthz and the DNS server
answer at once, and the loop never stands still for long (measured).
"""

from __future__ import annotations

import asyncio
import inspect
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import dns.asyncquery
import dns.message
import pytest

from dnsgate.config import Settings
from dnsgate.db.engine import ON_LOOP_WAIT, Database
from dnsgate.dnsserver.server import ServerConfig
from dnsgate.dnsserver.service import DnsService
from dnsgate.domain.errors import DatabaseBusy
from tests.support.factories import bearer

ZONE = "example.test"
BUSY_TIMEOUT = 1.0
#: The longest the event loop may stand still while a write waits for the lock.
LOOP_STALL_MAX = 0.1

_HOLD = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("held", flush=True)
sys.stdin.read()
conn.execute("ROLLBACK")
"""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"db_busy_timeout": BUSY_TIMEOUT})


@pytest.fixture
def db_path(env) -> Path:
    assert env.db.is_sqlite, "a test using db_path is marked sqlite_only"
    return Path(env.db.url.removeprefix("sqlite:///"))


@asynccontextmanager
async def write_lock_held(path: Path) -> AsyncIterator[None]:
    """SQLite's write lock, held by another process until the block ends."""
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _HOLD, str(path),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert await asyncio.wait_for(holder.stdout.readline(), 10) == b"held\n"
        yield
    finally:
        holder.stdin.close()
        await asyncio.wait_for(holder.wait(), 10)


class LoopWatch:
    """The longest the event loop stood still, seen by a task that ticks."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.005)
            now = time.monotonic()
            self.longest = max(self.longest, now - last - 0.005)
            last = now

    def __enter__(self) -> LoopWatch:
        self._task = asyncio.ensure_future(self._tick())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def token_for(world, name: str) -> str:
    """A token of a ``host`` realm for A records at ``name``.``ZONE``."""
    from dnsgate.services import realms
    from dnsgate.services.context import SYSTEM_CALLER, SYSTEM_CONTEXT

    row = realms.request_realm(world.env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, zone=ZONE,
                               name=name, kind="host", types=["A"],
                               account_id=world.account(f"owner-{name}"))
    if inspect.isawaitable(row):
        row = await row
    return world.token(row.id).secret


@pytest.fixture
async def dns_server(env) -> AsyncIterator[DnsService]:
    service = DnsService(env.db, ServerConfig(host="127.0.0.1", port=0))
    await service.start()
    yield service
    await service.stop()


async def dns_a(port: int, name: str) -> list[str]:
    response = await dns.asyncquery.udp(dns.message.make_query(name, "A"), "127.0.0.1",
                                        port=port, timeout=2)
    return [rd.to_text() for rrset in response.answer for rd in rrset]


async def timed(awaitable):
    started = time.monotonic()
    result = await awaitable
    return result, time.monotonic() - started


def test_five_seconds_by_default(tmp_path):
    assert Settings(secret_key="x" * 32).db_busy_timeout == 5.0
    assert Database(f"sqlite:///{tmp_path}/d.db").busy_timeout == 5.0


@pytest.mark.sqlite_only
async def test_a_put_behind_a_held_lock_is_a_503_and_the_rest_answers(
        client, world, env, db_path, dns_server):
    await world.zone(ZONE)
    token = await token_for(world, "home")
    url = f"/api/v1/zones/{ZONE}/rrsets/home.{ZONE}/A"
    assert (await client.put(url, headers=bearer(token),
                             json={"records": ["192.0.2.1"]})).status_code == 200
    async with write_lock_held(db_path):
        with LoopWatch() as watch:
            started = time.monotonic()
            put = asyncio.ensure_future(client.put(url, headers=bearer(token),
                                                   json={"records": ["192.0.2.2"]}))
            await asyncio.sleep(0.2)
            assert not put.done()  # waiting for the lock, off the loop
            health, took = await timed(client.get("/healthz"))
            assert health.status_code == 200 and took < 0.2
            answer, took = await timed(dns_a(dns_server.port, f"home.{ZONE}"))
            assert answer == ["192.0.2.1"] and took < 0.2
            response = await put
            waited = time.monotonic() - started
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "database_busy"
        assert response.headers["retry-after"] == "1"
        assert BUSY_TIMEOUT - 0.05 <= waited < BUSY_TIMEOUT + 1.0
        assert watch.longest < LOOP_STALL_MAX, watch.longest
    # Nothing was written; with the lock free the same PUT goes through.
    assert await dns_a(dns_server.port, f"home.{ZONE}") == ["192.0.2.1"]
    again = await client.put(url, headers=bearer(token), json={"records": ["192.0.2.2"]})
    assert again.status_code == 200
    assert await dns_a(dns_server.port, f"home.{ZONE}") == ["192.0.2.2"]


@pytest.mark.sqlite_only
async def test_a_get_of_rrsets_answers_while_the_lock_is_held(client, world, db_path):
    await world.zone(ZONE)
    token = await token_for(world, "home")
    async with write_lock_held(db_path):
        response, took = await timed(client.get(f"/api/v1/zones/{ZONE}/rrsets",
                                                headers=bearer(token)))
    assert response.status_code == 200 and took < 0.3


@pytest.mark.sqlite_only
async def test_writes_waiting_for_the_lock_land_once_it_is_free(client, world, db_path):
    await world.zone(ZONE)
    tokens = [await token_for(world, f"h{i}") for i in range(3)]

    async def put(i: int):
        return await client.put(f"/api/v1/zones/{ZONE}/rrsets/h{i}.{ZONE}/A",
                                headers=bearer(tokens[i]), json={"records": [f"192.0.2.{i}"]})

    async with write_lock_held(db_path):
        first = asyncio.ensure_future(put(0))
        await asyncio.sleep(0.1)
        later = [asyncio.ensure_future(put(i)) for i in (1, 2)]  # join the stalled batch
        await asyncio.sleep(0.3)
        assert not any(p.done() for p in (first, *later))
    responses = await asyncio.gather(first, *later)
    assert [r.status_code for r in responses] == [200, 200, 200]


@pytest.mark.sqlite_only
async def test_a_synchronous_write_on_the_loop_gives_up_soon(env, db_path):
    async with write_lock_held(db_path):
        with LoopWatch() as watch:
            started = time.monotonic()
            with pytest.raises(DatabaseBusy) as busy, env.db.write():
                pass
            took = time.monotonic() - started
        assert busy.value.code == "database_busy" and busy.value.retry_after == 1
        assert ON_LOOP_WAIT - 0.02 <= took < ON_LOOP_WAIT + 0.1
        # the loop stood still that long, and no longer
        assert watch.longest < ON_LOOP_WAIT + 0.1
        with pytest.raises(DatabaseBusy), env.db.transaction(write=True):
            pass


@pytest.mark.sqlite_only
async def test_a_write_on_another_thread_waits_the_whole_timeout(env, db_path):
    def write() -> None:
        with env.db.write():
            pass

    async with write_lock_held(db_path):
        started = time.monotonic()
        with pytest.raises(DatabaseBusy):
            await asyncio.to_thread(write)
        assert BUSY_TIMEOUT - 0.05 <= time.monotonic() - started < BUSY_TIMEOUT + 1.0


@pytest.mark.sqlite_only
async def test_a_deferred_write_waits_without_holding_anyone(env, db_path, caplog):
    from sqlalchemy import text

    with env.db.write() as session:
        session.execute(text("CREATE TABLE scratch (value VARCHAR(40))"))

    def insert(tx):
        tx.driver.execute("INSERT INTO scratch (value) VALUES ('later')")

    async with write_lock_held(db_path):
        env.commits.later(insert, key="k")
        await asyncio.sleep(0.2)
    await asyncio.sleep(0.3)
    with env.db.read() as session:
        assert session.execute(text("SELECT value FROM scratch")).scalars().all() == ["later"]
    async with write_lock_held(db_path):  # held past the timeout: dropped and logged
        env.commits.later(insert, key="k")
        await asyncio.sleep(BUSY_TIMEOUT + 0.5)
    assert "a deferred write was not made" in caplog.text


@pytest.mark.sqlite_only
async def test_dyndns2_answers_911(client, world, db_path):
    await world.zone(ZONE)
    token = await token_for(world, "home")
    async with write_lock_held(db_path):
        response = await client.get("/nic/update", params={"hostname": f"home.{ZONE}",
                                                           "myip": "192.0.2.9"},
                                    auth=("home", token))
    assert response.status_code == 200 and response.text.strip() == "911"


def test_every_facade_maps_database_busy_to_503_with_retry_after(tmp_path):
    from dnsgate.compat import acmedns, httpreq, pdns_api
    from dnsgate.services.context import SYSTEM_CONTEXT

    busy = Database(f"sqlite:///{tmp_path}/d.db", busy_timeout=2.5).busy()
    for response in (acmedns._failure(busy, SYSTEM_CONTEXT), httpreq._failure(busy),
                     pdns_api._failure(busy, SYSTEM_CONTEXT)):
        assert response.status_code == 503
        assert response.headers["retry-after"] == "3"
