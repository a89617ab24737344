"""Admin console: tokens of every account -- search by id, owner, realm; revoke."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from dnsgate.db.models import AuditEvent, Token
from tests.support.factories import bearer
from tests.web.conftest import PASSWORD


@pytest.fixture
async def root(browser, world):
    world.account("root", admin=True, password=PASSWORD)
    async with browser() as b:
        await b.login("root")
        yield b


@pytest.fixture
def made(world, zone, alice_id):
    bob = world.account("bob")
    return {"alice": world.token(world.realm(alice_id, zone, "home"), name="router"),
            "bob": world.token(world.realm(bob, zone, "office", kind="subtree"))}


def _ids(page) -> set[str]:
    return set(re.findall(r'<tr id="token-([a-z2-7]+)">', page.text))


async def test_search_by_id_owner_and_realm(root, made):
    alice, bob = made["alice"].id, made["bob"].id
    assert _ids(await root.get("/ui/admin/tokens")) == {alice, bob}
    assert _ids(await root.get(f"/ui/admin/tokens?q={alice[:6]}")) == {alice}
    assert _ids(await root.get(f"/ui/admin/tokens?q=dg_{bob}")) == {bob}
    assert _ids(await root.get("/ui/admin/tokens?q=BOB")) == {bob}
    assert _ids(await root.get("/ui/admin/tokens?q=home.example")) == {alice}
    none = await root.get("/ui/admin/tokens?q=nothing-like-it")
    assert "No token matches." in none.text and 'value="nothing-like-it"' in none.text
    page = await root.get(f"/ui/admin/tokens?q={alice}")
    assert "<code>home.example.test</code>" in page.text and ">alice</a>" in page.text
    assert "status-active" in page.text and "never" in page.text  # last use
    assert made["alice"].secret not in page.text


async def test_revoke_takes_effect_on_the_next_request(root, made, client, env):
    secret = made["alice"].secret
    assert (await client.get("/api/v1/whoami", headers=bearer(secret))).status_code == 200
    await root.get("/ui/admin/tokens?q=alice")
    response = await root.submit(f"/ui/admin/tokens/{made['alice'].id}/revoke", {"q": "alice"})
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/admin/tokens?q=alice&done=token_revoked"
    after = await root.get(response.headers["location"])
    assert "status-revoked" in after.text and "The token is revoked" in after.text
    assert f'action="/ui/admin/tokens/{made["alice"].id}/revoke"' not in after.text
    assert (await client.get("/api/v1/whoami", headers=bearer(secret))).status_code == 401
    with env.db.read() as session:
        token = session.get(Token, made["alice"].id)
        event = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "token.revoke")).one()
    assert token is not None and token.revoked_at is not None
    assert (event.actor_type, event.target) == ("account", f"token:{made['alice'].id}")
    assert (await client.get("/api/v1/whoami",
                             headers=bearer(made["bob"].secret))).status_code == 200


async def test_unknown_token_is_404(root):
    await root.get("/ui/admin/tokens")
    assert (await root.submit("/ui/admin/tokens/nope/revoke")).status_code == 404


async def test_users_are_refused(alice_browser, made):
    assert (await alice_browser.get("/ui/admin/tokens")).status_code == 403
    response = await alice_browser.submit(f"/ui/admin/tokens/{made['alice'].id}/revoke")
    assert response.status_code == 403
