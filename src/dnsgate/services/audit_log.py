"""Reading the audit log (writing is ``audit.record``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from dnsgate.db.models import AuditEvent
from dnsgate.services.context import Env

MAX_PAGE = 1000


@dataclass(frozen=True, slots=True)
class AuditQuery:
    account_id: int | None = None
    token_id: str | None = None
    zone: str | None = None
    outcome: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    before_id: int | None = None


def query(env: Env, q: AuditQuery) -> list[AuditEvent]:
    """Events matching every given filter, newest first (page with ``before_id``)."""
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc())
    if q.account_id is not None:
        stmt = stmt.where(AuditEvent.account_id == q.account_id)
    if q.token_id is not None:
        stmt = stmt.where(AuditEvent.actor_type == "token", AuditEvent.actor_id == q.token_id)
    if q.zone is not None:
        stmt = stmt.where(AuditEvent.zone == q.zone)
    if q.outcome is not None:
        stmt = stmt.where(AuditEvent.outcome == q.outcome)
    if q.action is not None:
        stmt = stmt.where(AuditEvent.action == q.action)
    if q.since is not None:
        stmt = stmt.where(AuditEvent.time >= q.since)
    if q.until is not None:
        stmt = stmt.where(AuditEvent.time < q.until)
    if q.before_id is not None:
        stmt = stmt.where(AuditEvent.id < q.before_id)
    with env.db.read() as session:
        return list(session.scalars(stmt.limit(max(1, min(q.limit, MAX_PAGE)))))
