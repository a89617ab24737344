"""services.ratelimit: the in-process GCRA limiter."""

from __future__ import annotations

import pytest

from dnsgate.domain.errors import RateLimited
from dnsgate.services.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def hits(limiter: RateLimiter, name: str, key: str, n: int) -> int:
    allowed = 0
    for _ in range(n):
        try:
            limiter.hit(name, key)
            allowed += 1
        except RateLimited:
            pass
    return allowed


def test_a_full_window_then_one_per_interval():
    clock = Clock()
    limiter = RateLimiter({"w": "3/minute"}, clock=clock)
    assert hits(limiter, "w", "a", 10) == 3
    clock.now += 19.9
    assert hits(limiter, "w", "a", 1) == 0
    clock.now += 0.2
    assert hits(limiter, "w", "a", 5) == 1


def test_retry_after_says_when_the_next_hit_fits():
    clock = Clock()
    limiter = RateLimiter({"w": "2/minute"}, clock=clock)
    hits(limiter, "w", "a", 2)
    with pytest.raises(RateLimited) as refused:
        limiter.hit("w", "a")
    assert refused.value.retry_after == 30
    clock.now += 30
    limiter.hit("w", "a")


def test_keys_and_names_are_independent():
    clock = Clock()
    limiter = RateLimiter({"w": "1/minute", "login": "1/minute"}, clock=clock)
    limiter.hit("w", "a")
    limiter.hit("w", "b")
    limiter.hit("login", "a")
    with pytest.raises(RateLimited):
        limiter.hit("w", "a")
    limiter.hit("unlimited", "a")  # a name without a limit never refuses


def test_every_limit_of_a_name_applies():
    clock = Clock()
    limiter = RateLimiter({"w": "5/second;6/minute"}, clock=clock)
    assert hits(limiter, "w", "a", 10) == 5
    clock.now += 1
    assert hits(limiter, "w", "a", 10) == 1  # the minute limit has one left
