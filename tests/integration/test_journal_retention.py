"""Pruning the change journal keeps each zone's newest entries AND every young one."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from dnsgate.db import journal
from dnsgate.db.models import Zone, ZoneChange
from dnsgate.domain.records import RRset
from dnsgate.services import journal_retention

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
ACTOR = journal.Actor("system", "cli", None, None, "cli", None)


def write(env, zone: str, when: datetime) -> None:
    with env.db.write() as session:
        zone_id = session.scalar(select(Zone.id).where(Zone.name == zone))
        journal.append(session, zone_id=zone_id, zone=zone, steps=[journal.Step(
            f"h.{zone}", "A", None, RRset(f"h.{zone}", "A", 60, ("192.0.2.1",)))],
            actor=ACTOR, when=when, serial=None, builtin=False)


def seqs(env, zone: str) -> list[int]:
    with env.db.read() as session:
        return list(session.scalars(select(ZoneChange.seq).join(Zone, Zone.id == ZoneChange.zone_id)
                                    .where(Zone.name == zone).order_by(ZoneChange.seq)))


async def test_old_entries_beyond_the_newest_go_and_the_rest_stay(env, world) -> None:
    busy = await world.zone("busy.test")
    quiet = await world.zone("quiet.test")
    for day in range(10, 0, -1):  # entries 1..10, 10 days old .. 1 day old
        write(env, busy, NOW - timedelta(days=day))
    for _ in range(3):
        write(env, busy, NOW - timedelta(hours=1))  # entries 11..13: young
    for day in (30, 20):
        write(env, quiet, NOW - timedelta(days=day))  # old, but all it has
    clocked = dataclasses.replace(env, clock=lambda: NOW)
    removed = journal_retention.prune(clocked, keep_days=5, keep_changes=2)
    # busy: 1..5 are older than 5 days and not among the newest two; 6..13 stay
    assert seqs(env, busy) == list(range(6, 14))
    assert seqs(env, quiet) == [1, 2]
    assert removed == 5
    assert journal_retention.prune(clocked, keep_days=5, keep_changes=2) == 0
    write(env, busy, NOW)  # numbering goes on without reuse
    assert seqs(env, busy)[-1] == 14
