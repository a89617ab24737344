"""A committed change is reported as committed (db/engine.py ``_run_hooks``).

A commit hook runs after the data is durable; if one raises, the requests
whose data committed still succeed, the other hooks still run, and the
failure is logged. The DNS view's own hook, when taking a change in fails,
reloads the zone from the database instead (its own work, retried).
"""

from __future__ import annotations

import asyncio
import logging

import dns.asyncquery
import dns.message
import pytest
from sqlalchemy import text

from dnsgate.dnsserver.server import ServerConfig
from dnsgate.dnsserver.service import DnsService
from tests.support.factories import bearer

ZONE = "example.test"


class HookFailed(Exception):
    pass


@pytest.fixture
def failing_hook(env):
    """A hook that raises, registered before a hook that records what it saw."""
    seen: list[dict] = []

    def fail(info):
        raise HookFailed("the hook's own work failed")

    def record(info):
        seen.append(dict(info))

    env.db.on_commit(fail)
    env.db.on_commit(record)
    yield seen
    env.db.remove_commit_hook(fail)
    env.db.remove_commit_hook(record)


@pytest.fixture
def scratch(env):
    with env.db.write() as session:
        session.execute(text("CREATE TABLE scratch (value VARCHAR(40))"))
    return env


def values(env) -> list[str]:
    with env.db.read() as session:
        return sorted(session.execute(text("SELECT value FROM scratch")).scalars())


def insert(value: str):
    def work(tx):
        tx.driver.execute(tx.raw.sql("INSERT INTO scratch (value) VALUES (:v)"), {"v": value})
        tx.info.setdefault("notes", []).append(value)
        return value
    return work


async def test_group_commit_jobs_succeed_when_a_hook_fails(scratch, failing_hook, caplog):
    group = scratch.commits
    results = await asyncio.gather(group.run(insert("a"), key="k"),
                                   group.run(insert("b"), key="k"))
    assert results == ["a", "b"]
    assert values(scratch) == ["a", "b"]
    assert failing_hook == [{"notes": ["a", "b"]}]  # the next hook ran all the same
    assert "commit hook" in caplog.text and "HookFailed" in caplog.text


async def test_a_session_write_succeeds_when_a_hook_fails(scratch, failing_hook):
    with scratch.db.write() as session:
        session.execute(text("INSERT INTO scratch (value) VALUES ('s')"))
        session.info["notes"] = ["s"]
    assert values(scratch) == ["s"]
    assert failing_hook == [{"notes": ["s"]}]


async def test_a_put_is_answered_200_when_a_hook_fails(client, world, admin, failing_hook):
    await world.zone(ZONE)
    url = f"/api/v1/zones/{ZONE}/rrsets/www.{ZONE}/A"
    response = await client.put(url, headers=bearer(admin), json={"records": ["192.0.2.7"]})
    assert response.status_code == 200, response.text
    read = await client.get(url, headers=bearer(admin))
    assert read.json()["records"] == ["192.0.2.7"]


async def test_the_dns_view_reloads_a_zone_it_could_not_take_a_change_into(
        client, world, admin, env, monkeypatch, caplog):
    await world.zone(ZONE)
    service = DnsService(env.db, ServerConfig(host="127.0.0.1", port=0))
    await service.start()
    try:
        url = f"/api/v1/zones/{ZONE}/rrsets/www.{ZONE}/A"
        assert (await client.put(url, headers=bearer(admin),
                                 json={"records": ["192.0.2.1"]})).status_code == 200
        take = service.store.take

        def broken(appended):
            monkeypatch.setattr(service.store, "take", take)  # once
            raise RuntimeError("staging failed")

        monkeypatch.setattr(service.store, "take", broken)
        response = await client.put(url, headers=bearer(admin), json={"records": ["192.0.2.2"]})
        assert response.status_code == 200, response.text
        reply = await dns.asyncquery.udp(dns.message.make_query(f"www.{ZONE}", "A"),
                                         "127.0.0.1", port=service.port, timeout=2)
        assert [rd.to_text() for rrset in reply.answer for rd in rrset] == ["192.0.2.2"]
        failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert [r.name for r in failures] == ["dnsgate.dns"]
        assert "reading example.test again" in failures[0].getMessage()
    finally:
        await service.stop()
