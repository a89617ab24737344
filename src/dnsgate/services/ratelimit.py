"""Rate limits: named limits such as ``token_write`` -> ``120/minute``, keyed per caller.

On one node the limits are kept in memory with GCRA (one float per key, no
background thread: the ``limits`` library's memory storage runs an expiry
timer that costs milliseconds per request at 100k keys). The worker processes
of ``serve --workers`` share that memory (``SharedArrivals``), so a client
gets its limit once, whichever worker its connection lands on. With a
``redis://`` storage the ``limits`` library shares them between nodes.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from typing import Any, Protocol

from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from dnsgate.domain.errors import RateLimited
from dnsgate.services.shared_table import SharedTable

MAX_KEYS = 200_000


class Arrivals(Protocol):
    """Theoretical arrival time per key (GCRA's one number)."""

    def get(self, key: str) -> float | None: ...
    def put(self, key: str, tat: float, now: float) -> None: ...


class LocalArrivals:
    """In this process's memory; idle keys are dropped once there are MAX_KEYS."""

    def __init__(self) -> None:
        self._tat: dict[str, float] = {}

    def get(self, key: str) -> float | None:
        return self._tat.get(key)

    def put(self, key: str, tat: float, now: float) -> None:
        if len(self._tat) >= MAX_KEYS and key not in self._tat:
            self._tat = {k: t for k, t in self._tat.items() if t > now}
        self._tat[key] = tat


class SharedArrivals:
    """Arrival times in a ``SharedTable``, for processes forked after it was
    made (one node's workers). A key's record is due at its arrival time: past
    it, the key would start afresh anyway. Time is ``time.monotonic()``, one
    clock for every process of the machine."""

    def __init__(self, slots: int = 1 << 18) -> None:
        self._table = SharedTable(slots=slots)
        #: One check-and-take at a time across the processes.
        self.lock = self._table.lock

    def get(self, key: str) -> float | None:
        return self._table.due(key)

    def put(self, key: str, tat: float, now: float) -> None:
        self._table.put(key, now, tat)


class _Gcra:
    """Generic cell rate algorithm for one limit: ``hits`` per ``period`` seconds."""

    def __init__(self, item: RateLimitItem, arrivals: Arrivals, prefix: str) -> None:
        self.interval = item.get_expiry() / item.amount  # seconds per hit
        self.burst = item.get_expiry()  # a full window may be spent at once
        self.arrivals = arrivals
        self.prefix = prefix  # a table shared by several limits tells their keys apart

    def arrival(self, key: str, now: float) -> float:
        """The key's theoretical arrival time, ``now`` if it has none pending."""
        tat = self.arrivals.get(self.prefix + key)
        return now if tat is None or tat < now else tat

    def wait(self, tat: float, now: float) -> float:
        """Seconds until a hit would be allowed (0: now)."""
        over = tat - now - (self.burst - self.interval)
        return over if over > 1e-9 else 0.0  # tolerate float error in interval sums

    def take(self, key: str, tat: float, now: float) -> None:
        """Count a hit that every limit allowed."""
        self.arrivals.put(self.prefix + key, tat + self.interval, now)


class RateLimiter:
    """Counts events per (limit name, key) and refuses past the limit."""

    def __init__(self, limits: dict[str, str], storage_uri: str = "memory://",
                 clock: Callable[[], float] = time.monotonic,
                 shared_memory: SharedArrivals | None = None) -> None:
        """``shared_memory``: the table of ``serve --workers`` (memory storage only)."""
        parsed = {name: parse_many(spec) for name, spec in limits.items() if spec}
        self._shared: MovingWindowRateLimiter | None = None
        self._items = parsed
        self._clock = clock
        self._guard: contextlib.AbstractContextManager[Any] = (
            shared_memory.lock if shared_memory is not None else contextlib.nullcontext())
        if storage_uri.startswith("memory"):
            self._local = {
                name: [_Gcra(item, shared_memory, f"{name}#{index}|") if shared_memory
                       else _Gcra(item, LocalArrivals(), "")
                       for index, item in enumerate(items)]
                for name, items in parsed.items()}
        else:
            self._local = {}
            self._shared = MovingWindowRateLimiter(storage_from_string(storage_uri))

    def hit(self, name: str, key: str) -> None:
        """Count one event; raise RateLimited once any limit of ``name`` is spent."""
        if self._shared is None:
            cells = self._local.get(name, ())
            with self._guard:
                now = self._clock()
                arrivals = [cell.arrival(key, now) for cell in cells]
                wait = max((cell.wait(tat, now) for cell, tat in zip(cells, arrivals, strict=True)),
                           default=0.0)
                if wait:
                    raise RateLimited("rate limit exceeded",
                                      retry_after=max(1, math.ceil(wait)))
                for cell, tat in zip(cells, arrivals, strict=True):
                    cell.take(key, tat, now)
            return
        for item in self._items.get(name, ()):
            if not self._shared.hit(item, name, key):
                reset, _ = self._shared.get_window_stats(item, name, key)
                raise RateLimited("rate limit exceeded",
                                  retry_after=max(1, math.ceil(reset - time.time())))
