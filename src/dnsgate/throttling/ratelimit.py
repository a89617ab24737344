"""Rate limits: named limits such as ``token_write`` -> ``120/minute``, keyed per caller.

On one node the limits are kept in memory with GCRA (one float per key, no
background thread: the ``limits`` library's memory storage runs an expiry
timer that costs milliseconds per request at 100k keys). The worker processes
of ``serve --workers`` share that memory (``SharedArrivals``), so a client
gets its limit once, whichever worker its connection lands on.

With a Redis storage (``redis://``, ``rediss://``, ``redis+unix://``) the
nodes share the limits through the ``limits`` library's asyncio strategies
on redis-py's asyncio client: ``hit`` awaits Redis, and the event loop serves
other requests meanwhile instead of standing still for the round trip.
Measured (Redis 7 on loopback, Python 3.11, tests/unit/services/
test_ratelimit_redis.py): a hit takes ~120 us from call to answer, of which
~90 us are the loop's own CPU (redis-py's asyncio client; the socket send is
the most of it); the wait for Redis, a network round trip between machines,
leaves the loop free. A hit in memory is ~3 us.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from typing import Any, Protocol, cast

import redis.asyncio
from limits import RateLimitItem, parse_many
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter

from dnsgate.domain.errors import RateLimited
from dnsgate.observability import metrics
from dnsgate.throttling.shared_table import SharedTable

#: Storage URI schemes that mean Redis (each also with ``async+`` in front).
REDIS_SCHEMES = ("redis", "rediss", "redis+unix")
#: Seconds to connect to Redis or wait for its answer before a hit fails.
REDIS_TIMEOUT = 2.0

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
        """``storage_uri``: ``memory://``, or a Redis URI shared by the nodes.
        ``shared_memory``: the table of ``serve --workers`` (memory storage only)."""
        parsed = {name: parse_many(spec) for name, spec in limits.items() if spec}
        self._items = parsed
        self._clock = clock
        self._guard: contextlib.AbstractContextManager[Any] = (
            shared_memory.lock if shared_memory is not None else contextlib.nullcontext())
        self._local: dict[str, list[_Gcra]] = {}
        self._pool: redis.asyncio.ConnectionPool | None = None
        self._remote: MovingWindowRateLimiter | None = None
        if storage_uri.startswith("memory"):
            self._local = {
                name: [_Gcra(item, shared_memory, f"{name}#{index}|") if shared_memory
                       else _Gcra(item, LocalArrivals(), "")
                       for index, item in enumerate(items)]
                for name, items in parsed.items()}
            return
        uri = storage_uri.removeprefix("async+")
        scheme = uri.partition("://")[0]
        if scheme not in REDIS_SCHEMES:
            raise ValueError(f"rate limit storage {storage_uri!r}: expected memory:// or "
                             f"one of {', '.join(s + '://' for s in REDIS_SCHEMES)}")
        # Our own pool, so that ``aclose`` can close its connections.
        self._pool = redis.asyncio.ConnectionPool.from_url(
            uri.replace("redis+unix://", "unix://"),
            socket_connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT)
        self._remote = MovingWindowRateLimiter(RedisStorage(  # limits types its options as
            "async+" + uri, implementation="redispy",        # scalars; redis-py takes a pool
            connection_pool=cast(Any, self._pool)))

    async def hit(self, name: str, key: str) -> None:
        """Count one event; raise RateLimited once any limit of ``name`` is spent.

        In memory this never awaits; with Redis it awaits each limit's round
        trip (a Redis error propagates: no limit is silently skipped).
        """
        if self._remote is None:
            self._hit_here(name, key)
            return
        for item in self._items.get(name, ()):
            if not await self._remote.hit(item, name, key):
                reset, _ = await self._remote.get_window_stats(item, name, key)
                metrics.count_rate_limit_refusal(name)
                raise RateLimited("rate limit exceeded",
                                  retry_after=max(1, math.ceil(reset - time.time())))

    def _hit_here(self, name: str, key: str) -> None:
        """GCRA in this node's memory: every limit of ``name`` or none is spent."""
        cells = self._local.get(name, ())
        with self._guard:
            now = self._clock()
            arrivals = [cell.arrival(key, now) for cell in cells]
            wait = max((cell.wait(tat, now) for cell, tat in zip(cells, arrivals, strict=True)),
                       default=0.0)
            if wait:
                metrics.count_rate_limit_refusal(name)
                raise RateLimited("rate limit exceeded", retry_after=max(1, math.ceil(wait)))
            for cell, tat in zip(cells, arrivals, strict=True):
                cell.take(key, tat, now)

    async def aclose(self) -> None:
        """Close the connections to Redis, if any (at shutdown)."""
        if self._pool is not None:
            await self._pool.aclose()
