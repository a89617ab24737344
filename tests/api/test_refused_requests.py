"""Refused requests are visible, on every surface, and cannot flood the audit log.

A refused credential (401), refused input (422) or an unknown zone (404) is
counted (``/metrics``), logged with the request id and the credential's
public id (never its secret), and audited in aggregate: one event per
credential, source address, status and minute, carrying the count
(``services/refusals.py``, ``services/refusal_audit.py``).
"""

from __future__ import annotations

import logging
import re

import pytest
from sqlalchemy import func, select

from dnsgate.db.models import AuditEvent
from dnsgate.services import refusal_audit
from tests.support.api import assert_problem, audit_events, audit_text
from tests.support.factories import bearer

ID = "abcdefghijklmnop"
SECRET = "q" * 52
FORGED = f"dg_{ID}_{SECRET}"  # the shape of a token, unknown here


def _count(env) -> int:
    with env.db.read() as session:
        return session.scalar(select(func.count()).select_from(AuditEvent)) or 0


def _refused_events(env) -> list[AuditEvent]:
    return audit_events(env, action=refusal_audit.ACTION)


async def test_a_thousand_bad_requests_make_a_handful_of_audit_events(client, env, caplog):
    before = _count(env)
    with caplog.at_level(logging.INFO, logger="dnsgate.refused"):
        for _ in range(1000):
            response = await client.get("/api/v1/zones", headers=bearer(FORGED))
            assert response.status_code == 401
    refusal_audit.flush(env, everything=True)
    events = _refused_events(env)
    assert _count(env) - before == len(events) <= 3  # one, or a few across a minute's end
    assert sum(e.details["count"] for e in events) == 1000
    for event in events:
        assert (event.actor_type, event.actor_id, event.source_ip) == ("token", ID, "127.0.0.1")
        assert (event.outcome, event.code) == ("denied", "credential_refused")
        assert event.details["codes"] == [{"code": "token_invalid",
                                           "count": event.details["count"]}]
        assert event.details["surfaces"] == {"api": event.details["count"]}
    assert SECRET not in audit_text(env)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1000 and SECRET not in "\n".join(lines)
    assert re.fullmatch(r"refused 401 token_invalid on api: request [0-9a-f]{32}, "
                        rf"credential token:{ID}, from 127\.0\.0\.1", lines[0])


async def test_the_request_id_in_the_log_is_the_answers(client, caplog):
    with caplog.at_level(logging.INFO, logger="dnsgate.refused"):
        response = await client.get("/api/v1/whoami", headers={**bearer(FORGED),
                                                               "X-Request-ID": "trace-42"})
    assert_problem(response, 401, "token_invalid")
    (line,) = [r.getMessage() for r in caplog.records]
    assert "request trace-42," in line


async def test_nothing_is_written_before_the_minute_is_over(client, env, clock):
    await client.get("/api/v1/zones", headers=bearer(FORGED))
    assert refusal_audit.flush(env) == 0
    clock.advance(60)
    assert refusal_audit.flush(env) == 1
    (event,) = _refused_events(env)
    assert event.details["count"] == 1


async def _metrics(client) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    return response.text


def _metric(text: str, surface: str, status: int, code: str) -> float:
    pattern = (rf'dnsgate_refused_requests_total\{{code="{code}",status="{status}",'
               rf'surface="{surface}"\}} ([0-9.]+)')
    found = re.search(pattern, text)
    return float(found.group(1)) if found else 0.0


@pytest.mark.parametrize(("method", "url", "kwargs", "surface", "status", "code"), [
    ("GET", "/api/v1/zones", {"headers": bearer(FORGED)}, "api", 401, "token_invalid"),
    ("GET", "/api/v1/zones", {}, "api", 401, "token_missing"),
    ("GET", "/api/v1/zones/nowhere.test/rrsets", {"admin": True}, "api", 404, "zone_not_found"),
    ("POST", "/api/v1/admin/accounts", {"admin": True, "json": {}}, "api", 422,
     "invalid_request"),
    ("GET", "/api/v1/zones?x=%00", {}, "api", 422, "invalid_request"),
    ("GET", "/nic/update?hostname=a.example.test&myip=192.0.2.1",
     {"headers": {"Authorization": f"Bearer {FORGED}"}}, "dyndns2", 401, "badauth"),
    ("GET", "/nic/update?hostname=a.nowhere.test&myip=192.0.2.1", {"admin": True}, "dyndns2",
     404, "notfqdn"),
    ("POST", "/acme-dns/update", {"headers": {"X-Api-User": ID, "X-Api-Key": SECRET},
                                  "json": {"subdomain": ID, "txt": "x" * 43}},
     "acme-dns", 401, "token_invalid"),
    ("POST", "/httpreq/present", {"headers": bearer(FORGED), "json": {"fqdn": "a", "value": "b"}},
     "httpreq", 401, "token_invalid"),
    ("POST", "/httpreq/present", {"admin": True, "content": b"[]"}, "httpreq", 422,
     "invalid_request"),
    ("GET", "/pdns/api/v1/servers/localhost/zones", {"headers": {"X-API-Key": FORGED}},
     "pdns-api", 401, "token_invalid"),
    ("GET", "/pdns/api/v1/servers/localhost/zones/nowhere.test.", {"admin": True, "pdns": True},
     "pdns-api", 404, "zone_not_found"),
    ("GET", "/ui/no-such-page", {}, "web", 404, "not_found"),
])
async def test_every_surface_counts_its_refusals(client, admin, zone, method, url, kwargs,
                                                 surface, status, code):
    kwargs = dict(kwargs)
    if kwargs.pop("admin", False):
        key = {"X-API-Key": admin} if kwargs.pop("pdns", False) else bearer(admin)
        kwargs["headers"] = {**kwargs.get("headers", {}), **key}
    before = _metric(await _metrics(client), surface, status, code)
    await client.request(method, url, **kwargs)
    assert _metric(await _metrics(client), surface, status, code) == before + 1


async def test_the_credential_is_named_wherever_a_surface_takes_it(client, env):
    await client.get("/nic/update?hostname=a&myip=192.0.2.1",
                     headers={"Authorization": f"Bearer {FORGED}"})
    await client.get(f"/nic/update?hostname=a&myip=192.0.2.1&username={ID}&password={SECRET}")
    await client.post("/acme-dns/update", json={"subdomain": ID, "txt": "x" * 43},
                      headers={"X-Api-User": ID, "X-Api-Key": SECRET})
    await client.get("/pdns/api/v1/servers", headers={"X-API-Key": FORGED})
    key = "dgk_" + "b" * 16 + "_" + SECRET
    await client.get("/api/v1/account", headers=bearer(key))
    refusal_audit.flush(env, everything=True)
    named = {(e.actor_type, e.actor_id): e.details["count"] for e in _refused_events(env)}
    assert named == {("token", ID): 4, ("api_key", "b" * 16): 1}
    assert SECRET not in audit_text(env)


async def test_a_refusal_without_a_credential_is_the_addresss(client, env):
    await client.get("/api/v1/zones")
    await client.get("/api/v1/zones", headers={"Authorization": "Bearer not-a-token"})
    refusal_audit.flush(env, everything=True)
    (event,) = _refused_events(env)
    assert (event.actor_type, event.actor_id, event.source_ip) == ("system", "", "127.0.0.1")
    assert sorted(c["code"] for c in event.details["codes"]) == ["token_invalid",
                                                                "token_missing"]


async def test_the_lifespan_writes_what_is_left_at_shutdown(app, client, env):
    async with app.router.lifespan_context(app):
        await client.get("/api/v1/zones", headers=bearer(FORGED))
        assert _refused_events(env) == []
    (event,) = _refused_events(env)
    assert event.details["count"] == 1


async def test_metrics_can_be_turned_off(make_settings, env, make_client):
    from dnsgate.app import create_app

    app = create_app(make_settings(metrics_enabled=False), env=env, migrate_on_start=False)
    async with make_client(app) as c:
        assert (await c.get("/metrics")).status_code == 404
