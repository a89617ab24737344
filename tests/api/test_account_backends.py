"""``/api/v1/account/backends`` over HTTP: an account's own backends as the
portal manages them, the egress guard on every path (creation, check, use),
and no upstream words for their owner: only a category."""

from __future__ import annotations

import dataclasses
import json

import pytest
from sqlalchemy import select

from dnsgate.backends import failures
from dnsgate.backends.registry import BackendRegistry
from dnsgate.db.models import AuditEvent, Backend, Realm, Token, Zone
from dnsgate.services import own_dns, tokens
from dnsgate.services.context import SYSTEM_CALLER, SYSTEM_CONTEXT, RequestContext
from tests.support.factories import bearer
from tests.support.upstream import STALL, Upstream, pdns_like

PATH = "/api/v1/account/backends"
SECRET = "pdns-key-SECRET-1"
#: Words an upstream says that must never come back to the account.
UPSTREAM_WORDS = "SECRET-UPSTREAM-WORDS"


@pytest.fixture
def settings(settings):
    """The accounts' own PowerDNS runs on loopback here: the operator opens it."""
    from dnsgate.config import Settings

    return Settings(**{**settings.model_dump(), "byod_allow_networks": "127.0.0.0/8,::1"})


@pytest.fixture(autouse=True)
async def _close_adapters(env):
    yield
    await env.backends.aclose()  # the adapters the app opened keep HTTP sessions


@pytest.fixture
async def upstream():
    server = await Upstream().start()
    yield server
    await server.stop()


@pytest.fixture
def alice(world) -> str:
    return world.api_key(world.account("alice"))


def _body(name: str, url: str, **config: object) -> dict[str, object]:
    return {"name": name, "provider": "powerdns",
            "config": {"api_url": url, "api_key": SECRET, "timeout": 1, **config}}


async def _add(client, key: str, url: str, name: str = "home") -> dict:
    added = await client.post(PATH, headers=bearer(key), json=_body(name, url))
    assert added.status_code == 201, added.text
    return added.json()


def _audit_text(env) -> str:
    with env.db.read() as session:
        return json.dumps([e.details for e in session.scalars(select(AuditEvent))])


async def test_add_list_get_with_secrets_masked(client, world, alice, upstream):
    added = await _add(client, alice, upstream.url)
    assert added["config"]["api_key"] == "**********" and SECRET not in json.dumps(added)
    assert added["owner_account_id"] is not None and added["health_status"] == "unknown"
    listed = await client.get(PATH, headers=bearer(alice))
    assert [b["name"] for b in listed.json()] == ["home"]
    one = await client.get(f"{PATH}/home", headers=bearer(alice))
    assert one.status_code == 200 and one.json()["id"] == added["id"]
    bob = world.api_key(world.account("bob"))
    assert (await client.get(PATH, headers=bearer(bob))).json() == []
    assert upstream.connections == 0  # saving talks to nobody


async def test_providers_are_those_the_operator_opened(client, alice):
    for provider, config in (("lexicon", {"provider_name": "cloudflare"}), ("builtin", {})):
        refused = await client.post(PATH, headers=bearer(alice), json={
            "name": "x", "provider": provider, "config": config})
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == "application/problem+json"


async def test_another_accounts_backend_does_not_exist(client, world, alice, upstream, admin):
    await _add(client, alice, upstream.url)
    bob = world.api_key(world.account("bob"))
    platform = await client.post("/api/v1/admin/backends", headers=bearer(admin), json={
        "name": "platform", "provider": "powerdns",
        "config": {"api_url": upstream.url, "api_key": "k"}})
    assert platform.status_code == 201
    for key, name in ((bob, "home"), (alice, "platform"), (alice, "nothing")):
        for method, path in (("GET", f"{PATH}/{name}"), ("POST", f"{PATH}/{name}/check"),
                             ("GET", f"{PATH}/{name}/zones"), ("DELETE", f"{PATH}/{name}")):
            answer = await client.request(method, path, headers=bearer(key))
            assert answer.status_code == 404, (method, path, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
    assert upstream.connections == 0
    assert (await client.get(f"{PATH}/home", headers=bearer(alice))).status_code == 200


CASES = [
    # (what the upstream does, the category the account sees)
    (lambda _r: (401, {"error": UPSTREAM_WORDS}), failures.AUTH_REFUSED),
    (lambda _r: (200, f"<html>{UPSTREAM_WORDS}</html>".encode()), failures.BAD_ANSWER),
    (lambda _r: (500, {"error": UPSTREAM_WORDS}), failures.BAD_ANSWER),
    (lambda _r: STALL, failures.TIMED_OUT),
]


@pytest.mark.parametrize(("answer", "category"), CASES)
async def test_a_failed_check_says_its_category_only(client, env, alice, upstream, answer,
                                                     category):
    upstream.answer = answer
    await _add(client, alice, upstream.url)
    checked = await client.post(f"{PATH}/home/check", headers=bearer(alice))
    assert checked.status_code == 200, checked.text
    body = checked.json()
    assert (body["health_status"], body["health_category"]) == ("failing", category)
    assert body["health_message"] == failures.sentence(category)
    assert upstream.requests  # it did ask
    own_audit = await client.get("/api/v1/account/audit", headers=bearer(alice))
    for text in (checked.text, own_audit.text, _audit_text(env)):
        assert UPSTREAM_WORDS not in text and SECRET not in text
    assert '"category": "' + category in _audit_text(env)


async def test_a_passed_check_and_the_zones(client, env, alice, upstream):
    await _add(client, alice, upstream.url)
    checked = (await client.post(f"{PATH}/home/check", headers=bearer(alice))).json()
    assert (checked["health_status"], checked["health_category"]) == ("ok", None)
    assert checked["health_message"] == failures.CHECK_PASSED
    assert "SECRET-BANNER" not in json.dumps(checked) + _audit_text(env)  # the version text
    zones = await client.get(f"{PATH}/home/zones", headers=bearer(alice))
    assert zones.status_code == 200 and zones.json() == ["own.test"]

    upstream.answer = lambda _r: (503, {"error": UPSTREAM_WORDS})
    failed = await client.get(f"{PATH}/home/zones", headers=bearer(alice))
    assert failed.status_code == 502 and failed.json()["code"] == "backend_unavailable"
    assert failed.json()["detail"] == failures.public(failures.BAD_ANSWER)
    assert UPSTREAM_WORDS not in failed.text


async def test_a_closed_port_cannot_connect(client, alice, upstream):
    port = upstream.port
    await upstream.stop()
    await _add(client, alice, f"http://127.0.0.1:{port}")
    checked = (await client.post(f"{PATH}/home/check", headers=bearer(alice))).json()
    assert checked["health_category"] == failures.CANNOT_CONNECT


async def test_loopback_is_refused_without_the_setting(settings, env, make_client, world,
                                                       upstream):
    from dnsgate.app import create_app

    strict_env = dataclasses.replace(env, backends=BackendRegistry(
        env.db, env.key, byod_providers=settings.byod_provider_names))
    app = create_app(settings, env=strict_env, migrate_on_start=False)
    key = world.api_key(world.account("carol"))
    async with make_client(app) as client:
        literal = await client.post(PATH, headers=bearer(key), json=_body("lit", upstream.url))
        assert literal.status_code == 422 and literal.json()["code"] == "invalid_request"
        assert "api_url" in literal.json()["detail"] and "public" in literal.json()["detail"]
        named = await _add(client, key, f"http://localhost:{upstream.port}", name="named")
        checked = await client.post(f"{PATH}/named/check", headers=bearer(key))
        assert checked.json()["health_category"] == failures.CANNOT_CONNECT
        zones = await client.get(f"{PATH}/named/zones", headers=bearer(key))
        assert zones.status_code == 502
        assert zones.json()["detail"] == failures.public(failures.CANNOT_CONNECT)
    await strict_env.backends.aclose()
    assert named["name"] == "named"
    assert upstream.connections == 0  # nothing reached the loopback server


async def test_an_edit_passes_the_guard_and_a_zone_is_used_for_a_realm(client, alice,
                                                                       upstream):
    await _add(client, alice, upstream.url)
    moved = await client.patch(f"{PATH}/home", headers=bearer(alice),
                               json={"config": {"api_url": "http://10.0.0.1:8081"}})
    assert moved.status_code == 422 and "api_url" in moved.json()["detail"]
    kept = await client.patch(f"{PATH}/home", headers=bearer(alice),
                              json={"config": {"api_key": "**********", "timeout": 3}})
    assert kept.status_code == 200 and kept.json()["config"]["timeout"] == 3
    used = await client.post(f"{PATH}/home/zones", headers=bearer(alice),
                             json={"zone": "own.test", "name": "www", "kind": "host"})
    assert used.status_code == 201, used.text
    assert (used.json()["zone"], used.json()["name"], used.json()["status"]) == (
        "own.test", "www.own.test", "approved")
    disabled = await client.patch(f"{PATH}/home", headers=bearer(alice),
                                  json={"status": "disabled"})
    assert disabled.json()["status"] == "disabled"
    assert upstream.requests  # the zone was looked up at the provider, at 127.0.0.1


async def test_delete_removes_the_backend_with_its_zones_realms_and_tokens(
        client, env, world, alice, upstream):
    added = await _add(client, alice, upstream.url)
    owner = added["owner_account_id"]
    realm = await own_dns.use_zone(env, RequestContext(), caller=world.caller(owner),
                                   backend_id=added["id"], zone="own.test", name="www",
                                   kind="host")
    token, _ = tokens.create_token(env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER,
                                   realm_id=realm.id)
    bob = world.api_key(world.account("bob"))
    assert (await client.delete(f"{PATH}/home", headers=bearer(bob))).status_code == 404

    deleted = await client.delete(f"{PATH}/home", headers=bearer(alice))
    assert deleted.status_code == 204, deleted.text
    with env.db.read() as session:
        assert session.get(Backend, added["id"]) is None
        assert session.scalars(select(Zone).where(Zone.name == "own.test")).first() is None
        assert session.get(Realm, realm.id) is None and session.get(Token, token.id) is None
        event = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "backend.delete")).one()
    assert (event.details["name"], event.details["zones"]) == ("home", ["own.test"])
    assert (await client.get(f"{PATH}/home", headers=bearer(alice))).status_code == 404


async def test_writes_to_an_own_backend_carry_no_upstream_words(client, env, world, alice,
                                                                upstream):
    from dnsgate.services.records import UNKNOWN_OUTCOME

    added = await client.post(PATH, headers=bearer(alice),
                              json=_body("home", upstream.url, timeout=0.5))
    owner = added.json()["owner_account_id"]
    realm = await own_dns.use_zone(env, RequestContext(), caller=world.caller(owner),
                                   backend_id=added.json()["id"], zone="own.test", name="",
                                   kind="subtree")
    _, token = tokens.create_token(env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER,
                                   realm_id=realm.id)
    rrset = "/api/v1/zones/own.test/rrsets/www.own.test/A"
    change = {"ttl": 300, "records": ["192.0.2.1"]}

    upstream.answer = lambda r: ((422, {"error": UPSTREAM_WORDS}) if r.method == "PATCH"
                                 else pdns_like(r))
    refused = await client.put(rrset, headers=bearer(token), json=change)
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"] == "the DNS provider refused the change"

    upstream.answer = lambda r: (500, {"error": UPSTREAM_WORDS})
    failed = await client.put(rrset, headers=bearer(token), json=change)
    assert failed.status_code == 502
    assert failed.json()["detail"] == failures.public(failures.BAD_ANSWER)

    upstream.answer = lambda r: STALL if r.method == "PATCH" else pdns_like(r)
    stalled = await client.put(rrset, headers=bearer(token), json=change)
    assert stalled.status_code == 504 and stalled.json()["detail"] == UNKNOWN_OUTCOME
    with env.db.read() as session:
        events = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "rrset.change", AuditEvent.outcome == "error")
            .order_by(AuditEvent.id)).all()
    assert {k: v for k, v in events[-1].details.items() if k != "surface"} == {
        "backend": "home", "category": failures.TIMED_OUT, "outcome": "unknown"}
    assert {k: v for k, v in events[-2].details.items() if k != "surface"} == {
        "backend": "home", "category": failures.BAD_ANSWER}
    for text in (refused.text, failed.text, stalled.text, _audit_text(env)):
        assert UPSTREAM_WORDS not in text
