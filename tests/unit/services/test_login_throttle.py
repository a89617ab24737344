"""The login throttle, in one process and shared by forked workers."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from dnsgate.domain.errors import RateLimited
from dnsgate.services.login_throttle import LoginThrottle, shared_failures

KEYS = ("user:alice|192.0.2.1", "ip:192.0.2.1")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["local", "shared"])
def throttled(request) -> tuple[LoginThrottle, Clock]:
    clock = Clock()
    shared = shared_failures() if request.param == "shared" else None
    return LoginThrottle(clock, free=3, base=timedelta(seconds=1), shared=shared), clock


def _refused_for(throttle: LoginThrottle, keys: tuple[str, ...]) -> int:
    """Retry-After seconds of a refused check (0: allowed)."""
    try:
        throttle.check(keys)
    except RateLimited as refused:
        return refused.retry_after
    return 0


def test_waits_double_after_the_free_failures(throttled):
    throttle, clock = throttled
    waits = []
    for _ in range(6):
        waits.append(_refused_for(throttle, KEYS))
        throttle.failed(KEYS)
        clock.now += timedelta(milliseconds=1)
    assert waits == [0, 0, 0, 1, 2, 4]
    clock.now += timedelta(seconds=8)  # the 8 s after the sixth failure are over
    assert _refused_for(throttle, KEYS) == 0


def test_a_success_clears_only_its_own_key(throttled):
    throttle, _ = throttled
    for _ in range(4):
        throttle.failed(KEYS)
    throttle.succeeded(KEYS[:1])
    assert _refused_for(throttle, KEYS[:1]) == 0
    assert _refused_for(throttle, KEYS[1:]) == 2  # the address keeps its count


def test_a_forked_worker_counts_for_the_others():
    clock = Clock()
    throttle = LoginThrottle(clock, free=3, shared=shared_failures())
    throttle.failed(KEYS)
    pid = os.fork()
    if pid == 0:  # the other worker: two more failures of the same guesser
        throttle.failed(KEYS)
        throttle.failed(KEYS)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert _refused_for(throttle, KEYS) == 1
