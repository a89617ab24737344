"""The commit pipeline of the hot writes: take the write lock, run the batch,
commit, tell the listeners -- for the transactions of concurrent requests,
committed as one (group commit).

Under load most of a record change's cost is the transaction around it
(BEGIN, COMMIT and the WAL frames of the pages every change touches: the
zone's serial, the audit table and its indexes), not its few statements. The
requests of one event-loop pass queue their work here; one callback, run just
after them, opens a single write transaction, runs each job inside a
SAVEPOINT of its own and commits once. A job that raises is rolled back to its
savepoint, alone, and its request gets the exception; the others commit.

Each request still answers only after its change is durable and the commit
hooks (the DNS view) have run. A lone job runs without a savepoint, exactly
as a plain ``Database.transaction(write=True)`` would.

On PostgreSQL a batch holds the jobs of one lock key (one zone): each job
takes its zone's advisory lock, and one batch per zone keeps two nodes from
taking two zones' locks in opposite orders. SQLite has one write lock for the
whole database (BEGIN IMMEDIATE), so there one batch takes every key.

On PostgreSQL a batch runs on a worker thread (each statement is a network
round trip, and a zone's advisory lock may wait for another node), and the
loop hands the outcomes out when it is done. On SQLite it runs on the loop.

The event loop never waits for SQLite's write lock: a batch tries it without
waiting, and when another process holds it the batch stalls -- a worker
thread waits for the lock to come free (``Database.wait_writable``) while the
loop serves everything else, jobs that come meanwhile join the stalled batch,
and then the batch tries again. A job that has waited ``busy_timeout``
seconds fails with ``DatabaseBusy``, having written nothing.

A commit hook that fails does not fail the batch: its data is committed
(``Database._run_hooks``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from dnsgate.db.engine import Database
from dnsgate.db.raw import Tx
from dnsgate.domain.errors import DatabaseBusy
from dnsgate.observability import metrics

T = TypeVar("T")
log = logging.getLogger("dnsgate.db")
Work = Callable[[Tx], T]
_SAVEPOINT = "dnsgate_job"


@dataclass(slots=True)
class _Job(Generic[T]):
    work: Work[T]
    future: asyncio.Future[T]
    deadline: float  # time.monotonic() after which it gives up waiting for the lock


@dataclass(slots=True)
class _Queue:
    """The jobs waiting in one event loop, by lock key: ``jobs`` for the next
    pass of the loop, ``stalled`` for the write lock another process holds;
    ``running``: keys with a batch on a worker thread (PostgreSQL), whose next
    batch gathers in ``jobs`` until it is done."""

    loop: asyncio.AbstractEventLoop
    jobs: dict[str | None, list[_Job[Any]]] = field(default_factory=dict)
    stalled: dict[str | None, list[_Job[Any]]] = field(default_factory=dict)
    running: set[str | None] = field(default_factory=set)


class GroupCommit:
    """Runs ``work(tx)`` in a write transaction shared with other requests."""

    def __init__(self, db: Database) -> None:
        self.db = db
        # One queue per thread, bound to the loop running there (tests and the
        # CLI run loops one after another, web workers may run their own).
        self._local = threading.local()
        self._later: set[asyncio.Future[Any]] = set()  # kept from the collector

    async def run(self, work: Work[T], *, key: str) -> T:
        """The result of ``work(tx)`` once its transaction has committed."""
        loop = asyncio.get_running_loop()
        queue: _Queue | None = getattr(self._local, "queue", None)
        if queue is None or queue.loop is not loop:
            queue = self._local.queue = _Queue(loop)
        batch_key = None if self.db.is_sqlite else key
        waiting = queue.jobs.get(batch_key)
        if waiting is None:
            waiting = queue.stalled.get(batch_key)  # join the batch waiting for the lock
            if waiting is None:
                waiting = queue.jobs[batch_key] = []
                if batch_key not in queue.running:  # else flushed when that batch is done
                    loop.call_soon(self._flush, queue, batch_key)
        job: _Job[T] = _Job(work, loop.create_future(),
                            time.monotonic() + self.db.busy_timeout)
        waiting.append(job)
        return await job.future

    def later(self, work: Work[Any], *, key: str) -> None:
        """Run ``work(tx)`` in a coming batch without waiting for it: for writes
        a request need not answer after (a token's use counter on a read), so
        the request does not wait for the write lock. A failure is logged."""
        task = asyncio.ensure_future(self.run(work, key=key))
        self._later.add(task)
        task.add_done_callback(self._later_done)

    def _later_done(self, task: asyncio.Future[Any]) -> None:
        self._later.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("a deferred write was not made: %s", task.exception())

    def _flush(self, queue: _Queue, key: str | None,
               jobs: list[_Job[Any]] | None = None) -> None:
        # Requests cancelled while they waited (the client went away) write nothing.
        jobs = [job for job in (queue.jobs.pop(key, []) if jobs is None else jobs)
                if not job.future.done()]
        if not jobs:
            return
        if self.db.is_sqlite:
            # On the loop: SQLite's write is in-process (tens of us); a thread hop
            # would cost more than it frees.
            outcomes = self._commit(jobs)
            if outcomes is None:
                self._stall(queue, key, jobs)
            else:
                _settle(jobs, outcomes)
            return
        # PostgreSQL: every statement is a round trip (and a zone's advisory lock
        # may wait for another node); a worker thread waits, the loop serves on.
        # One batch per key at a time: the jobs that come meanwhile wait for it
        # and go together in the next one (a batch each would cost a transaction
        # and its round trips each, and they would only queue for the zone's lock).
        queue.running.add(key)
        done = queue.loop.run_in_executor(None, self._commit, jobs)
        done.add_done_callback(lambda finished: self._done(queue, key, jobs, finished))

    def _done(self, queue: _Queue, key: str | None, jobs: list[_Job[Any]],
              finished: asyncio.Future[Any]) -> None:
        queue.running.discard(key)
        _settle_from(jobs, finished)
        if queue.jobs.get(key):
            self._flush(queue, key)

    def _commit(self, jobs: list[_Job[Any]]) -> list[tuple[bool, Any]] | None:
        """Run the batch in one write transaction: each job's outcome (ok, value),
        or None when SQLite's write lock is held elsewhere (nothing was run)."""
        outcomes: list[tuple[bool, Any]] = []
        begun = False
        try:
            # lock_wait=0: SQLite's write lock now or never, never a wait on the loop
            with self.db.transaction(write=True, lock_wait=0) as tx:
                begun = True
                metrics.observe_batch(len(jobs))  # here: a stalled batch counts once
                if len(jobs) == 1:
                    outcomes.append((True, jobs[0].work(tx)))
                else:
                    outcomes.extend(_run_in_savepoint(tx, job) for job in jobs)
        except DatabaseBusy as exc:
            if not begun:
                return None
            outcomes = [(False, exc)] * len(jobs)
        except Exception as exc:  # BEGIN or COMMIT failed, or the lone job raised
            outcomes = [(False, exc)] * len(jobs)
        return outcomes

    def _stall(self, queue: _Queue, key: str | None, jobs: list[_Job[Any]]) -> None:
        """Wait for the write lock on a worker thread, then try the batch again."""
        queue.stalled[key] = jobs
        timeout = min(job.deadline for job in jobs) - time.monotonic()
        waited = queue.loop.run_in_executor(None, self.db.wait_writable, timeout)
        waited.add_done_callback(lambda done: self._resume(queue, key, done))

    def _resume(self, queue: _Queue, key: str | None, waited: asyncio.Future[bool]) -> None:
        if not waited.cancelled() and waited.exception() is not None:
            log.warning("waiting for the write lock failed: %s", waited.exception())
        jobs = queue.stalled.pop(key, [])
        now = time.monotonic()
        live = []
        for job in jobs:
            if job.future.done():
                continue
            if job.deadline <= now:
                job.future.set_exception(self.db.busy())
            else:
                live.append(job)
        if live:
            self._flush(queue, key, live)


def _settle(jobs: list[_Job[Any]], outcomes: list[tuple[bool, Any]]) -> None:
    """Hand each waiting request its outcome (on the loop)."""
    for job, (ok, value) in zip(jobs, outcomes, strict=True):
        if job.future.done():  # cancelled meanwhile
            continue
        if ok:
            job.future.set_result(value)
        else:
            job.future.set_exception(value)


def _settle_from(jobs: list[_Job[Any]], finished: asyncio.Future[Any]) -> None:
    """``_settle`` with a batch that ran on a worker thread."""
    if finished.cancelled():  # the loop is closing: nothing to hand out
        return
    failure = finished.exception()
    outcomes = finished.result() if failure is None else [(False, failure)] * len(jobs)
    _settle(jobs, outcomes)


def _run_in_savepoint(tx: Tx, job: _Job[Any]) -> tuple[bool, Any]:
    """Run one job of a batch; undo it alone if it raises.

    What it leaves for the commit hooks (``tx.info``, lists by convention) is
    kept only if it succeeded.
    """
    batch_info = tx.info
    tx.info = {}
    tx.driver.execute(f"SAVEPOINT {_SAVEPOINT}")
    try:
        value = job.work(tx)
    except Exception as exc:
        tx.driver.execute(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
        tx.driver.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}")
        return False, exc
    finally:
        job_info, tx.info = tx.info, batch_info
    tx.driver.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}")
    for name, items in job_info.items():
        batch_info.setdefault(name, []).extend(items)
    return True, value
