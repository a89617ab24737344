"""Rate limits (``limits``: in memory on one node, Redis when shared)."""

from __future__ import annotations

import math
import time

from limits import parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from dnsgate.domain.errors import RateLimited


class RateLimiter:
    """Named limits, e.g. ``token_write`` -> ``120/minute``, keyed per caller."""

    def __init__(self, limits: dict[str, str], storage_uri: str = "memory://") -> None:
        self._limits = {name: parse_many(spec) for name, spec in limits.items() if spec}
        self._strategy = MovingWindowRateLimiter(storage_from_string(storage_uri))

    def hit(self, name: str, key: str) -> None:
        """Count one event; raise RateLimited once any limit of ``name`` is spent."""
        for item in self._limits.get(name, ()):
            if not self._strategy.hit(item, name, key):
                reset, _ = self._strategy.get_window_stats(item, name, key)
                retry = max(1, math.ceil(reset - time.time()))
                raise RateLimited("rate limit exceeded", retry_after=retry)
