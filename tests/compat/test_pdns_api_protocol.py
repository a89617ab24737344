"""The PowerDNS API facade (``/pdns/api/v1/...`` and ``/api/v1/servers/...``), in process.

On the built-in store, and once on a real PowerDNS behind dnsgate (the facade
fronts whichever backend holds the zone).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import pdns
from tests.support.acme import break_backends, client_of, limited_app
from tests.support.api import audit_events, audit_text
from tests.support.factories import bearer

ZONE = "example.test"
BASE = "/pdns/api/v1/servers/localhost"
ZONE_URL = f"{BASE}/zones/{ZONE}."


@pytest.fixture
async def lab(world) -> Any:
    """A token of a subtree realm on lab.example.test (A, TXT, CNAME), with
    www.example.test (outside it) holding an A record."""
    from dnsgate.services import records
    from dnsgate.services.context import SYSTEM_CALLER, SYSTEM_CONTEXT
    from dnsgate.services.records import ChangeInput

    await world.zone(ZONE)
    await world.zone("other.test")
    account = world.account("alice")
    realm = world.realm(account, ZONE, "lab", kind="subtree", types=["A", "TXT", "CNAME"])
    await records.apply_changes(world.env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, zone=ZONE,
                                inputs=[ChangeInput("upsert", "www.example.test", "A", 300,
                                                    ["192.0.2.80"]),
                                        ChangeInput("upsert", "a.lab.example.test", "A", 300,
                                                    ["192.0.2.1"])])
    return world.token(realm)


def key(secret: str) -> dict[str, str]:
    return {"X-API-Key": secret}


async def _records(client: httpx.AsyncClient, admin: str, name: str, rtype: str,
                   zone: str = ZONE) -> list[str]:
    response = await client.get(f"/api/v1/zones/{zone}/rrsets",
                                params={"name": name, "type": rtype}, headers=bearer(admin))
    assert response.status_code == 200, response.text
    return [r for rr in response.json() for r in rr["records"]]


def _replace(name: str, rtype: str, contents: list[str], ttl: int | None = 120
             ) -> dict[str, Any]:
    rrset: dict[str, Any] = {"name": name, "type": rtype, "changetype": "REPLACE",
                             "records": [{"content": c, "disabled": False} for c in contents]}
    if ttl is not None:
        rrset["ttl"] = ttl
    return rrset


async def test_api_versions_and_server(client, lab) -> None:
    versions = await client.get("/pdns/api", headers=key(lab.secret))
    assert versions.status_code == 200
    assert versions.json() == [{"url": "/api/v1", "version": 1}]
    servers = await client.get(f"{BASE[:-len('/localhost')]}", headers=key(lab.secret))
    assert [s["id"] for s in servers.json()] == ["localhost"]
    server = await client.get(BASE, headers=key(lab.secret))
    assert server.status_code == 200
    body = server.json()
    assert body["id"] == "localhost" and body["daemon_type"] == "authoritative"
    assert [int(p) for p in body["version"].split(".")[:2]] >= [4, 2]
    other = await client.get("/pdns/api/v1/servers/other", headers=key(lab.secret))
    assert other.status_code == 404
    assert other.json() == {"error": "Not Found"}


async def test_zones_list_shows_the_tokens_zone(client, lab) -> None:
    response = await client.get(f"{BASE}/zones", headers=key(lab.secret))
    assert response.status_code == 200
    zones = response.json()
    assert [z["name"] for z in zones] == ["example.test."]
    assert zones[0]["id"] == "example.test."
    assert zones[0]["url"] == "/api/v1/servers/localhost/zones/example.test."
    assert zones[0]["kind"] == "Native"
    assert "rrsets" not in zones[0]
    filtered = await client.get(f"{BASE}/zones", params={"zone": "other.test."},
                                headers=key(lab.secret))
    assert filtered.json() == []
    same = await client.get(f"{BASE}/zones", params={"zone": "Example.TEST."},
                            headers=key(lab.secret))
    assert [z["name"] for z in same.json()] == ["example.test."]
    junk = await client.get(f"{BASE}/zones", params={"zone": "bad..name"},
                            headers=key(lab.secret))
    assert junk.json() == []


async def test_zone_shows_only_the_realm(client, lab) -> None:
    response = await client.get(ZONE_URL, headers=key(lab.secret))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "example.test." and body["id"] == "example.test."
    assert body["rrsets"] == [{"name": "a.lab.example.test.", "type": "A", "ttl": 300,
                               "records": [{"content": "192.0.2.1", "disabled": False}],
                               "comments": []}]
    without_dot = await client.get(f"{BASE}/zones/{ZONE}", headers=key(lab.secret))
    assert without_dot.json()["rrsets"] == body["rrsets"]
    bare = await client.get(ZONE_URL, params={"rrsets": "false"}, headers=key(lab.secret))
    assert "rrsets" not in bare.json()
    one = await client.get(ZONE_URL, params={"rrset_name": "a.lab.example.test.",
                                             "rrset_type": "TXT"}, headers=key(lab.secret))
    assert one.json()["rrsets"] == []


async def test_admin_sees_soa_and_serial(client, lab, admin) -> None:
    response = await client.get(ZONE_URL, headers=key(admin))
    body = response.json()
    assert {rr["type"] for rr in body["rrsets"]} >= {"SOA", "NS", "A"}
    assert body["serial"] > 0


async def test_patch_replace_and_delete(client, lab, admin) -> None:
    patch = {"rrsets": [
        _replace("web.lab.example.test.", "A", ["192.0.2.10", "192.0.2.11"], ttl=600),
        _replace("_acme-challenge.lab.example.test.", "TXT", ['"v1"', '"v2"']),
        {"name": "a.lab.example.test.", "type": "A", "changetype": "DELETE"},
    ]}
    response = await client.patch(ZONE_URL, json=patch, headers=key(lab.secret))
    assert response.status_code == 204, response.text
    assert response.content == b""
    state = (await client.get(ZONE_URL, headers=key(lab.secret))).json()["rrsets"]
    by_name = {(rr["name"], rr["type"]): rr for rr in state}
    assert set(by_name) == {("web.lab.example.test.", "A"),
                            ("_acme-challenge.lab.example.test.", "TXT")}
    assert by_name[("web.lab.example.test.", "A")]["ttl"] == 600  # the client's ttl
    assert [r["content"] for r in by_name[("_acme-challenge.lab.example.test.", "TXT")]
            ["records"]] == ['"v1"', '"v2"']
    # REPLACE with no records deletes, as in PowerDNS; lowercase changetype is fine
    empty = {"rrsets": [{"name": "web.lab.example.test.", "type": "A", "ttl": 60,
                         "changetype": "replace", "records": []}]}
    assert (await client.patch(ZONE_URL, json=empty, headers=key(lab.secret))).status_code == 204
    assert await _records(client, admin, "web.lab.example.test", "A") == []


async def test_patch_is_all_or_nothing(client, lab, admin, env) -> None:
    patch = {"rrsets": [
        _replace("ok.lab.example.test.", "A", ["192.0.2.20"]),
        _replace("www.example.test.", "A", ["192.0.2.66"]),
    ]}
    response = await client.patch(ZONE_URL, json=patch, headers=key(lab.secret))
    assert response.status_code == 403, response.text
    assert "name_outside_realm" in response.json()["error"]
    assert await _records(client, admin, "ok.lab.example.test", "A") == []
    assert await _records(client, admin, "www.example.test", "A") == ["192.0.2.80"]
    denied = audit_events(env, outcome="denied", name="www.example.test")
    assert denied and denied[-1].details["surface"] == "pdns-api"
    suffix = {"rrsets": [_replace("evillab.example.test.", "A", ["192.0.2.1"])]}
    assert (await client.patch(ZONE_URL, json=suffix, headers=key(lab.secret))).status_code == 403


@pytest.mark.parametrize(("body", "status", "message"), [
    (b"{nope", 400, "Bad Request"),
    (b"[]", 422, "No rrsets given in update request"),
    (b"{}", 422, "No rrsets given in update request"),
    (b'{"rrsets": []}', 422, "No rrsets given in update request"),
    (b'{"rrsets": "x"}', 422, "No rrsets given in update request"),
    (b'{"rrsets": [5]}', 422, "each rrset must be an object"),
    (b'{"rrsets": [{"type": "A", "changetype": "DELETE"}]}', 422, "Key 'name' not present"),
    (b'{"rrsets": [{"name": "x.lab.example.test.", "changetype": "DELETE"}]}', 422,
     "Key 'type' not present"),
    (b'{"rrsets": [{"name": "x.lab.example.test.", "type": "A", "changetype": "BOGUS"}]}',
     422, "Changetype not understood"),
    (b'{"rrsets": [{"name": "x.lab.example.test.", "type": "A", "changetype": "REPLACE"}]}',
     422, "Key 'records' not present"),
    (b'{"rrsets": [{"name": "x.lab.example.test.", "type": "A", "changetype": "REPLACE",'
     b' "ttl": "soon", "records": [{"content": "192.0.2.1"}]}]}', 422, "Key 'ttl'"),
    (b'{"rrsets": [{"name": "x.lab.example.test.", "type": "A", "changetype": "REPLACE",'
     b' "ttl": 60, "records": [{"disabled": false}]}]}', 422, "Key 'content'"),
    (b'{"rrsets": [{"name": "x.lab.example.test.", "type": "A", "changetype": "REPLACE",'
     b' "ttl": 60, "records": [{"content": "192.0.2.1", "disabled": true}]}]}', 422,
     "disabled records"),
    (b'{"rrsets": [{"name": "x.lab.example.test.", "type": "A", "changetype": "REPLACE",'
     b' "ttl": 60, "records": [{"content": "192.0.2.1"}], "comments": [{"content": "c"}]}]}',
     422, "comments are not supported"),
    (b'{"rrsets": [{"name": "x.lab.example.test.", "type": "A", "changetype": "REPLACE",'
     b' "ttl": 60, "records": [{"content": "not-an-ip"}]}]}', 422, "invalid A record"),
    (b'{"rrsets": [{"name": "x.other.test.", "type": "A", "changetype": "REPLACE",'
     b' "ttl": 60, "records": [{"content": "192.0.2.1"}]}]}', 422, "not in zone"),
    (b'{"rrsets": [{"name": "x.lab.example.test.", "type": "A", "changetype": "REPLACE",'
     b' "ttl": 5, "records": [{"content": "192.0.2.1"}]}]}', 422, "ttl"),
    (b'{"rrsets": [{"name": "x.lab.example.test.", "type": "A", "changetype": "DELETE"},'
     b' {"name": "x.lab.example.test.", "type": "A", "changetype": "DELETE"}]}', 422,
     "twice"),
], ids=lambda v: v.decode()[:40] if isinstance(v, bytes) else str(v))
async def test_patch_bad_input(client, lab, admin, body, status, message) -> None:
    response = await client.patch(ZONE_URL, content=body,
                                  headers={**key(lab.secret), "content-type": "application/json"})
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert message.lower() in response.json()["error"].lower()
    assert await _records(client, admin, "x.lab.example.test", "A") == []
    assert await _records(client, admin, "a.lab.example.test", "A") == ["192.0.2.1"]


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "nope"},
                                     {"X-API-Key": "dg_aaaaaaaaaaaaaaaa_" + "a" * 52},
                                     {"Authorization": "Bearer x"}])
@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/pdns/api"), ("GET", BASE), ("GET", f"{BASE}/zones"), ("GET", ZONE_URL),
    ("PATCH", ZONE_URL), ("PUT", f"{ZONE_URL}/notify"),
])
async def test_bad_key_is_401(client, lab, headers, method, path) -> None:
    response = await client.request(method, path, headers=headers, json={"rrsets": []})
    assert response.status_code == 401, response.text
    assert response.json() == {"error": "Unauthorized"}
    assert "X-API-Key" in response.headers["www-authenticate"]


async def test_revoked_and_expired_tokens_are_401(client, lab, env) -> None:
    from dnsgate.services import tokens
    from dnsgate.services.context import SYSTEM_CALLER, SYSTEM_CONTEXT

    tokens.revoke_token(env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, token_id=lab.id)
    for method, path in (("GET", ZONE_URL), ("GET", f"{BASE}/zones")):
        response = await client.request(method, path, headers=key(lab.secret))
        assert response.status_code == 401, response.text
        assert response.json() == {"error": "Unauthorized"}


async def test_unknown_zone_is_404(client, lab) -> None:
    for method, path in (("GET", f"{BASE}/zones/nope.test."),
                         ("GET", f"{BASE}/zones/other.test."),  # exists, not the token's
                         ("GET", f"{BASE}/zones/bad..name"),
                         ("PATCH", f"{BASE}/zones/nope.test."),
                         ("PUT", f"{BASE}/zones/nope.test./notify"),
                         ("GET", "/pdns/api/v1/servers/localhost/config"),
                         ("DELETE", ZONE_URL)):
        response = await client.request(method, path, headers=key(lab.secret),
                                        json={"rrsets": [_replace("x.nope.test.", "A",
                                                                  ["192.0.2.1"])]})
        assert response.status_code == 404, (method, path, response.text)
        assert response.json() == {"error": "Not Found"}


async def test_notify_is_accepted(client, lab) -> None:
    response = await client.put(f"{ZONE_URL}/notify", headers=key(lab.secret))
    assert response.status_code == 200
    assert response.json() == {"result": "Notification queued"}


async def test_root_mount_for_clients_without_a_base_path(client, lab) -> None:
    response = await client.get("/api/v1/servers/localhost/zones/example.test.",
                                headers=key(lab.secret))
    assert response.status_code == 200
    assert [rr["name"] for rr in response.json()["rrsets"]] == ["a.lab.example.test."]
    assert (await client.get("/api", headers=key(lab.secret))).json()[0]["version"] == 1
    missing = await client.get("/api/v1/servers/localhost/nothing", headers=key(lab.secret))
    assert missing.json() == {"error": "Not Found"}
    # the REST API next to it is untouched
    assert (await client.get("/api/v1/zones", headers=bearer(lab.secret))).status_code == 200


async def test_rate_limit_is_429(settings, env, lab) -> None:
    patch = {"rrsets": [_replace("r.lab.example.test.", "A", ["192.0.2.5"])]}
    async with await client_of(limited_app(settings, env)) as client:
        assert (await client.patch(ZONE_URL, json=patch, headers=key(lab.secret))
                ).status_code == 204
        second = await client.patch(ZONE_URL, json=patch, headers=key(lab.secret))
    assert second.status_code == 429
    assert "retry-after" in second.headers
    assert "error" in second.json()


@pytest.mark.parametrize("slow", [False, True])
async def test_backend_failure(client, lab, monkeypatch, env, slow) -> None:
    break_backends(monkeypatch, env, timeout=slow)
    response = await client.get(ZONE_URL, headers=key(lab.secret))
    assert response.status_code == (504 if slow else 502)
    assert "connection refused" not in response.text
    patch = {"rrsets": [_replace("r.lab.example.test.", "A", ["192.0.2.5"])]}
    failed = await client.patch(ZONE_URL, json=patch, headers=key(lab.secret))
    assert failed.status_code == (504 if slow else 502)


async def test_audit_surface_and_no_secrets(client, lab, env) -> None:
    patch = {"rrsets": [_replace("s.lab.example.test.", "A", ["192.0.2.9"])]}
    assert (await client.patch(ZONE_URL, json=patch, headers=key(lab.secret))).status_code == 204
    created = audit_events(env, action="rrset.create", name="s.lab.example.test")
    assert created and created[-1].details["surface"] == "pdns-api"
    assert created[-1].actor_id == lab.id
    text = audit_text(env)
    assert lab.secret not in text and lab.secret.split("_")[2] not in text


# --- a real PowerDNS behind the facade -----------------------------------------

@pytest.fixture(scope="module")
def powerdns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pdns.PowerDNS]:
    server = pdns.start(tmp_path_factory.mktemp("pdns-facade") / "pdns")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def upstream(world, powerdns: pdns.PowerDNS) -> tuple[str, Any]:
    """A zone on the real PowerDNS (through a dnsgate backend) and a token of a
    subtree realm ``app`` in it."""
    from dnsgate.services import backends
    from dnsgate.services.context import SYSTEM_CALLER, SYSTEM_CONTEXT

    zone = f"z{uuid.uuid4().hex[:10]}.test"
    powerdns.create_zone(zone)
    backends.add_backend(world.env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, name="pdns",
                         provider="powerdns",
                         config={"api_url": powerdns.api_url, "api_key": powerdns.api_key})
    await world.zone(zone, backend="pdns")
    account = world.account("upstream")
    realm = world.realm(account, zone, "app", kind="subtree", types=["A", "TXT"])
    return zone, world.token(realm)


async def test_fronts_a_powerdns_zone(client, upstream, powerdns, admin, tmp_path: Path
                                      ) -> None:
    zone, token = upstream
    url = f"{BASE}/zones/{zone}."
    patch = {"rrsets": [_replace(f"_acme-challenge.app.{zone}.", "TXT", ['"one"', '"two"']),
                        _replace(f"www.app.{zone}.", "A", ["192.0.2.44"], ttl=900)]}
    response = await client.patch(url, json=patch, headers=key(token.secret))
    assert response.status_code == 204, response.text
    upstream_state = powerdns.api("GET", f"/zones/{zone}.").json()["rrsets"]
    by_key = {(rr["name"], rr["type"]): rr for rr in upstream_state}
    assert by_key[(f"www.app.{zone}.", "A")]["ttl"] == 900
    assert sorted(r["content"] for r in by_key[(f"_acme-challenge.app.{zone}.", "TXT")]
                  ["records"]) == ['"one"', '"two"']
    seen = (await client.get(url, headers=key(token.secret))).json()["rrsets"]
    assert {(rr["name"], rr["type"]) for rr in seen} == {
        (f"www.app.{zone}.", "A"), (f"_acme-challenge.app.{zone}.", "TXT")}
    refused = await client.patch(url, json={"rrsets": [_replace(f"x.{zone}.", "A",
                                                                ["192.0.2.1"])]},
                                 headers=key(token.secret))
    assert refused.status_code == 403
    assert (f"x.{zone}.", "A") not in {(rr["name"], rr["type"]) for rr in
                                       powerdns.api("GET", f"/zones/{zone}.").json()["rrsets"]}
    delete = {"rrsets": [{"name": f"www.app.{zone}.", "type": "A", "changetype": "DELETE"}]}
    assert (await client.patch(url, json=delete, headers=key(token.secret))).status_code == 204
    assert (f"www.app.{zone}.", "A") not in {
        (rr["name"], rr["type"]) for rr in powerdns.api("GET", f"/zones/{zone}.").json()["rrsets"]}
