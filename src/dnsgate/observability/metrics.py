"""This process's metrics, and the small functions the rest of the code counts with.

One ``CollectorRegistry`` per process (``REGISTRY``), served at ``/metrics``
together with the refused-request counters of ``services.refusals``. Most
functions here run on hot paths (a record PUT costs ~250 µs of CPU, a DNS
answer from the cache less), so each keeps the labelled children of its
metric in a dict of its own: a lookup and an ``inc()`` cost ~0.4-0.7 µs,
where ``.labels()`` with the same strings costs ~1.4 µs more (timeit, this
machine; ``observe_request``, a counter and a histogram, ~1.8 µs).

Label values must come from closed sets (route templates, provider kinds,
error codes, limit names): every distinct value is a series kept forever.
Nothing here checks that; the callers pass what they own.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Any, Final, TypeVar

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
)

from dnsgate.domain.errors import BackendTimeout, BackendUnavailable, DnsgateError

T = TypeVar("T")

REGISTRY: Final = CollectorRegistry(auto_describe=True)
for _collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
    REGISTRY.register(_collector)  # read at scrape time only: CPU, memory, fds, collections

_LATENCY = (.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1.0, 2.5, 5.0, 10.0)
_UPSTREAM = (.005, .01, .025, .05, .1, .25, .5, 1.0, 2.5, 5.0, 10.0, 30.0)

REQUESTS: Final = Counter(
    "dnsgate_http_requests", "HTTP requests answered, by surface, route template, "
    "method and status.", ["surface", "route", "method", "status"], registry=REGISTRY)
REQUEST_SECONDS: Final = Histogram(
    "dnsgate_http_request_duration_seconds", "Time from a request's arrival to the end "
    "of its answer.", ["surface", "route"], buckets=_LATENCY, registry=REGISTRY)
DECISIONS: Final = Counter(
    "dnsgate_decisions", "Answers of decide(), by operation and code (ok: allowed).",
    ["operation", "code"], registry=REGISTRY)
BACKEND_SECONDS: Final = Histogram(
    "dnsgate_backend_call_duration_seconds", "Calls to DNS providers, by provider kind, "
    "operation and outcome (the _count is the number of calls).",
    ["provider", "operation", "outcome"], buckets=_UPSTREAM, registry=REGISTRY)
DNS_QUERIES: Final = Counter(
    "dnsgate_dns_queries", "DNS messages the embedded server received, by transport and "
    "the header rcode of its answer (dropped: none sent).", ["transport", "rcode"],
    registry=REGISTRY)
JOURNAL_LAG_ENTRIES: Final = Gauge(
    "dnsgate_journal_lag_entries", "Change-journal entries a DNS server found it had "
    "not applied when it last compared its zones with the journal.", ["server"],
    registry=REGISTRY)
JOURNAL_LAG_SECONDS: Final = Gauge(
    "dnsgate_journal_lag_seconds", "Age of the oldest change-journal entry a DNS server "
    "applied when it last caught up.", ["server"], registry=REGISTRY)
BATCH_SIZE: Final = Histogram(
    "dnsgate_group_commit_batch_size", "Jobs committed together in one write transaction "
    "(group commit).", buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256), registry=REGISTRY)
RATE_LIMITED: Final = Counter(
    "dnsgate_rate_limit_refusals", "Events refused by a rate limit, by limit name.",
    ["limit"], registry=REGISTRY)
JOBS: Final = Counter(
    "dnsgate_jobs", "Runs of background jobs, by job and outcome.", ["job", "outcome"],
    registry=REGISTRY)
JOB_LAST_SUCCESS: Final = Gauge(
    "dnsgate_job_last_success_timestamp_seconds", "When each background job last "
    "succeeded (Unix time).", ["job"], registry=REGISTRY)

# The labelled children, by their label values (see the module docstring).
_requests: dict[tuple[str, str, str, int], tuple[Any, Any]] = {}
_decisions: dict[tuple[str, str], Any] = {}
_backend_calls: dict[tuple[str, str, str], Any] = {}
_dns: dict[tuple[str, int], Any] = {}
_rate_limited: dict[str, Any] = {}
_jobs: dict[tuple[str, str], Any] = {}
_job_successes: dict[str, Any] = {}


def _child(cache: dict[Any, Any], key: Any, metric: Any, *labels: str) -> Any:
    child = cache.get(key)
    if child is None:
        child = cache[key] = metric.labels(*labels)
    return child


def observe_request(surface: str, route: str, method: str, status: int,
                    seconds: float) -> None:
    """One HTTP request answered. ``route`` is a route template, never a raw path."""
    key = (surface, route, method, status)
    pair = _requests.get(key)
    if pair is None:
        pair = _requests[key] = (REQUESTS.labels(surface, route, method, str(status)),
                                 REQUEST_SECONDS.labels(surface, route))
    pair[0].inc()
    pair[1].observe(seconds)


def count_decision(operation: str, code: str) -> None:
    """One answer of ``decide()``: ``code`` is ``ok`` when it allowed."""
    _child(_decisions, (operation, code), DECISIONS, operation, code).inc()


def observe_backend_call(provider: str, operation: str, outcome: str, seconds: float) -> None:
    """One call to a provider: ``outcome`` is ok, refused, unavailable, timeout or error."""
    key = (provider, operation, outcome)
    _child(_backend_calls, key, BACKEND_SECONDS, *key).observe(seconds)


def outcome_of(exc: BaseException | None) -> str:
    """The outcome label of a provider call that raised ``exc`` (None: ok)."""
    if exc is None:
        return "ok"
    if isinstance(exc, (BackendTimeout, TimeoutError)):
        return "timeout"
    if isinstance(exc, BackendUnavailable):
        return "unavailable"
    if isinstance(exc, DnsgateError):
        return "refused"  # the provider answered, and said no
    return "error"


async def timed_backend_call(provider: str, operation: str, call: Awaitable[T]) -> T:
    """Await a provider call, observing its time and outcome."""
    start = time.perf_counter()
    try:
        result = await call
    except BaseException as exc:
        observe_backend_call(provider, operation, outcome_of(exc), time.perf_counter() - start)
        raise
    observe_backend_call(provider, operation, "ok", time.perf_counter() - start)
    return result


def count_dns_query(answer: bytes | None, transport: str) -> None:
    """One DNS message received over ``transport`` (udp, tcp), and the answer sent
    (None: dropped). The rcode is the header's four bits: extended rcodes (BADVERS,
    TSIG errors) count as the header says."""
    rcode = answer[3] & 0x0F if answer is not None and len(answer) > 3 else -1
    child = _dns.get((transport, rcode))
    if child is None:
        name = _RCODES[rcode] if 0 <= rcode < len(_RCODES) else "dropped"
        child = _dns[(transport, rcode)] = DNS_QUERIES.labels(transport, name)
    child.inc()


_RCODES = ("NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN",
           "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE", "DSOTYPENI", "RCODE12", "RCODE13",
           "RCODE14", "RCODE15")


def set_journal_lag(server: str, *, entries: int | None = None,
                    seconds: float | None = None) -> None:
    """How far a DNS server (by a stable name: its listen address) is behind the
    journal, in entries, in seconds, or both (whichever its reader knows)."""
    if entries is not None:
        JOURNAL_LAG_ENTRIES.labels(server).set(entries)
    if seconds is not None:
        JOURNAL_LAG_SECONDS.labels(server).set(seconds)


def observe_batch(size: int) -> None:
    """One group-commit transaction of ``size`` jobs."""
    BATCH_SIZE.observe(size)


def count_rate_limit_refusal(limit: str) -> None:
    """One event refused by the rate limit named ``limit`` (``token_write``, ...)."""
    _child(_rate_limited, limit, RATE_LIMITED, limit).inc()


def count_job(job: str, outcome: str) -> None:
    """One run of a background job; ``ok`` also sets its last-success time."""
    _child(_jobs, (job, outcome), JOBS, job, outcome).inc()
    if outcome == "ok":
        _child(_job_successes, job, JOB_LAST_SUCCESS, job).set(time.time())
