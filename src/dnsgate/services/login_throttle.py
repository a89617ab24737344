"""Growing delays after failed logins, on top of the flat rate limits.

Consecutive failures are counted per key (the web UI uses ``user|address``
and ``address``); after ``free`` of them each further attempt must wait
twice as long as the one before, up to ``cap``. A success clears its key.
Keyed by name *and* address, a stranger guessing an admin's name slows only
themselves down, never the admin at their own address.

Kept in memory: in this process, or with ``serve --workers`` in a table all
the workers share (``shared_failures``), so a guesser meets one count however
the connections are spread. With several nodes each keeps its own, and the
shared ``login_ip``/``login_user`` limits still bound the total.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, Protocol

from dnsgate.domain.errors import RateLimited
from dnsgate.services.shared_table import SharedTable

MAX_KEYS = 100_000
_FAILURES = "qd"  # a shared record's payload: consecutive failures, the last one's time


def shared_failures() -> SharedTable:
    """The table the workers of one node share (made before they fork)."""
    return SharedTable(_FAILURES, slots=1 << 16)


class _Failures(Protocol):
    """(consecutive failures, unix time of the last) per key; ``due``: when the
    record may be forgotten (its wait is over)."""

    def get(self, key: str) -> tuple[int, float] | None: ...
    def put(self, key: str, count: int, last: float, due: float) -> None: ...
    def discard(self, key: str) -> None: ...


class _LocalFailures:
    """In this process; records past their wait go once there are MAX_KEYS."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[int, float, float]] = {}

    def get(self, key: str) -> tuple[int, float] | None:
        seen = self._seen.get(key)
        return None if seen is None else (seen[0], seen[1])

    def put(self, key: str, count: int, last: float, due: float) -> None:
        if len(self._seen) >= MAX_KEYS and key not in self._seen:
            self._seen = {k: v for k, v in self._seen.items() if v[2] > last}
        self._seen[key] = (count, last, due)

    def discard(self, key: str) -> None:
        self._seen.pop(key, None)


class _SharedFailures:
    def __init__(self, table: SharedTable) -> None:
        self._table = table

    def get(self, key: str) -> tuple[int, float] | None:
        record = self._table.get(key)
        return None if record is None else (int(record[1]), float(record[2]))

    def put(self, key: str, count: int, last: float, due: float) -> None:
        self._table.put(key, last, due, count, last)

    def discard(self, key: str) -> None:
        self._table.discard(key)


class LoginThrottle:
    """Counts consecutive failures per key and refuses attempts that come too soon."""

    def __init__(self, clock: Callable[[], datetime], *, free: int = 3,
                 base: timedelta = timedelta(seconds=1),
                 cap: timedelta = timedelta(minutes=15),
                 shared: SharedTable | None = None) -> None:
        """``shared``: the workers' table (``shared_failures``); None: this process's."""
        self._clock = clock
        self._free = free
        self._base = base
        self._cap = cap
        self._failures: _Failures = (_SharedFailures(shared) if shared is not None
                                     else _LocalFailures())
        self._guard: contextlib.AbstractContextManager[Any] = (
            shared.lock if shared is not None else contextlib.nullcontext())

    def delay(self, count: int) -> timedelta:
        """How long to wait after ``count`` consecutive failures."""
        if count < self._free:
            return timedelta(0)
        return min(self._cap, self._base * (1 << min(count - self._free, 32)))

    def check(self, keys: Iterable[str]) -> None:
        """Raise RateLimited if any key must still wait."""
        now = self._clock().timestamp()
        wait = 0.0
        with self._guard:
            for key in keys:
                seen = self._failures.get(key)
                if seen is not None:
                    count, last = seen
                    wait = max(wait, last + self.delay(count).total_seconds() - now)
        if wait > 0:
            raise RateLimited("too many failed attempts", retry_after=max(1, math.ceil(wait)))

    def failed(self, keys: Iterable[str]) -> None:
        now = self._clock().timestamp()
        with self._guard:
            for key in keys:
                seen = self._failures.get(key)
                count = (seen[0] if seen else 0) + 1
                self._failures.put(key, count, now, now + self.delay(count).total_seconds())

    def succeeded(self, keys: Iterable[str]) -> None:
        with self._guard:
            for key in keys:
                self._failures.discard(key)
