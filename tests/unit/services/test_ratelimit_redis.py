"""services.ratelimit on a real Redis: the limits of several nodes, and a loop
that never waits for Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from redis.exceptions import ConnectionError as RedisDown
from tests.support.redis import RedisServer, redis_server

from dnsgate.domain.errors import RateLimited
from dnsgate.throttling.ratelimit import RateLimiter

Nodes = Callable[[dict[str, str]], RateLimiter]


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


@pytest.fixture
async def node(server: RedisServer) -> AsyncIterator[Nodes]:
    """Makes limiters on the one Redis, as separate nodes would have (emptied first)."""
    assert server.command("FLUSHALL") == "+OK"
    made: list[RateLimiter] = []

    def make(limits: dict[str, str]) -> RateLimiter:
        made.append(RateLimiter(limits, server.url))
        return made[-1]

    yield make
    for limiter in made:
        await limiter.aclose()


async def hits(limiter: RateLimiter, name: str, key: str, n: int) -> int:
    allowed = 0
    for _ in range(n):
        try:
            await limiter.hit(name, key)
            allowed += 1
        except RateLimited:
            pass
    return allowed


async def test_a_limit_counts_across_two_nodes(node: Nodes):
    first, second = node({"w": "3/minute"}), node({"w": "3/minute"})
    assert await hits(first, "w", "token-1", 2) == 2
    assert await hits(second, "w", "token-1", 5) == 1  # one left of the three
    with pytest.raises(RateLimited) as refused:
        await first.hit("w", "token-1")
    assert 1 <= refused.value.retry_after <= 60
    assert await hits(second, "w", "token-2", 5) == 3  # keys apart
    other = node({"login": "3/minute"})
    assert await hits(other, "login", "token-1", 5) == 3  # names apart


async def test_every_limit_of_a_name_applies(node: Nodes):
    first, second = node({"w": "2/second;3/minute"}), node({"w": "2/second;3/minute"})
    assert await hits(first, "w", "a", 5) == 2
    await asyncio.sleep(1.05)
    assert await hits(second, "w", "a", 5) == 1  # the minute limit had one left


async def test_a_hit_waiting_for_redis_leaves_the_loop_free(node: Nodes, server: RedisServer):
    """Redis stands still for 0.3 s; the loop goes on serving meanwhile (a
    blocking client would stop it for those 0.3 s)."""
    limiter = node({"w": "100/minute"})
    await limiter.hit("w", "warm-up")  # connected
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        await asyncio.sleep(0.02)
        assert server.command("CLIENT", "PAUSE", "300", "ALL") == "+OK"
        started, before = time.monotonic(), ticks
        await limiter.hit("w", "paused")
        waited, ticked = time.monotonic() - started, ticks - before
    finally:
        ticker.cancel()
    assert waited >= 0.25  # the hit did wait for Redis ...
    assert ticked >= 10  # ... and the loop ran other work all along


async def test_one_hit_costs_the_loop_little(node: Nodes, record_property):
    """The loop's own time per hit (CPU time of this one-threaded process:
    redis-py and limits, the socket calls; not the wait for Redis)."""
    limiter = node({"w": "1000000/minute"})
    for index in range(100):
        await limiter.hit("w", f"k{index % 10}")
    count = 1000
    cpu, wall = time.process_time(), time.perf_counter()
    for index in range(count):
        await limiter.hit("w", f"k{index % 10}")
    cpu_us = (time.process_time() - cpu) / count * 1e6
    wall_us = (time.perf_counter() - wall) / count * 1e6
    record_property("loop_cpu_us_per_hit", round(cpu_us, 1))
    record_property("wall_us_per_hit", round(wall_us, 1))
    print(f"redis hit: {cpu_us:.1f} us of loop CPU, {wall_us:.1f} us call to answer")
    assert cpu_us < 500  # ~85 us here; a connection per hit would cost several times that


async def test_an_unreachable_redis_fails_the_hit():
    """No silent pass: without Redis the limit cannot be checked, and the hit says so."""
    with redis_server() as gone:
        url = gone.url
    limiter = RateLimiter({"w": "3/minute"}, url)
    try:
        with pytest.raises(RedisDown):
            await limiter.hit("w", "a")
    finally:
        await limiter.aclose()
