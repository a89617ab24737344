"""Whether requests hold the event loop: how long a cheap one takes meanwhile."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any


async def latencies_while(busy: Sequence[asyncio.Task[Any]],
                          probe: Callable[[], Awaitable[object]],
                          *, gap: float = 0.01) -> list[float]:
    """Seconds each ``probe()`` took, one every ``gap`` seconds until every task
    of ``busy`` is done (their exceptions are raised). Each is timed from when
    it was due, so a probe that could not even start (the loop was held) counts
    the wait too."""
    taken: list[float] = []
    due = time.perf_counter()
    while True:
        await probe()
        now = time.perf_counter()
        taken.append(now - due)
        if all(task.done() for task in busy):
            break
        due = now + gap
        await asyncio.sleep(gap)
    await asyncio.gather(*busy)
    return taken
