"""Locks shared by the worker processes of one node on SQLite (``serve --workers``).

SQLite lets one process write at a time and makes the others wait in its busy
handler, which sleeps in whole milliseconds (1, 2, 5, 10 ms ...) while the
event loop of the waiting worker stands still. A kernel file lock (``flock``)
wakes the waiter the moment the holder lets go. The gate is only a fast path:
SQLite's own locking still guarantees correctness for anyone who skips it
(the CLI, a Session write in a thread).

The same directory holds one lock file per lock key, the cross-process form of
PostgreSQL's advisory locks (a provider's read-modify-write of a zone).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from collections.abc import Callable
from pathlib import Path


class ProcessLocks:
    """``flock`` locks in ``directory``, one file per key (created as needed)."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self._gate_fd: int | None = None
        # flock belongs to the open file, which this process's threads share:
        # a thread lock keeps them from releasing each other's hold.
        self._gate_thread_lock = threading.Lock()

    def _path(self, key: str) -> Path:
        return self.directory / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.lock"

    def enter_write(self) -> None:
        """Wait until no other worker is inside a write transaction."""
        self._gate_thread_lock.acquire()
        try:
            if self._gate_fd is None:
                self._gate_fd = os.open(self._path("sqlite-write"), os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._gate_fd, fcntl.LOCK_EX)
        except BaseException:
            self._gate_thread_lock.release()
            raise

    def leave_write(self) -> None:
        try:
            if self._gate_fd is not None:
                fcntl.flock(self._gate_fd, fcntl.LOCK_UN)
        finally:
            self._gate_thread_lock.release()

    def acquire(self, key: str) -> Callable[[], None]:
        """Hold the lock ``key`` (blocking: call from a worker thread); returns
        the function that releases it. Each hold opens its own file, so holds
        exclude each other within a process too."""
        fd = os.open(self._path(key), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise

        def release() -> None:
            os.close(fd)  # closing the file drops its lock
        return release
