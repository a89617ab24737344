"""An upstream timeout says what it knows: a write whose provider stalled may
still land (504 saying so, audited with an unknown outcome); a read that timed
out changed nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dnsgate.db.models import AuditEvent
from dnsgate.services import backends
from dnsgate.services.context import SYSTEM_CALLER, SYSTEM_CONTEXT
from dnsgate.services.records import UNKNOWN_OUTCOME
from tests.support.factories import bearer
from tests.support.upstream import STALL, Upstream, pdns_like

RRSET = "/api/v1/zones/own.test/rrsets/www.own.test/A"


@pytest.fixture(autouse=True)
async def _close_adapters(env):
    yield
    await env.backends.aclose()  # the adapters the app opened keep HTTP sessions


async def _slow_zone(env, world, upstream: Upstream) -> None:
    backends.add_backend(env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, name="slow",
                         provider="powerdns", config={
                             "api_url": upstream.url, "api_key": "k", "timeout": 0.5})
    await world.zone("own.test", backend="slow")


def _events(env, action: str) -> list[AuditEvent]:
    with env.db.read() as session:
        return list(session.scalars(select(AuditEvent).where(
            AuditEvent.action == action, AuditEvent.outcome == "error")))


async def test_a_write_that_timed_out_may_still_land(client, env, world, admin):
    upstream = await Upstream(
        answer=lambda r: STALL if r.method == "PATCH" else pdns_like(r)).start()
    try:
        await _slow_zone(env, world, upstream)
        put = await client.put(RRSET, headers=bearer(admin),
                               json={"ttl": 300, "records": ["192.0.2.1"]})
        assert put.status_code == 504, put.text
        assert put.headers["content-type"] == "application/problem+json"
        assert put.json()["detail"] == UNKNOWN_OUTCOME
        assert "may still be applied" in UNKNOWN_OUTCOME and "read the RRset again" in (
            UNKNOWN_OUTCOME)
        assert [r.method for r in upstream.requests][-1] == "PATCH"  # it was sent
        [event] = _events(env, "rrset.change")
        assert (event.code, event.details["outcome"]) == ("backend_timeout", "unknown")
        assert "no answer within" in event.details["upstream"]  # a platform backend: detail
    finally:
        await upstream.stop()


async def test_a_read_that_timed_out_changed_nothing(client, env, world, admin):
    upstream = await Upstream().start()
    try:
        await _slow_zone(env, world, upstream)
        upstream.answer = lambda _r: STALL
        read = await client.get("/api/v1/zones/own.test/rrsets", headers=bearer(admin))
        assert read.status_code == 504, read.text
        assert read.json()["detail"] != UNKNOWN_OUTCOME
        [event] = _events(env, "rrset.read")
        assert event.code == "backend_timeout" and "outcome" not in event.details
    finally:
        await upstream.stop()
