"""The account portal: dashboard, tokens (create, once-shown secret, revoke),
realm requests; every form re-rendered with field errors and the input kept."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from dnsgate.db.models import AuditEvent, Realm, Token
from tests.support.factories import bearer

_SECRET = re.compile(r'<code id="secret" data-secret>(dg_[a-z0-9_]+)</code>')


def _count(env, model, *where) -> int:
    with env.db.read() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture
async def home(world, zone, alice_id) -> int:
    """alice's realm home.example.test (A, AAAA, TXT)."""
    return world.realm(alice_id, zone, "home", types=["A", "AAAA", "TXT"])


async def test_dashboard_lists_my_realms_and_tokens_with_last_use(
        alice_browser, home, world, client, zone):
    token = world.token(home, name="router")
    response = await client.put("/api/v1/zones/example.test/rrsets/home.example.test/A",
                                headers=bearer(token.secret), json={"records": ["192.0.2.1"]})
    assert response.status_code == 200
    bob = world.account("bob")
    world.token(world.realm(bob, zone, "bobs"))
    page = (await alice_browser.get("/ui/")).text
    assert "home.example.test" in page and "approved" in page
    assert token.id in page and "router" in page
    assert "from 127.0.0.1" in page  # last use, with its address
    assert "bobs.example.test" not in page  # only mine


async def test_token_is_shown_once_and_works_with_the_rest_api(alice_browser, home, client,
                                                                env):
    b = alice_browser
    await b.get("/ui/tokens")
    page = await b.submit("/ui/tokens", [("realm_id", str(home)), ("name", "router"),
                                         ("types", "A"), ("operations", "read"),
                                         ("operations", "update"), ("operations", "create"),
                                         ("expires_days", "30")])
    assert page.status_code == 200
    secret = _SECRET.search(page.text).group(1)
    assert "Shown once" in page.text
    assert f"Bearer {secret}" in page.text  # the curl snippet
    assert "protocol=dyndns2" in page.text  # ddclient, for an A realm
    ok = await client.put("/api/v1/zones/example.test/rrsets/home.example.test/A",
                          headers=bearer(secret), json={"records": ["192.0.2.7"]})
    assert ok.status_code == 200
    narrower = await client.put("/api/v1/zones/example.test/rrsets/home.example.test/TXT",
                                headers=bearer(secret), json={"records": ['"x"']})
    assert narrower.status_code == 403  # the token has only A
    listing = (await b.get("/ui/tokens")).text
    assert secret not in listing  # never again
    [row] = _all_tokens(env)
    assert (row.name, row.types, row.expires_at is not None) == ("router", ["A"], True)


def _all_tokens(env) -> list[Token]:
    with env.db.read() as session:
        return list(session.scalars(select(Token)))


async def test_revoke_then_the_api_says_401(alice_browser, home, world, client, env):
    token = world.token(home)
    b = alice_browser
    await b.get("/ui/tokens")
    response = await b.submit(f"/ui/tokens/{token.id}/revoke")
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/tokens?done=token_revoked"
    page = await b.get(response.headers["location"])
    assert "The token is revoked" in page.text
    assert re.search(rf'id="token-{token.id}".*?revoked', page.text, re.S)
    denied = await client.put("/api/v1/zones/example.test/rrsets/home.example.test/A",
                              headers=bearer(token.secret), json={"records": ["192.0.2.1"]})
    assert denied.status_code == 401


async def test_another_accounts_token_is_404_and_audited(alice_browser, world, zone, env):
    bob = world.account("bob")
    bobs = world.token(world.realm(bob, zone, "bobs"))
    await alice_browser.get("/ui/tokens")
    response = await alice_browser.submit(f"/ui/tokens/{bobs.id}/revoke")
    assert response.status_code == 404
    assert bobs.id not in response.text
    assert _count(env, Token, Token.revoked_at.is_not(None)) == 0
    with env.db.read() as session:
        event = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "web.access")).one()
    assert (event.outcome, event.code, event.target) == (
        "denied", "not_found", f"/ui/tokens/{bobs.id}/revoke")


async def test_a_token_for_another_accounts_realm_is_404(alice_browser, home, world, zone, env):
    bob = world.account("bob")
    bobs_realm = world.realm(bob, zone, "bobs")
    await alice_browser.get("/ui/tokens")
    response = await alice_browser.submit("/ui/tokens", {"realm_id": str(bobs_realm)})
    assert response.status_code == 404
    assert _count(env, Token) == 0


@pytest.mark.parametrize(("fields", "field", "message"), [
    ([("types", "TXT"), ("realm_id", "a-only")], "types", "types outside the realm: TXT"),
    ([("cidrs", "10.0.0.0/8\nnot-a-network")], "cidrs", "invalid CIDR"),
    ([("names", "elsewhere.example.test")], "names", "outside the realm"),
    ([("expires_days", "0")], "expires_days", "Enter whole days"),
    ([("expires_days", "soon")], "expires_days", "Enter whole days"),
    ([("name", "x" * 101)], "name", "at most 100"),
])
async def test_token_form_errors_keep_the_input(alice_browser, home, env, fields, field,
                                                message, world, alice_id, zone):
    a_only = world.realm(alice_id, zone, "a-only", types=["A"])
    fields = [(k, str(a_only) if v == "a-only" else v) for k, v in fields]
    b = alice_browser
    await b.get("/ui/tokens")
    sent = [("realm_id", str(home)), ("name", "my router"), ("types", "A"),
            ("cidrs", "192.0.2.0/24"), ("expires_days", "7")]
    sent = [(k, v) for k, v in sent if k not in {f for f, _ in fields}] + fields
    response = await b.submit("/ui/tokens", sent)
    assert response.status_code == 422
    error = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', response.text)
    assert error and message in error.group(1), response.text
    if field not in ("types", "operations"):
        assert f'aria-describedby="{field}-hint {field}-error"' in response.text
        assert 'aria-invalid="true"' in response.text
    for key, value in sent:  # what was typed is still there
        if key in ("types", "operations"):
            assert f'value="{value}" checked' in response.text
        elif key == "realm_id":
            assert f'<option value="{value}" selected>' in response.text
        else:
            assert value in response.text
    assert _count(env, Token) == 0  # nothing half-saved


async def test_no_approved_realm_no_token_form(alice_browser):
    page = await alice_browser.get("/ui/tokens")
    assert "Request a realm</a> first" in page.text
    assert 'action="/ui/tokens"' not in page.text


# --- realm requests ----------------------------------------------------------

async def test_request_a_realm_in_an_auto_zone(alice_browser, zone, env):
    b = alice_browser
    page = await b.get("/ui/realms/request")
    assert "example.test (approved at once)" in page.text
    response = await b.submit("/ui/realms/request",
                              {"zone": "example.test", "name": "Home", "kind": "subtree"})
    assert response.status_code == 303
    dashboard = await b.get(response.headers["location"])
    assert "Your realm request is saved." in dashboard.text
    with env.db.read() as session:
        realm = session.scalars(select(Realm)).one()
    assert (realm.name, realm.kind, realm.status) == ("home.example.test", "subtree",
                                                      "approved")


async def test_preview_shows_the_full_name(alice_browser, zone):
    b = alice_browser
    fragment = await b.get("/ui/realms/preview?zone=example.test&name=lab&kind=subtree")
    assert "lab.example.test and every name below it" in fragment.text
    assert "<html" not in fragment.text
    bad = await b.get("/ui/realms/preview?zone=example.test&name=..&kind=host")
    assert "Choose a zone and type a name" in bad.text


@pytest.mark.parametrize(("sent", "field", "message"), [
    ({"zone": "example.test", "name": "taken", "kind": "host"}, "name", "overlaps"),
    ({"zone": "example.test", "name": "a..b", "kind": "host"}, "name", ""),
    ({"zone": "example.test", "name": "a.b.c", "kind": "host"}, "name", "at most 2 labels"),
    ({"zone": "example.test", "name": "@", "kind": "host"}, "name", "apex"),
    ({"zone": "hidden.test", "name": "x", "kind": "host"}, "zone", "Choose one of the zones"),
    ({"zone": "invite.test", "name": "x", "kind": "host"}, "zone", "grant"),
    ({"zone": "example.test", "name": "", "kind": "host"}, "name", "Enter a name"),
    ({"zone": "", "name": "x", "kind": "host"}, "zone", "Choose a zone"),
    ({"zone": "example.test", "name": "x", "kind": "everything"}, "kind", "Choose what"),
])
async def test_realm_refusals_are_field_errors_and_keep_the_input(
        alice_browser, world, env, sent, field, message):
    await world.zone("example.test", max_depth=2)
    await world.zone("hidden.test", visibility="private")
    await world.zone("invite.test", visibility="invite")
    world.realm(world.account("bob"), "example.test", "taken")
    before = _count(env, Realm)
    b = alice_browser
    await b.get("/ui/realms/request")
    response = await b.submit("/ui/realms/request", sent)
    assert response.status_code == 422
    error = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', response.text)
    assert error and message in error.group(1), response.text
    if sent["name"]:
        assert f'value="{sent["name"]}"' in response.text
    if sent["zone"] in ("example.test", "invite.test"):
        assert f'value="{sent["zone"]}" selected' in response.text
    assert _count(env, Realm) == before


async def test_quota_is_a_zone_error(alice_browser, world, alice_id, env):
    await world.zone("small.test", realm_quota=1)
    world.realm(alice_id, "small.test", "one")
    await alice_browser.get("/ui/realms/request")
    response = await alice_browser.submit("/ui/realms/request",
                                          {"zone": "small.test", "name": "two", "kind": "host"})
    assert response.status_code == 422
    assert re.search(r'id="zone-error">[^<]*quota of 1', response.text)
