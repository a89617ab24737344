"""Engine and transactions for SQLite (WAL) and PostgreSQL through one API.

``Database.write()`` opens a transaction that holds the write lock from its
first statement on SQLite (``BEGIN IMMEDIATE``), so read-check-write
sequences (realm overlap, RRset upserts) cannot interleave; on PostgreSQL the
services take advisory locks (see ``Database.lock``).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from dnsgate.db.group_commit import GroupCommit
from dnsgate.db.process_locks import ProcessLocks
from dnsgate.db.raw import Executor, Raw, Tx, dialect

_IMMEDIATE = "dnsgate_immediate"
log = logging.getLogger("dnsgate.db")


def zone_lock_key(zone: str) -> str:
    """The one lock key that serializes the writers of a zone (``Database.lock``)."""
    return f"zone:{zone}"


def _lock_id(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)


class Database:
    """One engine and the two ways to use it: ``read()`` and ``write()``."""

    def __init__(self, url: str, *, echo: bool = False,
                 process_locks: ProcessLocks | None = None) -> None:
        """``process_locks``: set when several processes of this node write
        (``serve --workers``): their hot write transactions take turns, so
        commits and their hooks (the DNS relay) come in one order; on SQLite
        they also stand in for PostgreSQL's advisory locks."""
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self._process_locks = process_locks
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
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
        #: Write transactions of concurrent requests committed together (hot paths).
        self.group_commit = GroupCommit(self)
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
            for hook in self._commit_hooks:
                hook(session.info)
            session.info.clear()

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
    def transaction(self, *, write: bool) -> Iterator[Tx]:
        """A hot-path transaction on a pooled driver connection (see ``raw.Tx``).

        ``write=True`` takes SQLite's write lock at BEGIN, like ``write()``;
        the commit hooks run after a successful commit, as for a Session. A
        read on SQLite runs its statements in autocommit: each is atomic, and
        the hot reads are one statement.
        """
        gate = self._process_locks if write else None
        if gate is not None:
            gate.enter_write()
        try:
            pooled = self.engine.raw_connection()
            driver: Any = pooled.driver_connection
            tx = Tx(driver, dialect(is_sqlite=self.is_sqlite))
            try:
                if self.is_sqlite and write:
                    driver.execute("BEGIN IMMEDIATE")
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
            # Inside the gate: the next worker's commit comes after what these
            # hooks hand on (the DNS relay delivers changes in serial order).
            if tx.info and write:
                for hook in self._commit_hooks:
                    hook(tx.info)
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
        cur.execute("PRAGMA busy_timeout=30000")
        if db.checkpoints_in_background:
            cur.execute("PRAGMA wal_autocheckpoint=0")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        # straight to the driver: this runs on every request
        conn.connection.driver_connection.execute(  # type: ignore[union-attr]
            "BEGIN IMMEDIATE" if immediate else "BEGIN")
