"""The aggregates of ``services.refusals`` into the audit log, once a minute.

One audit event per (credential public id or none, source address, status,
minute): action ``request.refused``, outcome ``denied``, code the status'
class (``credential_refused``, ``input_refused``, ``not_found``), time the
minute's start, and in ``details`` the count, the dnsgate codes
(``[{"code", "count"}]``) and surfaces it counted, and whether refusals
beyond the minute's cap were pooled into it.
The request id is the minute's last one, to find the log lines.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from dnsgate.db.raw import Executor
from dnsgate.observability import metrics
from dnsgate.services import audit
from dnsgate.services.context import Env, RequestContext
from dnsgate.services.refusals import Batch

log = logging.getLogger("dnsgate.refused")
ACTION = "request.refused"


def flush(env: Env, *, everything: bool = False) -> int:
    """Write the aggregates of the minutes that are over (all of them with
    ``everything``, at shutdown); the number of audit events written."""
    now = env.clock()
    before = None if everything else now.replace(second=0, microsecond=0)
    batches = env.refusals.drain(before)
    if batches:
        with env.db.write() as session:
            for batch in batches:
                _record(session, batch)
    return len(batches)


def _record(session: Executor, batch: Batch) -> None:
    surfaces = sorted(batch.surfaces)
    ctx = RequestContext(source_ip=batch.source_ip, request_id=batch.last_request_id,
                         surface=surfaces[0] if len(surfaces) == 1 else "several")
    # codes as a list: a mapping keyed "token_invalid" would be masked as a secret
    details: dict[str, object] = {
        "count": batch.count, "status": batch.status,
        "codes": [{"code": code, "count": n} for code, n in batch.codes.most_common()],
        "surfaces": dict(batch.surfaces)}
    if batch.pooled:
        details["pooled"] = True
    audit.record(session, ctx, caller=None, actor=(batch.actor_type, batch.actor_id),
                 action=ACTION, when=batch.minute, outcome="denied", code=batch.code,
                 details=details)


async def flush_every_minute(env: Env) -> None:
    """Flush shortly after each minute ends, until cancelled (the lifespan then
    flushes everything once more). The database write runs in a thread."""
    while True:
        now = env.clock()
        next_minute = now.replace(second=0, microsecond=0) + timedelta(minutes=1, seconds=1)
        await asyncio.sleep(max((next_minute - now).total_seconds(), 1.0))
        try:
            await asyncio.to_thread(flush, env)
            metrics.count_job("refusal_audit", "ok")
        except Exception:  # the aggregates stay lost for this minute, the loop goes on
            metrics.count_job("refusal_audit", "error")
            log.exception("could not write the refused-request audit events")

