"""Engine and transactions for SQLite (WAL) and PostgreSQL through one API.

``Database.write()`` opens a transaction that holds the write lock from its
first statement on SQLite (``BEGIN IMMEDIATE``), so read-check-write
sequences (realm overlap, RRset upserts) cannot interleave; on PostgreSQL the
services take advisory locks (see ``Database.lock``).

Waiting for SQLite's write lock (another process writes: the CLI, a backup,
another worker outside the gate) is bounded: ``busy_timeout`` seconds, then
``DatabaseBusy`` (503 ``database_busy``). Writes run on the event loop, so a
wait there would stop every request and the DNS server with it; instead:

* the group commit (the hot writes) tries the lock without waiting and, when
  it is held, waits on a worker thread (``wait_writable``), then tries again;
* a synchronous write on an event loop's thread (management paths, audits of
  denials) waits at most ``ON_LOOP_WAIT`` seconds, then gives up;
* a write on any other thread (the CLI, ``asyncio.to_thread``) waits the
  whole ``busy_timeout``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from dnsgate.db.process_locks import ProcessLocks
from dnsgate.db.raw import Executor, Raw, Tx, dialect
from dnsgate.domain.errors import DatabaseBusy

_IMMEDIATE = "dnsgate_immediate"
log = logging.getLogger("dnsgate.db")
#: The most a synchronous write on an event loop's thread waits for SQLite's
#: write lock: the loop (HTTP, and in tests the DNS server) stands still meanwhile.
ON_LOOP_WAIT = 0.1
DEFAULT_BUSY_TIMEOUT = 5.0


def zone_lock_key(zone: str) -> str:
    """The one lock key that serializes the writers of a zone (``Database.lock``)."""
    return f"zone:{zone}"


def _lock_id(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)


class Database:
    """One engine and the two ways to use it: ``read()`` and ``write()``."""

    def __init__(self, url: str, *, echo: bool = False,
                 process_locks: ProcessLocks | None = None,
                 busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
        """``process_locks``: set when several processes of this node write
        (``serve --workers``). On SQLite their hot write transactions take
        turns on a file lock instead of SQLite's sleeping busy handler, and
        the locks stand in for PostgreSQL's advisory locks. ``busy_timeout``:
        seconds a write waits for SQLite's write lock before ``DatabaseBusy``."""
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self._process_locks = process_locks
        self.busy_timeout = busy_timeout
        self._busy_ms = max(0, round(busy_timeout * 1000))
        self._loop_wait_ms = min(self._busy_ms, round(ON_LOOP_WAIT * 1000))
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": busy_timeout}
            # The connection used last goes out first: SQLite drops a connection's
            # page cache whenever another connection wrote, so rotating through the
            # pool (the default) re-read ~40 pages from the file per request.
            kwargs["pool_use_lifo"] = True
        else:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        self.engine: Engine = create_engine(url, **kwargs)
        self._checkpointer: _Checkpointer | None = None
        if self.is_sqlite:
            _configure_sqlite(self.engine, self)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._commit_hooks: list[Callable[[dict[str, Any]], None]] = []
        event.listen(self._sessions, "after_commit", self._after_commit)

    def on_commit(self, hook: Callable[[dict[str, Any]], None]) -> None:
        """Call ``hook(session.info)`` after every committed transaction.

        Writers leave what others must learn in ``session.info`` (e.g. the
        built-in backend's zone changes, for the DNS server); the hook runs
        only once the data is durable, and never for a rolled-back one.
        """
        self._commit_hooks.append(hook)

    def remove_commit_hook(self, hook: Callable[[dict[str, Any]], None]) -> None:
        if hook in self._commit_hooks:
            self._commit_hooks.remove(hook)

    def _after_commit(self, session: Session) -> None:
        if session.info:
            self._run_hooks(session.info)
            session.info.clear()

    def _run_hooks(self, info: dict[str, Any]) -> None:
        """The commit hooks, each on its own: the data is committed whatever a
        hook does, so a failing hook is logged (its own work retried by itself,
        e.g. the DNS view reloads the zone) and never fails the writer's request."""
        for hook in self._commit_hooks:
            try:
                hook(info)
            except Exception:
                log.exception("commit hook %r failed after the commit; the change stands",
                              hook)

    # --- SQLite's write lock ---------------------------------------------

    def busy(self) -> DatabaseBusy:
        """The error of a write that could not have the write lock in time."""
        return DatabaseBusy("the database is busy; nothing was written, try again",
                            retry_after=max(1, math.ceil(self.busy_timeout)))

    def _begin_immediate(self, driver: Any, wait_ms: int | None = None) -> None:
        """BEGIN IMMEDIATE, waiting at most ``wait_ms`` for the write lock (None:
        ``ON_LOOP_WAIT`` on an event loop's thread, else ``busy_timeout``)."""
        if wait_ms is None:
            on_loop = asyncio._get_running_loop() is not None
            wait_ms = self._loop_wait_ms if on_loop else self._busy_ms
        try:
            if wait_ms == self._busy_ms:
                driver.execute("BEGIN IMMEDIATE")
                return
            # PRAGMA busy_timeout sets the connection, no I/O: an empty write
            # transaction went from ~36 to ~45 us with the pair (measured in-process),
            # within the noise of bench/run.sh (~480 us of server CPU per PUT)
            driver.execute(f"PRAGMA busy_timeout={wait_ms}")
            try:
                driver.execute("BEGIN IMMEDIATE")
            finally:
                driver.execute(f"PRAGMA busy_timeout={self._busy_ms}")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                raise self.busy() from None
            raise

    def wait_writable(self, timeout: float) -> bool:
        """Block (a worker thread, never the loop) until SQLite's write lock is
        free or ``timeout`` seconds passed; whether it was free. The lock is
        let go at once: the caller takes it again on its own connection."""
        if timeout <= 0:
            return False
        pooled = self.engine.raw_connection()
        try:
            driver: Any = pooled.driver_connection
            try:
                self._begin_immediate(driver, max(1, round(timeout * 1000)))
            except DatabaseBusy:
                return False
            driver.execute("ROLLBACK")
            return True
        finally:
            pooled.close()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reads; nothing it does is committed."""
        with self._sessions() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that commits on success and rolls back on any error."""
        with self._sessions() as session, session.begin():
            session.connection(execution_options={_IMMEDIATE: True})
            yield session

    @contextmanager
    def transaction(self, *, write: bool, lock_wait: float | None = None) -> Iterator[Tx]:
        """A hot-path transaction on a pooled driver connection (see ``raw.Tx``).

        ``write=True`` takes SQLite's write lock at BEGIN, like ``write()``,
        waiting at most ``lock_wait`` seconds for it (None: as the module
        docstring says) before ``DatabaseBusy``; the commit hooks run after a
        successful commit, as for a Session. A read on SQLite runs its
        statements in autocommit: each is atomic, and the hot reads are one
        statement.
        """
        gate = self._process_locks if write and self.is_sqlite else None
        if gate is not None:
            gate.enter_write()
        try:
            pooled = self.engine.raw_connection()
            driver: Any = pooled.driver_connection
            tx = Tx(driver, dialect(is_sqlite=self.is_sqlite))
            try:
                if self.is_sqlite and write:
                    self._begin_immediate(
                        driver, None if lock_wait is None else round(lock_wait * 1000))
                yield tx
                if not self.is_sqlite:
                    driver.commit()
                elif write:
                    driver.execute("COMMIT")
            except BaseException:
                if not self.is_sqlite or driver.in_transaction:
                    driver.rollback()
                raise
            finally:
                pooled.close()
            if tx.info and write:
                self._run_hooks(tx.info)
        finally:
            if gate is not None:
                gate.leave_write()

    def lock(self, session: Executor, key: str) -> None:
        """Serialize writers of one resource (e.g. ``zone:example.test``) until commit.

        SQLite already holds the database write lock (BEGIN IMMEDIATE); on
        PostgreSQL a transaction-scoped advisory lock keyed by ``key``
        serializes them across every node.
        """
        if self.is_sqlite:
            return
        Raw.of(session).execute(session, "SELECT pg_advisory_xact_lock(:k)",
                                {"k": _lock_id(key)})

    def acquire_lock(self, key: str) -> Callable[[], None] | None:
        """Take the lock ``key`` across nodes for work outside any transaction
        (a provider's read-modify-write); returns the function that releases it.

        On PostgreSQL this is a session-level advisory lock on a connection held
        until release (blocking: call it from a worker thread). SQLite serves one
        node: with several worker processes a file lock, with one process its
        in-process lock is enough (None).
        """
        if self.is_sqlite:
            return self._process_locks.acquire(key) if self._process_locks else None
        # PostgreSQL: an advisory lock, seen by every node's every worker
        conn = self.engine.connect()
        try:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _lock_id(key)})
            conn.commit()
        except BaseException:
            conn.close()
            raise

        def release() -> None:
            try:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _lock_id(key)})
                conn.commit()
            finally:
                conn.close()
        return release

    @property
    def locks_across_processes(self) -> bool:
        """Whether ``acquire_lock`` takes a lock other processes see."""
        return not self.is_sqlite or self._process_locks is not None

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    def start_checkpointer(self, interval: float = 1.0) -> None:
        """SQLite: move WAL checkpoints (and their fsync) to a background thread.

        Otherwise the commit that crosses the WAL threshold runs the checkpoint
        itself, on the event loop, and every request waits for the disk.
        """
        if not self.is_sqlite or self._checkpointer is not None:
            return
        self._checkpointer = _Checkpointer(self.engine, interval)
        self.engine.dispose()  # new connections leave checkpoints to the thread
        self._checkpointer.start()

    @property
    def checkpoints_in_background(self) -> bool:
        return self._checkpointer is not None

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        self.engine.dispose()


class _Checkpointer(threading.Thread):
    """Runs PASSIVE WAL checkpoints: they never block readers or writers."""

    def __init__(self, engine: Engine, interval: float) -> None:
        super().__init__(name="sqlite-checkpoint", daemon=True)
        self.engine = engine
        self.interval = interval
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            try:
                with self.engine.connect() as conn:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            except Exception:
                log.exception("WAL checkpoint failed")

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)


def _configure_sqlite(engine: Engine, db: Database) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={db._busy_ms}")
        if db.checkpoints_in_background:
            cur.execute("PRAGMA wal_autocheckpoint=0")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # straight to the driver: this runs on every request
        driver: Any = conn.connection.driver_connection
        if conn.get_execution_options().get(_IMMEDIATE, False):
            db._begin_immediate(driver)
        else:
            driver.execute("BEGIN")
