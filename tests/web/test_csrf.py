"""CSRF: every state-changing request needs the session's token; without it, 403
and nothing changes."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dnsgate.db.models import AuditEvent, Realm, Token, WebSession
from tests.web.conftest import PASSWORD


def _count(env, model, *where) -> int:
    with env.db.read() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture
async def setup(world, zone, alice_id):
    realm = world.realm(alice_id, zone, "home")
    return {"realm": realm, "token": world.token(realm)}


@pytest.mark.parametrize("csrf", ["", "0" * 64, "not-even-hex"])
async def test_missing_or_wrong_token_is_refused_and_changes_nothing(
        csrf, setup, alice_browser, env):
    b = alice_browser
    before = _count(env, Token)
    create = await b.submit("/ui/tokens", {"realm_id": str(setup["realm"])}, csrf=csrf)
    revoke = await b.submit(f"/ui/tokens/{setup['token'].id}/revoke", csrf=csrf)
    request = await b.submit("/ui/realms/request",
                             {"zone": "example.test", "name": "other", "kind": "host"},
                             csrf=csrf)
    everywhere = await b.submit("/ui/logout-everywhere", csrf=csrf)
    for response in (create, revoke, request, everywhere):
        assert response.status_code == 403
        assert "Nothing was changed" in response.text
    assert _count(env, Token) == before
    assert _count(env, Token, Token.revoked_at.is_not(None)) == 0
    assert _count(env, Realm) == 1
    assert _count(env, WebSession) == 1
    assert (await b.get("/ui/")).status_code == 200  # still signed in
    assert _count(env, AuditEvent, AuditEvent.code == "csrf_failed") == 4


async def test_a_token_of_another_session_is_refused(setup, alice_browser, browser, world, env):
    world.account("bob", password=PASSWORD)
    async with browser() as bob:
        await bob.login("bob")
        stolen = bob.csrf
    response = await alice_browser.submit(f"/ui/tokens/{setup['token'].id}/revoke",
                                          csrf=stolen)
    assert response.status_code == 403
    assert _count(env, Token, Token.revoked_at.is_not(None)) == 0


async def test_the_token_changes_at_login(browser, world):
    world.account("alice", password=PASSWORD)
    async with browser() as b:
        await b.get("/ui/login")
        before = b.csrf
        await b.login("alice")
        assert b.csrf != before
        assert (await b.submit("/ui/logout", csrf=before)).status_code == 403


async def test_login_needs_the_pre_session_token(browser, world, env):
    world.account("alice", password=PASSWORD)
    async with browser() as b:
        no_page = await b.submit("/ui/login", {"username": "alice", "password": PASSWORD})
        assert no_page.status_code == 403
        await b.get("/ui/login")
        b.client.cookies.delete("dnsgate_pre")
        no_cookie = await b.submit("/ui/login", {"username": "alice", "password": PASSWORD})
        assert no_cookie.status_code == 403
    assert _count(env, WebSession) == 0


async def test_htmx_sends_the_token_as_a_header(setup, alice_browser, env):
    b = alice_browser
    token = b.csrf
    response = await b.client.post(f"/ui/tokens/{setup['token'].id}/revoke",
                                   headers={"hx-request": "true", "x-csrf-token": token})
    assert response.status_code == 200
    assert response.text.lstrip().startswith(f'<tr id="token-{setup["token"].id}"')
    assert "revoked" in response.text
    assert _count(env, Token, Token.revoked_at.is_not(None)) == 1


async def test_a_wrong_htmx_header_is_refused(setup, alice_browser, env):
    response = await alice_browser.client.post(
        f"/ui/tokens/{setup['token'].id}/revoke",
        headers={"hx-request": "true", "x-csrf-token": "0" * 64})
    assert response.status_code == 403
    assert _count(env, Token, Token.revoked_at.is_not(None)) == 0


async def test_json_bodies_do_not_carry_a_form_token(setup, alice_browser, env):
    """A cross-site JSON or multipart post never reads as a form with a token."""
    b = alice_browser
    response = await b.client.post(f"/ui/tokens/{setup['token'].id}/revoke",
                                   json={"csrf_token": b.csrf})
    assert response.status_code == 403
    assert _count(env, Token, Token.revoked_at.is_not(None)) == 0
