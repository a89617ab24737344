"""Pruning the change journal: each zone keeps its newest ``keep_changes``
entries and every entry younger than ``keep_days`` (both promises hold: an
entry goes only when it is old enough AND not among the newest).

History, undo and IXFR reach back exactly as far as the journal does: an
IXFR from an older serial gets the whole zone, an undo of a pruned change
is no longer offered. Runs hourly in every serving process (idempotent, so
several workers or nodes doing it at once is harmless).
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import func, select

from dnsgate.db import journal
from dnsgate.db.models import ZoneChange
from dnsgate.observability import metrics
from dnsgate.services.context import Env

log = logging.getLogger("dnsgate.journal")
EVERY_SECONDS = 3600.0


def prune(env: Env, *, keep_days: int, keep_changes: int) -> int:
    """Prune every zone's journal now; the number of entries removed."""
    with env.db.read() as session:
        zone_ids = list(session.scalars(
            select(ZoneChange.zone_id).group_by(ZoneChange.zone_id)
            .having(func.count() > keep_changes)))
    removed = 0
    for zone_id in zone_ids:  # one short transaction per zone: writers wait little
        with env.db.write() as session:
            removed += journal.prune(session, zone_id, now=env.clock(), keep_days=keep_days,
                                     keep_count=keep_changes)
    return removed


async def prune_hourly(env: Env, *, keep_days: int, keep_changes: int) -> None:
    while True:
        try:
            removed = await asyncio.to_thread(prune, env, keep_days=keep_days,
                                              keep_changes=keep_changes)
            if removed:
                log.info("pruned %d change journal entries", removed)
            metrics.count_job("journal_prune", "ok")
        except Exception:
            metrics.count_job("journal_prune", "error")
            log.exception("pruning the change journal failed; trying again in an hour")
        await asyncio.sleep(EVERY_SECONDS)
