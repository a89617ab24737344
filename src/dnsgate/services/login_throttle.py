"""Growing delays after failed logins, on top of the flat rate limits.

Consecutive failures are counted per key (the web UI uses ``user|address``
and ``address``); after ``free`` of them each further attempt must wait
twice as long as the one before, up to ``cap``. A success clears its key.
Keyed by name *and* address, a stranger guessing an admin's name slows only
themselves down, never the admin at their own address.

Kept in process (like the memory rate limiter): with several nodes each
keeps its own count, and the shared ``login_ip``/``login_user`` limits still
bound the total.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from dnsgate.domain.errors import RateLimited

MAX_KEYS = 100_000


@dataclass(slots=True)
class _Failures:
    count: int
    last: datetime


class LoginThrottle:
    """Counts consecutive failures per key and refuses attempts that come too soon."""

    def __init__(self, clock: Callable[[], datetime], *, free: int = 3,
                 base: timedelta = timedelta(seconds=1),
                 cap: timedelta = timedelta(minutes=15)) -> None:
        self._clock = clock
        self._free = free
        self._base = base
        self._cap = cap
        self._seen: dict[str, _Failures] = {}

    def delay(self, count: int) -> timedelta:
        """How long to wait after ``count`` consecutive failures."""
        if count < self._free:
            return timedelta(0)
        return min(self._cap, self._base * (1 << min(count - self._free, 32)))

    def check(self, keys: Iterable[str]) -> None:
        """Raise RateLimited if any key must still wait."""
        now = self._clock()
        wait = timedelta(0)
        for key in keys:
            seen = self._seen.get(key)
            if seen is not None:
                wait = max(wait, seen.last + self.delay(seen.count) - now)
        if wait > timedelta(0):
            raise RateLimited("too many failed attempts",
                              retry_after=max(1, math.ceil(wait.total_seconds())))

    def failed(self, keys: Iterable[str]) -> None:
        now = self._clock()
        if len(self._seen) >= MAX_KEYS:
            self._seen = {k: v for k, v in self._seen.items()
                          if v.last + self.delay(v.count) > now}
        for key in keys:
            seen = self._seen.get(key)
            self._seen[key] = _Failures((seen.count if seen else 0) + 1, now)

    def succeeded(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._seen.pop(key, None)
