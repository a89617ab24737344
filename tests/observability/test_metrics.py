"""``GET /metrics`` and the counters behind it (``observability/``).

Who may read it: loopback, the networks of ``DNSGATE_METRICS_ALLOW``, an
admin API key; anyone else is refused with a problem document. What it
counts: requests by surface, route template and status (never the raw
path), and each of the small functions the rest of the code counts with,
read back from the registry they write to.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from dnsgate.domain.errors import BackendTimeout, BackendUnavailable, InvalidInput
from dnsgate.observability import metrics
from tests.support.api import assert_problem
from tests.support.factories import bearer

PUT_TEMPLATE = "/api/v1/zones/{zone}/rrsets/{name}/{type}"
OUTSIDER = "203.0.113.7"


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """(labels, value) of every sample called ``name`` in an exposition."""
    return [(s.labels, s.value) for family in text_string_to_metric_families(text)
            for s in family.samples if s.name == name]


def value(text: str, name: str, **labels: str) -> float:
    """The sample ``name`` with exactly these labels (0 when it is not there yet)."""
    found = [v for got, v in samples(text, name) if got == labels]
    assert len(found) <= 1
    return found[0] if found else 0.0


async def scrape(client) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    return response.text


def sample(name: str, **labels: str) -> float:
    """A sample of this process's registry (0 when it is not there yet)."""
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


# --- who may read it ----------------------------------------------------------


async def test_loopback_reads_the_metrics(client):
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    lines = response.text.splitlines()
    assert "# TYPE dnsgate_http_requests_total counter" in lines
    assert "# TYPE dnsgate_refused_requests_total counter" in lines  # services.refusals'
    assert any(line.startswith("dnsgate_") for line in lines)


async def test_an_openmetrics_scraper_gets_one_exposition(client):
    response = await client.get("/metrics", headers={
        "Accept": "application/openmetrics-text; version=1.0.0"})
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.count("# EOF") == 1 and response.text.endswith("# EOF\n")
    names = {family.name for family in text_string_to_metric_families(
        response.text.replace("# EOF\n", ""))}
    assert {"dnsgate_http_requests", "dnsgate_refused_requests"} <= names


async def test_loopback_over_ipv6_reads_the_metrics(app, make_client):
    async with make_client(app, peer="::1") as c:
        assert (await c.get("/metrics")).status_code == 200


async def test_another_address_is_refused(app, make_client):
    async with make_client(app, peer=OUTSIDER) as c:
        response = await c.get("/metrics")
    body = assert_problem(response, 403, "forbidden")
    assert "DNSGATE_METRICS_ALLOW" in body["detail"]
    assert "dnsgate_" not in response.text.replace("DNSGATE_", "")


async def test_the_allowed_networks_read_the_metrics(make_settings, env, make_client):
    from dnsgate.app import create_app

    app = create_app(make_settings(metrics_allow="198.51.100.0/24, 203.0.113.0/28"), env=env,
                     migrate_on_start=False)
    async with make_client(app, peer=OUTSIDER) as c:
        assert (await c.get("/metrics")).status_code == 200
    async with make_client(app, peer="203.0.113.16") as c:  # just outside the /28
        assert_problem(await c.get("/metrics"), 403, "forbidden")


async def test_an_admin_api_key_reads_the_metrics_from_anywhere(app, make_client, admin):
    async with make_client(app, peer=OUTSIDER) as c:
        response = await c.get("/metrics", headers=bearer(admin))
    assert response.status_code == 200
    assert "# TYPE dnsgate_http_requests_total counter" in response.text


async def test_other_credentials_are_refused_as_by_the_api(app, make_client, world, zone,
                                                          alice):
    user_key = world.api_key(alice)
    token = world.token(world.realm(alice, zone, "home"))
    async with make_client(app, peer=OUTSIDER) as c:
        assert_problem(await c.get("/metrics", headers=bearer(user_key)), 403,
                       "admin_required")
        assert_problem(await c.get("/metrics", headers=bearer(token.secret)), 401,
                       "token_invalid")
        assert_problem(await c.get("/metrics", headers=bearer("dgk_nope")), 401,
                       "token_invalid")


def test_the_allowed_networks_are_checked_at_start(make_settings):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="DNSGATE_METRICS_ALLOW"):
        make_settings(metrics_allow="10.0.0.0/8,not-a-network")


# --- requests -----------------------------------------------------------------


async def test_a_put_counts_under_its_route_template(client, world, zone, alice):
    token = world.token(world.realm(alice, zone, "home", types=["A"]))
    labels = {"surface": "api", "route": PUT_TEMPLATE, "method": "PUT", "status": "200"}
    before = await scrape(client)
    response = await client.put("/api/v1/zones/example.test/rrsets/home.example.test/A",
                                json={"records": ["192.0.2.1"]}, headers=bearer(token.secret))
    assert response.status_code == 200, response.text
    after = await scrape(client)
    assert value(after, "dnsgate_http_requests_total", **labels) == (
        value(before, "dnsgate_http_requests_total", **labels) + 1)
    timed = {"surface": "api", "route": PUT_TEMPLATE}
    assert value(after, "dnsgate_http_request_duration_seconds_count", **timed) == (
        value(before, "dnsgate_http_request_duration_seconds_count", **timed) + 1)
    routes = {got["route"] for got, _ in samples(after, "dnsgate_http_requests_total")}
    assert not any("example.test" in route for route in routes), routes


@pytest.mark.parametrize(("method", "url", "surface", "route", "status"), [
    # the router's routes, under the prefix they were included with
    ("GET", "/api/v1/zones/example.test/rrsets", "api", "/api/v1/zones/{zone}/rrsets", 401),
    # plain Starlette routes (first in the table, for speed)
    ("GET", "/nic/update?hostname=a.example.test", "dyndns2", "/nic/update", 401),
    # a mounted app's, its static files, and what it has no route for
    ("GET", "/ui/login", "web", "/ui/login", 200),
    ("GET", "/ui/static/app.css", "web", "/ui/static/{path}", 200),
    ("GET", "/ui/no-such-thing-1234", "web", "/ui/{path}", 404),
    # no route: other, on the surface its path belongs to
    ("GET", "/api/v1/no-such-thing-1234", "api", "other", 404),
    ("GET", "/no-such-thing-1234", "other", "other", 404),
    # refused by the edge, before any route
    ("GET", "/api/v1/zones?x=%00", "api", "other", 422),
    # a method the route does not take
    ("POST", "/api/v1/whoami", "api", "/api/v1/whoami", 405),
])
async def test_each_request_counts_under_its_route(client, method, url, surface, route, status):
    labels = {"surface": surface, "route": route, "method": method, "status": str(status)}
    before = value(await scrape(client), "dnsgate_http_requests_total", **labels)
    response = await client.request(method, url)
    assert response.status_code == status, response.text
    text = await scrape(client)
    assert value(text, "dnsgate_http_requests_total", **labels) == before + 1
    assert "no-such-thing-1234" not in text


async def test_an_unknown_method_is_one_label(client):
    before = sample("dnsgate_http_requests_total", surface="api", route="/api/v1/whoami",
                    method="OTHER", status="405")
    await client.request("BREW", "/api/v1/whoami")
    assert sample("dnsgate_http_requests_total", surface="api", route="/api/v1/whoami",
                  method="OTHER", status="405") == before + 1


async def test_metrics_off_still_answers_404(make_settings, env, make_client):
    from dnsgate.app import create_app

    app = create_app(make_settings(metrics_enabled=False), env=env, migrate_on_start=False)
    async with make_client(app) as c:
        assert_problem(await c.get("/metrics"), 404, "not_found")


# --- the counting functions ---------------------------------------------------


def test_decisions_count_by_operation_and_code():
    before = sample("dnsgate_decisions_total", operation="update", code="name_outside_realm")
    metrics.count_decision("update", "name_outside_realm")
    metrics.count_decision("update", "name_outside_realm")
    metrics.count_decision("update", "ok")
    assert sample("dnsgate_decisions_total", operation="update",
                  code="name_outside_realm") == before + 2


@pytest.mark.parametrize(("raised", "outcome"), [
    (None, "ok"),
    (BackendTimeout("slow"), "timeout"),
    (TimeoutError(), "timeout"),
    (BackendUnavailable("down"), "unavailable"),
    (InvalidInput("no such record"), "refused"),
    (RuntimeError("adapter bug"), "error"),
])
async def test_a_provider_call_is_timed_with_its_outcome(raised, outcome):
    labels = {"provider": "powerdns", "operation": "rrset.read", "outcome": outcome}
    count = "dnsgate_backend_call_duration_seconds_count"
    total = "dnsgate_backend_call_duration_seconds_sum"
    before, before_sum = sample(count, **labels), sample(total, **labels)

    async def call() -> str:
        await asyncio.sleep(0.02)
        if raised is not None:
            raise raised
        return "answer"

    if raised is None:
        assert await metrics.timed_backend_call("powerdns", "rrset.read", call()) == "answer"
    else:
        with pytest.raises(type(raised)):
            await metrics.timed_backend_call("powerdns", "rrset.read", call())
    assert sample(count, **labels) == before + 1
    assert sample(total, **labels) - before_sum >= 0.02


@pytest.mark.parametrize(("answer", "rcode"), [
    (bytes.fromhex("abcd8180") + bytes(8), "NOERROR"),
    (bytes.fromhex("abcd8183") + bytes(8), "NXDOMAIN"),
    (bytes.fromhex("abcd8105") + bytes(8), "REFUSED"),
    (None, "dropped"),
])
def test_dns_queries_count_by_transport_and_rcode(answer, rcode):
    before = sample("dnsgate_dns_queries_total", transport="udp", rcode=rcode)
    other = sample("dnsgate_dns_queries_total", transport="tcp", rcode=rcode)
    metrics.count_dns_query(answer, "udp")
    assert sample("dnsgate_dns_queries_total", transport="udp", rcode=rcode) == before + 1
    assert sample("dnsgate_dns_queries_total", transport="tcp", rcode=rcode) == other


def test_journal_lag_is_set_per_server():
    metrics.set_journal_lag("192.0.2.1:53", entries=12, seconds=0.5)
    metrics.set_journal_lag("192.0.2.2:53", entries=0, seconds=0.0)
    assert sample("dnsgate_journal_lag_entries", server="192.0.2.1:53") == 12
    assert sample("dnsgate_journal_lag_seconds", server="192.0.2.1:53") == 0.5
    assert sample("dnsgate_journal_lag_entries", server="192.0.2.2:53") == 0
    metrics.set_journal_lag("192.0.2.1:53", seconds=2.0)  # one of the two: the other stays
    assert sample("dnsgate_journal_lag_entries", server="192.0.2.1:53") == 12
    assert sample("dnsgate_journal_lag_seconds", server="192.0.2.1:53") == 2.0


def test_group_commit_batches_fall_in_their_buckets():
    at_most_8 = sample("dnsgate_group_commit_batch_size_bucket", le="8.0")
    at_most_4 = sample("dnsgate_group_commit_batch_size_bucket", le="4.0")
    metrics.observe_batch(5)
    assert sample("dnsgate_group_commit_batch_size_bucket", le="8.0") == at_most_8 + 1
    assert sample("dnsgate_group_commit_batch_size_bucket", le="4.0") == at_most_4


def test_rate_limit_refusals_count_by_limit():
    before = sample("dnsgate_rate_limit_refusals_total", limit="token_write")
    metrics.count_rate_limit_refusal("token_write")
    assert sample("dnsgate_rate_limit_refusals_total", limit="token_write") == before + 1


def test_jobs_count_runs_and_remember_the_last_success():
    failed = sample("dnsgate_jobs_total", job="refusal_audit", outcome="error")
    metrics.count_job("refusal_audit", "error")
    assert sample("dnsgate_jobs_total", job="refusal_audit", outcome="error") == failed + 1
    assert sample("dnsgate_job_last_success_timestamp_seconds", job="never_ok") == 0
    metrics.count_job("refusal_audit", "ok")
    last = sample("dnsgate_job_last_success_timestamp_seconds", job="refusal_audit")
    assert abs(last - time.time()) < 5
