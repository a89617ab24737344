"""The audit log as pages show it: one filter parser (query string -> ``AuditQuery``)
and one CSV export, for the account's activity and the admin audit log alike.

Paging is by event id (``before``): stable while new events arrive.
CSV cells that a spreadsheet would read as a formula get a leading quote.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi.responses import StreamingResponse

from dnsgate.api.params import INT64_MAX
from dnsgate.db.models import AuditEvent
from dnsgate.domain.errors import DnsgateError
from dnsgate.security.text import digits
from dnsgate.services import audit_log
from dnsgate.services.audit_log import AuditQuery
from dnsgate.services.context import Env
from dnsgate.services.zones import normalize_zone

PAGE_SIZE = 50
CSV_MAX_ROWS = 100_000
OUTCOMES = ("success", "denied", "error")
FIELDS = ("account", "token", "zone", "action", "outcome", "since", "until")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = ("time", "account", "actor_type", "actor_id", "action", "outcome", "code",
               "surface", "zone", "name", "type", "target", "source_ip", "user_agent",
               "request_id", "details")


@dataclass(slots=True)
class Filters:
    """What the filter form holds (as typed), its errors, and the query it means."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    query: AuditQuery = field(default_factory=AuditQuery)

    def link(self, **changes: str) -> str:
        """This filter's query string, changed (e.g. ``before`` for the next page)."""
        items = {**self.values, **changes}
        return urlencode({k: v for k, v in items.items() if v})


def _date(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)


def parse_filters(params: Mapping[str, str], *, account_id: int | None,
                  find_account: Callable[[str], int | None] | None = None) -> Filters:
    """The filters of a query string. ``account_id`` pins the account (a person's
    own activity); otherwise ``find_account`` resolves the ``account`` field."""
    values = {name: params.get(name, "").strip()[:100] for name in FIELDS}
    errors: dict[str, str] = {}
    q: dict[str, Any] = {"account_id": account_id, "limit": PAGE_SIZE + 1}
    if account_id is not None:
        values["account"] = ""
    elif values["account"] and find_account is not None:
        q["account_id"] = find_account(values["account"])
        if q["account_id"] is None:
            errors["account"] = f"There is no account named {values['account']}."
    if values["token"]:
        q["token_id"] = values["token"]
    if values["zone"]:
        try:
            q["zone"] = normalize_zone(values["zone"])
        except DnsgateError:
            errors["zone"] = "Enter a zone name such as example.com."
    if values["action"]:
        q["action"] = values["action"].lower()
    if values["outcome"]:
        if values["outcome"] in OUTCOMES:
            q["outcome"] = values["outcome"]
        else:
            errors["outcome"] = "Choose success, denied or error."
    for name, key, shift in (("since", "since", 0), ("until", "until", 1)):
        if values[name]:
            try:
                q[key] = _date(values[name]) + timedelta(days=shift)
            except ValueError:
                errors[name] = "Enter a date as YYYY-MM-DD."
    if "since" in q and "until" in q and q["since"] >= q["until"]:
        errors["until"] = "The end date must not be before the start date."
    before = params.get("before", "")
    before_id = digits(before, maximum=INT64_MAX)
    if before_id is not None:
        q["before_id"] = before_id
    return Filters(values, errors, AuditQuery(**q))


@dataclass(frozen=True, slots=True)
class Page:
    events: list[AuditEvent]
    older: str | None  # the query string of the next (older) page, if there is one
    first: bool


def page(env: Env, filters: Filters) -> Page:
    """One page of events, newest first, and the link to the next."""
    if filters.errors:
        return Page([], None, True)
    found = audit_log.query(env, filters.query)
    events = found[:PAGE_SIZE]
    older = (filters.link(before=str(events[-1].id))
             if len(found) > PAGE_SIZE else None)
    return Page(events, older, filters.query.before_id is None)


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_rows(env: Env, filters: Filters,
             account_names: Mapping[int, str]) -> Iterator[str]:
    """The header and every matching event as CSV lines, read a page at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_COLUMNS)
    yield flush()
    query = replace(filters.query, before_id=None, limit=audit_log.MAX_PAGE)
    sent = 0
    while sent < CSV_MAX_ROWS:
        events = audit_log.query(env, query)
        for e in events:
            details = dict(e.details or {})
            surface = details.pop("surface", "")
            writer.writerow([_cell(v) for v in (
                e.time.astimezone(UTC).isoformat(timespec="seconds"),
                account_names.get(e.account_id, "") if e.account_id else "",
                e.actor_type, e.actor_id, e.action, e.outcome, e.code, surface, e.zone,
                e.name, e.rtype, e.target, e.source_ip, e.user_agent, e.request_id,
                json.dumps(details, sort_keys=True) if details else "")])
        sent += len(events)
        yield flush()
        if len(events) < audit_log.MAX_PAGE:
            return
        query = replace(query, before_id=events[-1].id)


def csv_response(env: Env, filters: Filters, account_names: Mapping[int, str],
                 filename: str) -> StreamingResponse:
    return StreamingResponse(
        csv_rows(env, filters, account_names), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'})
