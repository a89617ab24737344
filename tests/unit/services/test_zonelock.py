"""The zone write lock: one writer per zone at a time, other zones unaffected."""

from __future__ import annotations

import asyncio

from dnsgate.db.engine import Database
from dnsgate.db.zone_locks import ZoneLocks


async def test_one_writer_per_zone_and_zones_independent(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    locks = ZoneLocks()
    inside: dict[str, int] = {"a.test": 0, "b.test": 0}
    most: dict[str, int] = {"a.test": 0, "b.test": 0}
    overlap = asyncio.Event()

    async def writer(zone: str) -> None:
        async with locks.hold(db, zone):
            inside[zone] += 1
            most[zone] = max(most[zone], inside[zone])
            if inside["a.test"] and inside["b.test"]:
                overlap.set()
            await asyncio.sleep(0.01)
            inside[zone] -= 1

    await asyncio.gather(*(writer(z) for z in ["a.test", "b.test"] * 10))
    db.dispose()
    assert most == {"a.test": 1, "b.test": 1}
    assert overlap.is_set()  # different zones did run at the same time
