"""Writes to one zone of a provider backend, one at a time.

A provider change is a read-modify-write over the network (read the current
RRsets, decide create vs update, send the diff): two writers interleaving
would lose an update. An asyncio lock per zone serializes them within a
process; on PostgreSQL an advisory lock also serializes them across nodes,
and a file lock across the worker processes of one SQLite node.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from dnsgate.db.engine import Database, zone_lock_key


class ZoneLocks:
    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[tuple[int, str], asyncio.Lock] = (
            weakref.WeakValueDictionary())

    def _lock(self, zone: str) -> asyncio.Lock:
        key = (id(asyncio.get_running_loop()), zone)
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        return lock

    @asynccontextmanager
    async def hold(self, db: Database, zone: str) -> AsyncIterator[None]:
        async with self._lock(zone):
            release = await asyncio.to_thread(
                db.acquire_lock, zone_lock_key(zone)) if db.locks_across_processes else None
            try:
                yield
            finally:
                if release is not None:
                    await asyncio.to_thread(release)
