"""Small records by key in memory shared by one node's worker processes.

``serve --workers`` forks its workers after making the table, so they all see
one anonymous shared mapping: the rate limits' arrival times and the login
throttle's failure counts are kept there, and a client meets each of them
once, whichever worker its connection lands on.

An open-addressing table of fixed-size slots: an 8-byte key digest (0: free),
the time the record is *due* (after which it may be forgotten), and the
payload. A slot whose due time has passed is free again; when all probed
slots are live, the one due soonest is reused, so a full table forgets the
key that mattered least. One clock per table (the caller's ``now``).
"""

from __future__ import annotations

import hashlib
import math
import mmap
import multiprocessing
import struct
from typing import Any

_PROBES = 16
_HEAD = struct.Struct("=Qd")  # every slot starts with: key digest, due time


class SharedTable:
    """``(due, *payload)`` per key; ``payload`` is a ``struct`` format."""

    def __init__(self, payload: str = "", slots: int = 1 << 18) -> None:
        self._slot = struct.Struct(_HEAD.format + payload)
        self._slots = slots
        self._map = mmap.mmap(-1, slots * self._slot.size)  # MAP_SHARED: seen by children
        #: Held around a read-modify-write, across the processes.
        self.lock = multiprocessing.get_context("fork").Lock()

    @staticmethod
    def _digest(key: str) -> int:
        digest = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")
        return digest or 1

    def _find(self, digest: int, now: float) -> tuple[int, bool]:
        """(slot offset, whether it holds ``digest``): its slot, else the one to take."""
        start = digest % self._slots
        size = self._slot.size
        spare, spare_due = -1, math.inf  # a free slot counts as due at -inf
        for probe in range(_PROBES):
            offset = ((start + probe) % self._slots) * size
            held, due = _HEAD.unpack_from(self._map, offset)
            if held == digest:
                return offset, True
            if held == 0 or due <= now:
                due = -math.inf
            if due < spare_due:
                spare, spare_due = offset, due
        return spare, False

    def get(self, key: str) -> tuple[Any, ...] | None:
        """``(due, *payload)`` of ``key``, or None."""
        offset, found = self._find(self._digest(key), -math.inf)
        return self._slot.unpack_from(self._map, offset)[1:] if found else None

    def due(self, key: str) -> float | None:
        """Just the due time of ``key``'s record, or None (the rate limits' hot path)."""
        offset, found = self._find(self._digest(key), -math.inf)
        return float(_HEAD.unpack_from(self._map, offset)[1]) if found else None

    def put(self, key: str, now: float, due: float, *payload: Any) -> None:
        """Keep ``key``'s record (at least) until ``due``."""
        digest = self._digest(key)
        offset, _ = self._find(digest, now)
        self._slot.pack_into(self._map, offset, digest, due, *payload)

    def discard(self, key: str) -> None:
        offset, found = self._find(self._digest(key), -math.inf)
        if found:
            _HEAD.pack_into(self._map, offset, 0, 0.0)
