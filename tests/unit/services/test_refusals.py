"""dnsgate.services.refusals: refused requests counted, logged and aggregated per minute."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from prometheus_client import generate_latest

from dnsgate.services.refusals import Refusal, Refusals

T0 = datetime(2030, 1, 1, 12, 0, 5, tzinfo=UTC)
TOKEN = ("token", "abcdefghijklmnop")


def refusal(status=401, code="token_invalid", ip="192.0.2.1", credential=TOKEN, rid="r1"):
    return Refusal(status=status, code=code, surface="api", source_ip=ip, request_id=rid,
                   credential=credential)


def test_one_aggregate_per_credential_address_status_and_minute():
    refusals = Refusals()
    for i in range(500):
        refusals.note(refusal(rid=f"r{i}"), T0 + timedelta(seconds=i % 50))
    refusals.note(refusal(code="token_missing", credential=None), T0)
    refusals.note(refusal(status=422, code="invalid_request"), T0)
    refusals.note(refusal(ip="192.0.2.2"), T0)
    refusals.note(refusal(), T0 + timedelta(minutes=1))
    batches = refusals.drain(before=T0.replace(second=0) + timedelta(minutes=1))
    assert len(batches) == 4
    (flood,) = [b for b in batches if b.count > 1]
    assert (flood.actor_type, flood.actor_id, flood.source_ip, flood.status) == (
        "token", TOKEN[1], "192.0.2.1", 401)
    assert flood.count == 500 and flood.codes == {"token_invalid": 500}
    assert flood.minute == datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    assert flood.last_request_id == "r499" and flood.code == "credential_refused"
    assert refusals.pending() == 1  # the next minute's stays until it is over
    assert [b.minute.minute for b in refusals.drain()] == [1]
    assert refusals.drain() == []


def test_note_says_how_many_the_aggregate_holds():
    refusals = Refusals()
    assert [refusals.note(refusal(status=404, code="not_found"), T0) for _ in range(3)] == [
        1, 2, 3]
    assert refusals.note(refusal(status=403, code="forbidden"), T0) == 1  # counted all the same


def test_a_minute_holds_at_most_max_keys_then_pools():
    refusals = Refusals(max_keys=10)
    for i in range(1000):
        refusals.note(refusal(ip=f"2001:db8::{i:x}"), T0)
    batches = refusals.drain()
    assert len(batches) == 11
    (pool,) = [b for b in batches if b.pooled]
    assert pool.count == 990 and pool.source_ip is None and pool.actor_id == ""
    assert sum(b.count for b in batches) == 1000


def test_counted_per_surface_status_and_code():
    refusals = Refusals()
    refusals.note(refusal(), T0)
    refusals.note(refusal(), T0)
    refusals.note(Refusal(status=404, code="zone_not_found", surface="pdns-api"), T0)
    text = generate_latest(refusals.registry).decode()
    assert ('dnsgate_refused_requests_total{code="token_invalid",status="401",surface="api"} 2.0'
            in text)
    assert ('dnsgate_refused_requests_total{code="zone_not_found",status="404",'
            'surface="pdns-api"} 1.0' in text)


def test_logged_with_request_id_and_public_id(caplog):
    refusals = Refusals()
    with caplog.at_level(logging.INFO, logger="dnsgate.refused"):
        refusals.note(refusal(rid="0123abcd"), T0)
        refusals.note(refusal(credential=None, ip=None, rid=None), T0)
    first, second = (r.getMessage() for r in caplog.records)
    assert first == ("refused 401 token_invalid on api: request 0123abcd, "
                     "credential token:abcdefghijklmnop, from 192.0.2.1")
    assert second == "refused 401 token_invalid on api: request None, credential none, from -"
