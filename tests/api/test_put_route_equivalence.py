"""The plain routes first in the table answer as FastAPI's routes would.

``app.py`` serves the machine PUT and the dyndns2 update through plain
Starlette routes at the head of the route table; the PUT's FastAPI route (the
one in the OpenAPI document) stays behind them, never reached. Here that
FastAPI route, and the update's endpoint on a FastAPI route, are also mounted
at the end of the table under ``/via-router``, so a request there walks the
whole router and FastAPI's route machinery. Every case must get the same
status, headers (but the date and the request id) and body (but the request
id) both ways.
"""

from __future__ import annotations

import base64

import httpx
import pytest
from fastapi import APIRouter

from dnsgate.api import records
from dnsgate.compat import dyndns2
from dnsgate.services import tokens
from dnsgate.services.context import SYSTEM_CALLER, SYSTEM_CONTEXT
from tests.support.factories import bearer

TWIN = "/via-router"
JSON = {"content-type": "application/json"}


@pytest.fixture
def app(app):  # extends the fixture of tests/conftest.py
    app.include_router(records.router, prefix=f"{TWIN}/api/v1", include_in_schema=False)
    update = APIRouter(include_in_schema=False)
    update.add_api_route("/nic/update", dyndns2.nic_update, methods=["GET", "POST"])
    app.include_router(update, prefix=TWIN)
    return app


def test_the_plain_routes_come_first_and_the_put_is_documented(app):
    first, second = app.router.routes[:2]
    assert (first.path, first.methods) == ("/api/v1/zones/{zone}/rrsets/{name}/{type}", {"PUT"})
    assert (second.path, second.methods) == ("/nic/update", {"GET", "POST"})
    put = app.openapi()["paths"]["/api/v1/zones/{zone}/rrsets/{name}/{type}"]["put"]
    assert put["requestBody"]["content"]["application/json"]["schema"]["title"] == "RRsetBody"
    assert [p["name"] for p in put["parameters"]] == ["zone", "name", "type"]


@pytest.fixture
async def secrets(world, zone, env) -> dict[str, str]:
    alice = world.account("alice")
    realm = world.realm(alice, zone, "home", kind="host", types=["A", "AAAA"])
    revoked = world.token(realm)
    tokens.revoke_token(env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, token_id=revoked.id)
    return {"token": world.token(realm).secret,
            "read_only": world.token(realm, operations=["read"]).secret,
            "revoked": revoked.secret}


def _seen(response: httpx.Response, *swaps: tuple[bytes, bytes]) -> object:
    """Status, headers and body, without the date and the request id (and
    with ``swaps`` made in the body)."""
    request_id = response.headers.get("x-request-id", "").encode()
    headers = sorted((k, v) for k, v in response.headers.multi_items()
                     if k not in ("date", "x-request-id", "content-length"))
    body = response.content
    for old, new in ((request_id, b"<id>"), *swaps):
        body = body.replace(old, new) if old else body
    return response.status_code, headers, body


PUT_CASES = [
    # (case, path after /api/v1, secret name or raw Authorization, body, headers)
    ("updates", "/zones/example.test/rrsets/home.example.test/A", "token",
     b'{"ttl": 300, "records": ["192.0.2.1"]}', JSON),
    ("bad JSON", "/zones/example.test/rrsets/home.example.test/A", "token",
     b'{"records": [', JSON),
    ("empty body", "/zones/example.test/rrsets/home.example.test/A", "token", b"", JSON),
    ("not JSON at all", "/zones/example.test/rrsets/home.example.test/A", "token",
     b"records=192.0.2.1", {"content-type": "application/x-www-form-urlencoded"}),
    ("no content type", "/zones/example.test/rrsets/home.example.test/A", "token",
     b'{"records": ["192.0.2.1"]}', {}),
    ("unknown field", "/zones/example.test/rrsets/home.example.test/A", "token",
     b'{"records": ["192.0.2.1"], "comment": "x"}', JSON),
    ("no records", "/zones/example.test/rrsets/home.example.test/A", "token",
     b'{"records": []}', JSON),
    ("a lone surrogate", "/zones/example.test/rrsets/home.example.test/A", "token",
     b'{"records": ["\\ud800"]}', JSON),
    ("unknown zone", "/zones/nope.test/rrsets/home.nope.test/A", "token",
     b'{"records": ["192.0.2.1"]}', JSON),
    ("bad name", "/zones/example.test/rrsets/a..b.example.test/A", "token",
     b'{"records": ["192.0.2.1"]}', JSON),
    ("name outside the realm", "/zones/example.test/rrsets/other.example.test/A", "token",
     b'{"records": ["192.0.2.1"]}', JSON),
    ("bad type", "/zones/example.test/rrsets/home.example.test/BOGUS", "token",
     b'{"records": ["192.0.2.1"]}', JSON),
    ("type outside the realm", "/zones/example.test/rrsets/home.example.test/TXT", "token",
     b'{"records": ["\\"x\\""]}', JSON),
    ("TTL out of range", "/zones/example.test/rrsets/home.example.test/A", "token",
     b'{"ttl": -1, "records": ["192.0.2.1"]}', JSON),
    ("TTL not a number", "/zones/example.test/rrsets/home.example.test/A", "token",
     b'{"ttl": "soon", "records": ["192.0.2.1"]}', JSON),
    ("bad record", "/zones/example.test/rrsets/home.example.test/A", "token",
     b'{"records": ["not-an-address"]}', JSON),
    ("no credential", "/zones/example.test/rrsets/home.example.test/A", None,
     b'{"records": ["192.0.2.1"]}', JSON),
    ("bad token", "/zones/example.test/rrsets/home.example.test/A", "Bearer dg_nope_nope",
     b'{"records": ["192.0.2.1"]}', JSON),
    ("other scheme", "/zones/example.test/rrsets/home.example.test/A", "Basic Zm9vOmJhcg==",
     b'{"records": ["192.0.2.1"]}', JSON),
    ("revoked token", "/zones/example.test/rrsets/home.example.test/A", "revoked",
     b'{"records": ["192.0.2.1"]}', JSON),
    ("operation not allowed", "/zones/example.test/rrsets/home.example.test/A", "read_only",
     b'{"records": ["192.0.2.1"]}', JSON),
    ("body too large", "/zones/example.test/rrsets/home.example.test/A", "token",
     b'{"records": ["' + b"1" * 70_000 + b'"]}', JSON),
]


@pytest.mark.parametrize(("case", "path", "credential", "body", "headers"), PUT_CASES,
                         ids=[case[0] for case in PUT_CASES])
async def test_put_answers_the_same_first_and_through_the_router(client, secrets, case, path,
                                                                credential, body, headers):
    sent = dict(headers)
    if credential in secrets:
        sent.update(bearer(secrets[credential]))
    elif credential is not None:
        sent["Authorization"] = credential
    first = await client.put(f"/api/v1{path}", content=body, headers=sent)
    routed = await client.put(f"{TWIN}/api/v1{path}", content=body, headers=sent)
    assert _seen(first) == _seen(routed), case
    assert first.status_code == 200 if case == "updates" else first.status_code >= 400


DYNDNS_CASES = [  # {ip}: another address on each path, so both are changes
    ("good", "hostname=home.example.test&myip={ip}", "token"),
    ("no credential", "hostname=home.example.test&myip={ip}", None),
    ("bad password", "hostname=home.example.test&myip={ip}", "dg_nope_nope"),
    ("revoked token", "hostname=home.example.test&myip={ip}", "revoked"),
    ("read-only token", "hostname=home.example.test&myip={ip}", "read_only"),
    ("no hostname", "myip={ip}", "token"),
    ("name outside the realm", "hostname=other.example.test&myip={ip}", "token"),
    ("unknown zone", "hostname=home.nope.test&myip={ip}", "token"),
    ("bad address", "hostname=home.example.test&myip=999.0.0.1", "token"),
]


@pytest.mark.parametrize(("case", "query", "credential"), DYNDNS_CASES,
                         ids=[case[0] for case in DYNDNS_CASES])
async def test_dyndns2_update_answers_the_same_first_and_through_the_router(
        client, secrets, case, query, credential):
    headers = {}
    if credential is not None:
        password = secrets.get(credential, credential)
        headers["Authorization"] = "Basic " + base64.b64encode(
            f"user:{password}".encode()).decode()
    first = await client.get("/nic/update?" + query.format(ip="192.0.2.7"), headers=headers)
    routed = await client.get(f"{TWIN}/nic/update?" + query.format(ip="192.0.2.8"),
                              headers=headers)
    assert _seen(first) == _seen(routed, (b"192.0.2.8", b"192.0.2.7")), case
