"""Counting audit events over time, for the dashboards' charts.

One GROUP BY over a time range (the ``time`` index), bucketed by UTC day or
hour in SQL: SQLite stores UTC text (``YYYY-MM-DD HH:MM:SS.ffffff``), so a
bucket is a prefix of it; PostgreSQL formats the timestamp in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import String, case, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from dnsgate.db.models import AuditEvent
from dnsgate.services.context import Env

Unit = Literal["day", "hour"]
#: Successful record changes: what a chart calls "updates".
UPDATE_ACTIONS = ("rrset.create", "rrset.update", "rrset.upsert", "rrset.delete")
OUTCOMES = ("success", "denied", "error")


class _UtcDay(FunctionElement[str]):
    type = String()
    inherit_cache = True
    sqlite_chars = 10
    pg_format = "YYYY-MM-DD"


class _UtcHour(_UtcDay):
    inherit_cache = True
    sqlite_chars = 13
    pg_format = "YYYY-MM-DD HH24"


@compiles(_UtcDay, "sqlite")
def _bucket_sqlite(element: _UtcDay, compiler: SQLCompiler, **kw: Any) -> str:
    return f"substr({compiler.process(element.clauses, **kw)}, 1, {element.sqlite_chars})"


@compiles(_UtcDay)
def _bucket_postgresql(element: _UtcDay, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"to_char({column} AT TIME ZONE 'UTC', '{element.pg_format}')"


@dataclass(frozen=True, slots=True)
class Window:
    """The last ``len(buckets)`` days or hours up to now, oldest first."""

    unit: Unit
    start: datetime
    buckets: tuple[str, ...]


def window(now: datetime, unit: Unit, count: int) -> Window:
    """Buckets labelled as the SQL labels them (``YYYY-MM-DD`` or ``YYYY-MM-DD HH``)."""
    step = timedelta(days=1) if unit == "day" else timedelta(hours=1)
    last = now.replace(minute=0, second=0, microsecond=0)
    if unit == "day":
        last = last.replace(hour=0)
    start = last - step * (count - 1)
    fmt = "%Y-%m-%d" if unit == "day" else "%Y-%m-%d %H"
    return Window(unit, start, tuple((start + step * i).strftime(fmt) for i in range(count)))


def _bucket(unit: Unit) -> _UtcDay:
    return _UtcDay(AuditEvent.time) if unit == "day" else _UtcHour(AuditEvent.time)


def updates_and_denials(env: Env, *, account_id: int,
                        span: Window) -> dict[str, dict[str, int]]:
    """Per bucket, an account's successful record changes and its denials."""
    bucket = _bucket(span.unit).label("bucket")
    updates = func.sum(case((AuditEvent.action.in_(UPDATE_ACTIONS)
                             & (AuditEvent.outcome == "success"), 1), else_=0))
    denials = func.sum(case((AuditEvent.outcome == "denied", 1), else_=0))
    stmt = (select(bucket, updates, denials)
            .where(AuditEvent.account_id == account_id, AuditEvent.time >= span.start)
            .group_by(bucket))
    out = {b: {"updates": 0, "denials": 0} for b in span.buckets}
    with env.db.read() as session:
        for label, ups, downs in session.execute(stmt):
            if label in out:
                out[label] = {"updates": int(ups or 0), "denials": int(downs or 0)}
    return out


def by_surface_and_outcome(env: Env, *, span: Window) -> list[tuple[str, str, str, int]]:
    """(bucket, surface, outcome, count) of every event in the window.

    The surface (``api``, ``dyndns2``, ``web``, ...) is the one the request
    came in on, as stamped into the event's details; '' when unknown."""
    bucket = _bucket(span.unit).label("bucket")
    surface = AuditEvent.details["surface"].as_string().label("surface")
    stmt = (select(bucket, surface, AuditEvent.outcome, func.count())
            .where(AuditEvent.time >= span.start)
            .group_by(bucket, surface, AuditEvent.outcome))
    with env.db.read() as session:
        return [(b, s or "", o, int(n)) for b, s, o, n in session.execute(stmt)]
