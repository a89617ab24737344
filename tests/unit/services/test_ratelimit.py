"""services.ratelimit: the GCRA limiter, in process and shared by forked workers."""

from __future__ import annotations

import asyncio
import os

import pytest

from dnsgate.domain.errors import RateLimited
from dnsgate.throttling.ratelimit import RateLimiter, SharedArrivals


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def hits(limiter: RateLimiter, name: str, key: str, n: int) -> int:
    allowed = 0
    for _ in range(n):
        try:
            await limiter.hit(name, key)
            allowed += 1
        except RateLimited:
            pass
    return allowed


async def test_a_full_window_then_one_per_interval():
    clock = Clock()
    limiter = RateLimiter({"w": "3/minute"}, clock=clock)
    assert await hits(limiter, "w", "a", 10) == 3
    clock.now += 19.9
    assert await hits(limiter, "w", "a", 1) == 0
    clock.now += 0.2
    assert await hits(limiter, "w", "a", 5) == 1


async def test_retry_after_says_when_the_next_hit_fits():
    clock = Clock()
    limiter = RateLimiter({"w": "2/minute"}, clock=clock)
    await hits(limiter, "w", "a", 2)
    with pytest.raises(RateLimited) as refused:
        await limiter.hit("w", "a")
    assert refused.value.retry_after == 30
    clock.now += 30
    await limiter.hit("w", "a")


async def test_a_hit_in_memory_never_suspends():
    """No await inside: the hot path costs the loop no extra turn."""
    limiter = RateLimiter({"w": "1/minute"}, clock=Clock())
    step = limiter.hit("w", "a").__await__()
    with pytest.raises(StopIteration):
        step.send(None)


def test_only_memory_and_redis_storages_are_taken():
    with pytest.raises(ValueError, match="memcached"):
        RateLimiter({"w": "1/minute"}, "memcached://127.0.0.1:11211")


async def test_keys_and_names_are_independent():
    clock = Clock()
    limiter = RateLimiter({"w": "1/minute", "login": "1/minute"}, clock=clock)
    await limiter.hit("w", "a")
    await limiter.hit("w", "b")
    await limiter.hit("login", "a")
    with pytest.raises(RateLimited):
        await limiter.hit("w", "a")
    await limiter.hit("unlimited", "a")  # a name without a limit never refuses


async def test_every_limit_of_a_name_applies():
    clock = Clock()
    limiter = RateLimiter({"w": "5/second;6/minute"}, clock=clock)
    assert await hits(limiter, "w", "a", 10) == 5
    clock.now += 1
    assert await hits(limiter, "w", "a", 10) == 1  # the minute limit has one left


# --- shared by the workers of one node (serve --workers) ---------------------

async def test_the_shared_table_behaves_like_the_local_one():
    clock = Clock()
    limiter = RateLimiter({"w": "3/minute"}, clock=clock, shared_memory=SharedArrivals(1024))
    assert await hits(limiter, "w", "a", 10) == 3
    assert await hits(limiter, "w", "b", 10) == 3  # keys apart
    clock.now += 20.1
    assert await hits(limiter, "w", "a", 5) == 1


def test_a_forked_worker_spends_the_same_limit():
    table = SharedArrivals(1024)
    limiter = RateLimiter({"w": "3/minute"}, shared_memory=table)
    pid = os.fork()  # outside any event loop: each process runs its own
    if pid == 0:  # the other worker: takes two of the three
        code = 0 if asyncio.run(hits(limiter, "w", "token-1", 2)) == 2 else 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert asyncio.run(hits(limiter, "w", "token-1", 5)) == 1
    assert asyncio.run(hits(limiter, "w", "token-2", 5)) == 3


async def test_a_full_table_forgets_the_key_due_soonest():
    clock = Clock()
    table = SharedArrivals(16)  # one probe run covers it all
    limiter = RateLimiter({"w": "1/minute"}, clock=clock, shared_memory=table)
    for index in range(16):
        clock.now += 1
        assert await hits(limiter, "w", f"k{index}", 1) == 1
    clock.now += 1
    assert await hits(limiter, "w", "newcomer", 1) == 1  # took k0's slot, the one due first
    assert await hits(limiter, "w", "k0", 1) == 1
    assert await hits(limiter, "w", "k15", 1) == 0  # the newest are still held
