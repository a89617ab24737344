"""services.login_throttle: failure counts in the database, shared by every node."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from dnsgate.db.engine import Database
from dnsgate.db.models import LoginFailure
from dnsgate.domain.errors import RateLimited
from dnsgate.throttling import login_throttle
from dnsgate.throttling.login_throttle import LoginThrottle

KEYS = ("user:alice|192.0.2.1", "ip:192.0.2.1")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def db(migrated_database_url: str) -> Iterator[Database]:
    database = Database(migrated_database_url)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def throttle(db: Database, clock: Clock) -> LoginThrottle:
    return LoginThrottle(db, clock, free=3, base=timedelta(seconds=1))


def _refused_for(throttle: LoginThrottle, keys: tuple[str, ...]) -> int:
    """Retry-After seconds of a refused check (0: allowed)."""
    try:
        throttle.check(keys)
    except RateLimited as refused:
        return refused.retry_after
    return 0


def _rows(db: Database) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(LoginFailure)) or 0


def test_waits_double_after_the_free_failures(throttle, clock):
    waits = []
    for _ in range(6):
        waits.append(_refused_for(throttle, KEYS))
        throttle.failed(KEYS)
        clock.now += timedelta(milliseconds=1)
    assert waits == [0, 0, 0, 1, 2, 4]
    clock.now += timedelta(seconds=8)  # the 8 s after the sixth failure are over
    assert _refused_for(throttle, KEYS) == 0
    throttle.failed(KEYS)  # ... but the count goes on: the seventh waits 16 s
    assert _refused_for(throttle, KEYS) == 16


def test_the_wait_is_capped(db, clock):
    throttle = LoginThrottle(db, clock, free=1, base=timedelta(seconds=1),
                             cap=timedelta(seconds=30))
    for _ in range(40):
        throttle.failed(KEYS)
    assert _refused_for(throttle, KEYS) == 30


def test_a_success_clears_only_its_own_key(throttle):
    for _ in range(4):
        throttle.failed(KEYS)
    throttle.succeeded(KEYS[:1])
    assert _refused_for(throttle, KEYS[:1]) == 0
    assert _refused_for(throttle, KEYS[1:]) == 2  # the address keeps its count


def test_two_nodes_count_one_guesser_once(migrated_database_url, clock):
    """Each node has its own engine and throttle; the counts are the database's."""
    nodes = [Database(migrated_database_url) for _ in range(2)]
    try:
        first, second = (LoginThrottle(node, clock, free=3) for node in nodes)
        first.failed(KEYS)
        second.failed(KEYS)
        first.failed(KEYS)
        assert _refused_for(second, KEYS) == 1
        second.failed(KEYS)
        assert _refused_for(first, KEYS) == 2
        first.succeeded(KEYS)
        assert _refused_for(second, KEYS) == 0
    finally:
        for node in nodes:
            node.dispose()


def test_concurrent_failures_all_count(db, clock):
    """One upsert per failure: no read-then-write that two attempts could interleave."""
    threads = 8
    per_thread = 5
    throttle = LoginThrottle(db, clock, free=1, base=timedelta(seconds=1),
                             cap=timedelta(days=1))
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def guess() -> None:
        try:
            start.wait(timeout=10)
            for _ in range(per_thread):
                throttle.failed(KEYS)
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=guess) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert errors == []
    with db.read() as session:
        counts = set(session.scalars(select(LoginFailure.failures)))
    assert counts == {threads * per_thread}  # both keys, every failure


def test_a_count_is_forgotten_a_while_after_the_last_failure(db, clock):
    throttle = LoginThrottle(db, clock, free=1, base=timedelta(seconds=1),
                             forget=timedelta(hours=1))
    for _ in range(5):
        throttle.failed(KEYS)
    assert _refused_for(throttle, KEYS) == 16
    clock.now += timedelta(hours=1, seconds=1)
    throttle.failed(KEYS)  # counts from one again
    assert _refused_for(throttle, KEYS) == 1


def test_forgotten_rows_are_pruned(db, clock, monkeypatch):
    monkeypatch.setattr(login_throttle, "PRUNE_EVERY", 3)
    throttle = LoginThrottle(db, clock, forget=timedelta(hours=1))
    throttle.failed(["old-1", "old-2"])
    clock.now += timedelta(minutes=30)
    throttle.failed(["recent"])
    assert _rows(db) == 3
    clock.now += timedelta(minutes=31)  # old-* are past the hour, "recent" is not
    throttle.failed(["third"])  # the third failure recorded: prunes
    with db.read() as session:
        kept = set(session.scalars(select(LoginFailure.key)))
    assert kept == {login_throttle._digests([key])[0] for key in ("recent", "third")}


def test_keys_of_any_length_are_stored_as_digests(throttle, db):
    typed = "x" * 10_000  # a stranger's "username"
    throttle.failed([f"user:{typed}|192.0.2.1"] * 4)  # the same key once per attempt
    with db.read() as session:
        stored = session.execute(select(LoginFailure.key, LoginFailure.failures)).one()
    assert len(stored.key) == 64 and typed[:64] not in stored.key
    assert stored.failures == 1


def test_no_keys_is_no_statement(throttle, db):
    throttle.check([])
    throttle.failed([])
    throttle.succeeded([])
    assert _rows(db) == 0


def test_forget_shorter_than_the_cap_is_refused(db):
    with pytest.raises(ValueError, match="forget"):
        LoginThrottle(db, forget=timedelta(minutes=1), cap=timedelta(minutes=15))
