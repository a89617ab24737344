"""Group commit (db/group_commit.py, ``Env.commits``): concurrent writes share one transaction,
yet each succeeds or fails alone. On SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from dnsgate.db import journal
from tests.support.api import audit_events, soa_serial, zone_state
from tests.support.factories import bearer

ZONE = "example.test"


class Boom(Exception):
    pass


@pytest.fixture
def commits(env):
    """What each committed transaction left for the commit hooks."""
    seen: list[dict] = []

    def hook(info):
        seen.append({name: list(items) for name, items in info.items()})

    env.db.on_commit(hook)
    yield seen
    env.db.remove_commit_hook(hook)


def insert_event(value: str, *, fail: bool = False, note: str | None = None):
    """A job: one row into a scratch table, a note for the hooks, maybe a failure."""

    def work(tx):
        tx.driver.execute(tx.raw.sql("INSERT INTO scratch (value) VALUES (:v)"), {"v": value})
        tx.info.setdefault("notes", []).append(note or value)
        if fail:
            raise Boom(value)
        return value

    return work


def scratch_values(env) -> list[str]:
    with env.db.read() as session:
        return sorted(session.execute(text("SELECT value FROM scratch")).scalars())


@pytest.fixture
def scratch(env):
    with env.db.write() as session:
        session.execute(text("CREATE TABLE scratch (value VARCHAR(40) PRIMARY KEY)"))
    return env


async def test_concurrent_jobs_commit_once_and_each_gets_its_result(scratch, commits):
    group = scratch.commits
    results = await asyncio.gather(*(group.run(insert_event(f"v{i}"), key="k")
                                     for i in range(10)))
    assert results == [f"v{i}" for i in range(10)]
    assert scratch_values(scratch) == sorted(f"v{i}" for i in range(10))
    assert commits == [{"notes": [f"v{i}" for i in range(10)]}]  # one commit, in order


async def test_a_failing_job_is_undone_alone(scratch, commits):
    group = scratch.commits
    results = await asyncio.gather(
        group.run(insert_event("a"), key="k"),
        group.run(insert_event("b", fail=True), key="k"),
        group.run(insert_event("c"), key="k"),
        return_exceptions=True)
    assert results[0] == "a" and results[2] == "c"
    assert isinstance(results[1], Boom)
    assert scratch_values(scratch) == ["a", "c"]
    assert commits == [{"notes": ["a", "c"]}]  # the failed job's note is gone too


async def test_a_job_that_breaks_a_constraint_leaves_the_batch_usable(scratch):
    group = scratch.commits
    results = await asyncio.gather(
        group.run(insert_event("same"), key="k"),
        group.run(insert_event("same"), key="k"),  # primary key violation
        group.run(insert_event("after"), key="k"),
        return_exceptions=True)
    assert results[0] == "same" and results[2] == "after"
    assert isinstance(results[1], Exception)
    assert scratch_values(scratch) == ["after", "same"]


async def test_a_lone_failing_job_rolls_back(scratch, commits):
    with pytest.raises(Boom):
        await scratch.commits.run(insert_event("x", fail=True), key="k")
    assert scratch_values(scratch) == []
    assert commits == []


async def test_a_request_cancelled_while_waiting_writes_nothing(scratch):
    group = scratch.commits
    kept = asyncio.ensure_future(group.run(insert_event("kept"), key="k"))
    gone = asyncio.ensure_future(group.run(insert_event("gone"), key="k"))
    await asyncio.sleep(0)  # both queued, the flush not yet run
    gone.cancel()
    assert await kept == "kept"
    assert gone.cancelled()
    assert scratch_values(scratch) == ["kept"]


async def test_keys_share_a_transaction_only_on_sqlite(scratch, commits):
    group = scratch.commits
    await asyncio.gather(group.run(insert_event("x"), key="zone:a"),
                         group.run(insert_event("y"), key="zone:b"))
    assert scratch_values(scratch) == ["x", "y"]
    if scratch.db.is_sqlite:  # one write lock for the whole database
        assert commits == [{"notes": ["x", "y"]}]
    else:  # one batch per zone lock: no two nodes take two zones' locks in turn
        assert sorted(commits, key=str) == [{"notes": ["x"]}, {"notes": ["y"]}]


async def test_concurrent_puts_one_denied_inside_the_batch(client, world, env, admin, commits):
    """Through the API: a PUT denied only once the zone is read (its token may
    update but not create) is audited and writes nothing; the others of its
    batch land, and the serial moves once per applied change set."""
    await world.zone(ZONE)
    tokens = []
    for i in range(6):
        realm = world.realm(world.account(f"host{i}"), ZONE, f"h{i}", types=["A"])
        ops = ["update"] if i == 3 else None
        tokens.append(world.token(realm, operations=ops).secret)
    before = soa_serial(await zone_state(client, admin))
    commits.clear()

    async def put(i):
        return await client.put(f"/api/v1/zones/{ZONE}/rrsets/h{i}.{ZONE}/A",
                                headers=bearer(tokens[i]),
                                json={"ttl": 300, "records": [f"192.0.2.{i + 1}"]})

    responses = await asyncio.gather(*(put(i) for i in range(6)))
    assert [r.status_code for r in responses] == [200, 200, 200, 403, 200, 200]
    assert responses[3].json()["code"] == "operation_not_allowed"
    state = await zone_state(client, admin)
    hosts = {rr["name"]: rr["records"] for rr in state if rr["type"] == "A"}
    assert hosts == {f"h{i}.{ZONE}": [f"192.0.2.{i + 1}"] for i in range(6) if i != 3}
    assert soa_serial(state) == before + 5
    applied = [c for commit in commits for c in commit.get(journal.APPENDED, [])]
    assert len(applied) == 5
    assert sorted(a.first_seq for a in applied) == [a.last_seq for a in applied] == sorted(
        a.last_seq for a in applied)  # one journal entry each, numbered without gaps
    assert len(commits) == 1, commits  # the five of one loop pass share a transaction
    assert [e.outcome for e in audit_events(env, name=f"h3.{ZONE}", rtype="A")] == ["denied"]
    assert len(audit_events(env, action="rrset.create", outcome="success")) == 5


@pytest.mark.postgres_only
async def test_on_postgresql_a_slow_batch_leaves_the_loop_free(scratch):
    """The batch waits on a worker thread: the loop serves other requests meanwhile."""

    def slow(tx):
        tx.driver.execute("SELECT pg_sleep(0.5)")
        return "done"

    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        assert await scratch.commits.run(slow, key="k") == "done"
    finally:
        ticker.cancel()
    assert ticks >= 20  # ~50 ticks in 0.5 s; on the loop the batch would leave none


@pytest.mark.postgres_only
async def test_on_postgresql_jobs_that_come_during_a_batch_go_together_in_the_next(
        scratch, commits):
    def slow(tx):
        tx.driver.execute("SELECT pg_sleep(0.3)")
        tx.info.setdefault("notes", []).append("slow")

    first = asyncio.ensure_future(scratch.commits.run(slow, key="k"))
    await asyncio.sleep(0.1)  # the slow batch is on its thread now
    later = [scratch.commits.run(insert_event(f"v{i}"), key="k") for i in range(5)]
    await asyncio.gather(first, *later)
    assert commits == [{"notes": ["slow"]}, {"notes": [f"v{i}" for i in range(5)]}]
