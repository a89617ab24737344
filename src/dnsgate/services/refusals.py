"""Refused requests, made visible without letting a flood fill the audit table.

Every surface reports here, from its one error mapping, each request it
refuses for a credential (401), for its input (422) or for naming something
unknown (404: a zone the caller may not see, a row that is not there). Each
refusal is

- counted: ``dnsgate_refused_requests_total{surface, status, code}``, in
  Prometheus' text format at ``/metrics``;
- logged, with the request id and the credential's public id (never its
  secret);
- audited in aggregate: one audit event per (credential public id or none,
  source address, status, minute) that carries the count, written when the
  minute is over (``services.refusal_audit``). One minute holds at most
  ``max_keys`` such events; refusals past that are counted in one more,
  without a credential or an address.

This module keeps the counts in memory only; nothing here touches the
database.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import CollectorRegistry
from prometheus_client import Counter as PromCounter

log = logging.getLogger("dnsgate.refused")

#: The statuses reported here, and the audit code of their aggregate events.
CLASSES: dict[int, str] = {
    401: "credential_refused",
    404: "not_found",
    422: "input_refused",
}
#: Aggregate events one minute may hold (per process) before refusals are pooled.
MAX_KEYS = 1000


@dataclass(frozen=True, slots=True)
class Refusal:
    """One refused request: what was refused, where, from whom."""

    status: int
    code: str
    surface: str
    source_ip: str | None = None
    request_id: str | None = None
    #: ``(actor type, public id)`` of the credential presented, if one was readable.
    credential: tuple[str, str] | None = None


#: (actor type, public id, source address, status, minute)
Key = tuple[str, str, str | None, int, datetime]


@dataclass(slots=True)
class Batch:
    """The refusals of one key: the content of one aggregate audit event."""

    actor_type: str
    actor_id: str
    source_ip: str | None
    status: int
    minute: datetime
    count: int = 0
    codes: Counter[str] = field(default_factory=Counter)
    surfaces: Counter[str] = field(default_factory=Counter)
    last_request_id: str | None = None
    pooled: bool = False

    @property
    def code(self) -> str:
        return CLASSES.get(self.status, f"refused_{self.status}")


class Refusals:
    """Counts, logs and aggregates refusals; ``drain`` hands the aggregates out."""

    def __init__(self, *, max_keys: int = MAX_KEYS) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.counter = PromCounter(
            "dnsgate_refused_requests", "Requests refused for a credential (401), "
            "for their input (422) or for naming something unknown (404).",
            ["surface", "status", "code"], registry=self.registry)
        self.max_keys = max_keys
        self._batches: dict[Key, Batch] = {}
        self._keys_per_minute: Counter[datetime] = Counter()
        self._lock = threading.Lock()

    def note(self, refusal: Refusal, when: datetime) -> int:
        """Count, log and aggregate one refusal that happened at ``when``; how many
        its aggregate holds now (a surface that audits the first few refusals of
        a minute one by one, with their detail, stops when this passes its limit)."""
        self.counter.labels(refusal.surface, str(refusal.status), refusal.code).inc()
        actor_type, actor_id = refusal.credential or ("system", "")
        log.info("refused %s %s on %s: request %s, credential %s, from %s",
                 refusal.status, refusal.code, refusal.surface, refusal.request_id,
                 f"{actor_type}:{actor_id}" if refusal.credential else "none",
                 refusal.source_ip or "-")
        minute = when.replace(second=0, microsecond=0)
        key: Key = (actor_type, actor_id, refusal.source_ip, refusal.status, minute)
        with self._lock:
            batch = self._batches.get(key)
            if batch is None and self._keys_per_minute[minute] >= self.max_keys:
                key = ("system", "", None, refusal.status, minute)  # the minute's pool
                batch = self._batches.get(key)
                if batch is None:
                    batch = self._batches[key] = Batch("system", "", None, refusal.status,
                                                       minute)
                batch.pooled = True
            elif batch is None:
                batch = self._batches[key] = Batch(actor_type, actor_id, refusal.source_ip,
                                                   refusal.status, minute)
                self._keys_per_minute[minute] += 1
            batch.count += 1
            batch.codes[refusal.code] += 1
            batch.surfaces[refusal.surface] += 1
            batch.last_request_id = refusal.request_id or batch.last_request_id
            return batch.count

    def drain(self, before: datetime | None = None) -> list[Batch]:
        """Take the aggregates of the minutes before ``before`` (all of them
        without it), oldest first; they are forgotten here."""
        with self._lock:
            taken = [key for key in self._batches if before is None or key[4] < before]
            batches = [self._batches.pop(key) for key in taken]
            for minute in {key[4] for key in taken}:
                del self._keys_per_minute[minute]
        return sorted(batches, key=lambda b: b.minute)

    def pending(self) -> int:
        """Aggregates not drained yet."""
        with self._lock:
            return len(self._batches)
