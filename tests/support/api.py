"""Helpers of the HTTP API tests: problem documents, zone snapshots, the audit table."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select, text

from dnsgate.db.models import AuditEvent
from tests.support.factories import bearer

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int, code: str,
                   case: object = None) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status and dnsgate code.

    ``case`` names the input in the failure message when a test loops over a table.
    """
    try:
        return _assert_problem(response, status, code)
    except AssertionError as exc:
        if case is None:
            raise
        raise AssertionError(f"case {case!r}: {exc}") from exc


def _assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM, response.headers
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["status"] == status
    assert body["type"] == f"urn:dnsgate:problem:{code}"
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    ids = response.headers.get_list("x-request-id")
    assert len(ids) == 1, ids
    if "request_id" in body:
        assert body["request_id"] == ids[0]
    return body


async def zone_state(client: httpx.AsyncClient, admin_key: str,
                     zone: str = "example.test") -> list[dict[str, Any]]:
    """Every RRset of a zone (SOA included), as an admin reads it over the API."""
    response = await client.get(f"/api/v1/zones/{zone}/rrsets", headers=bearer(admin_key))
    assert response.status_code == 200, response.text
    rrsets: list[dict[str, Any]] = response.json()
    return sorted(rrsets, key=lambda rr: (rr["name"], rr["type"]))


def soa_serial(state: list[dict[str, Any]]) -> int:
    """The SOA serial in a zone snapshot."""
    (soa,) = [rr for rr in state if rr["type"] == "SOA"]
    return int(soa["records"][0].split()[2])


def rrset(state: list[dict[str, Any]], name: str, rtype: str) -> dict[str, Any] | None:
    found = [rr for rr in state if rr["name"] == name and rr["type"] == rtype]
    return found[0] if found else None


def audit_events(env: Any, **equal: Any) -> list[AuditEvent]:
    """Audit rows (oldest first) whose columns equal the given values."""
    stmt = select(AuditEvent).order_by(AuditEvent.id)
    for column, value in equal.items():
        stmt = stmt.where(getattr(AuditEvent, column) == value)
    with env.db.read() as session:
        return list(session.scalars(stmt))


def audit_text(env: Any) -> str:
    """Every column of every audit row as one text, to search for secrets."""
    with env.db.read() as session:
        rows = session.execute(text("SELECT * FROM audit_events")).all()
    assert rows, "the audit table is empty"
    return "\n".join(str(value) for row in rows for value in row)
