"""Rate limits: named limits such as ``token_write`` -> ``120/minute``, keyed per caller.

On one node the limits are kept in process with GCRA (one float per key, no
background thread: the ``limits`` library's memory storage runs an expiry
timer that costs milliseconds per request at 100k keys). With a
``redis://`` storage the ``limits`` library shares them between nodes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from dnsgate.domain.errors import RateLimited

MAX_KEYS = 200_000


class _Gcra:
    """Generic cell rate algorithm for one limit: ``hits`` per ``period`` seconds."""

    def __init__(self, item: RateLimitItem) -> None:
        self.interval = item.get_expiry() / item.amount  # seconds per hit
        self.burst = item.get_expiry()  # a full window may be spent at once
        self.tat: dict[str, float] = {}  # theoretical arrival time per key

    def wait(self, key: str, now: float) -> float:
        """Seconds until a hit would be allowed (0: now)."""
        tat = max(self.tat.get(key, now), now)
        over = tat - now - (self.burst - self.interval)
        return over if over > 1e-9 else 0.0  # tolerate float error in interval sums

    def take(self, key: str, now: float) -> None:
        """Count a hit that every limit allowed."""
        if len(self.tat) >= MAX_KEYS:
            self._forget_idle(now)
        self.tat[key] = max(self.tat.get(key, now), now) + self.interval

    def _forget_idle(self, now: float) -> None:
        self.tat = {k: t for k, t in self.tat.items() if t > now}


class RateLimiter:
    """Counts events per (limit name, key) and refuses past the limit."""

    def __init__(self, limits: dict[str, str], storage_uri: str = "memory://",
                 clock: Callable[[], float] = time.monotonic) -> None:
        parsed = {name: parse_many(spec) for name, spec in limits.items() if spec}
        self._shared: MovingWindowRateLimiter | None = None
        self._items = parsed
        self._clock = clock
        if storage_uri.startswith("memory"):
            self._local = {name: [_Gcra(item) for item in items]
                           for name, items in parsed.items()}
        else:
            self._local = {}
            self._shared = MovingWindowRateLimiter(storage_from_string(storage_uri))

    def hit(self, name: str, key: str) -> None:
        """Count one event; raise RateLimited once any limit of ``name`` is spent."""
        if self._shared is None:
            cells = self._local.get(name, ())
            now = self._clock()
            wait = max((cell.wait(key, now) for cell in cells), default=0.0)
            if wait:
                raise RateLimited("rate limit exceeded", retry_after=max(1, math.ceil(wait)))
            for cell in cells:
                cell.take(key, now)
            return
        for item in self._items.get(name, ()):
            if not self._shared.hit(item, name, key):
                reset, _ = self._shared.get_window_stats(item, name, key)
                raise RateLimited("rate limit exceeded",
                                  retry_after=max(1, math.ceil(reset - time.time())))
