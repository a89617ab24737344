"""Growing delays after failed logins, on top of the flat rate limits.

Consecutive failures are counted per key (the web UI uses ``user|address``
and ``address``); after ``free`` of them each further attempt must wait
twice as long as the one before, up to ``cap``. A success clears its key.
Keyed by name *and* address, a stranger guessing an admin's name slows only
themselves down, never the admin at their own address.

Kept in a fixed-size table in memory (``SharedTable``: a full table forgets
the key due soonest). With ``serve --workers`` all the workers share one, so
a guesser meets one count however the connections are spread. With several
nodes each keeps its own, and the shared ``login_ip``/``login_user`` limits
still bound the total.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from dnsgate.domain.errors import RateLimited
from dnsgate.services.shared_table import SharedTable

#: A record's payload: consecutive failures, the unix time of the last one. It
#: is due (may be forgotten) once its wait is over.
_FAILURES = "qd"


def shared_failures() -> SharedTable:
    """A table of failure counts; made before the fork, the workers share it."""
    return SharedTable(_FAILURES, slots=1 << 16)


class LoginThrottle:
    """Counts consecutive failures per key and refuses attempts that come too soon."""

    def __init__(self, clock: Callable[[], datetime], *, free: int = 3,
                 base: timedelta = timedelta(seconds=1),
                 cap: timedelta = timedelta(minutes=15),
                 shared: SharedTable | None = None) -> None:
        """``shared``: the workers' table (``shared_failures``); None: one of
        this process's own, the same kind of table."""
        self._clock = clock
        self._free = free
        self._base = base
        self._cap = cap
        self._failures = shared if shared is not None else shared_failures()

    def delay(self, count: int) -> timedelta:
        """How long to wait after ``count`` consecutive failures."""
        if count < self._free:
            return timedelta(0)
        return min(self._cap, self._base * (1 << min(count - self._free, 32)))

    def check(self, keys: Iterable[str]) -> None:
        """Raise RateLimited if any key must still wait."""
        now = self._clock().timestamp()
        wait = 0.0
        with self._failures.lock:
            for key in keys:
                seen = self._failures.get(key)
                if seen is not None:
                    _, count, last = seen
                    wait = max(wait, last + self.delay(count).total_seconds() - now)
        if wait > 0:
            raise RateLimited("too many failed attempts", retry_after=max(1, math.ceil(wait)))

    def failed(self, keys: Iterable[str]) -> None:
        now = self._clock().timestamp()
        with self._failures.lock:
            for key in keys:
                seen = self._failures.get(key)
                count = (seen[1] if seen else 0) + 1
                self._failures.put(key, now, now + self.delay(count).total_seconds(), count, now)

    def succeeded(self, keys: Iterable[str]) -> None:
        with self._failures.lock:
            for key in keys:
                self._failures.discard(key)
