"""Admin console, one account: what it holds, disable / enable, delete after a preview."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dnsgate.db.models import (
    Account,
    ApiKey,
    AuditEvent,
    Backend,
    Grant,
    Realm,
    Token,
    WebSession,
    Zone,
)
from dnsgate.domain.errors import Conflict
from dnsgate.services import accounts, backends, grants
from dnsgate.services.context import SYSTEM_CALLER, SYSTEM_CONTEXT
from tests.support.factories import bearer
from tests.web.conftest import PASSWORD


@pytest.fixture
async def root(browser, world):
    world.account("root", admin=True, password=PASSWORD)
    async with browser() as b:
        await b.login("root")
        yield b


def _root_id(env) -> int:
    with env.db.read() as session:
        return session.scalars(select(Account.id).where(Account.name == "root")).one()


def _events(env, action: str) -> list[AuditEvent]:
    with env.db.read() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _count(env, model, **where) -> int:
    with env.db.read() as session:
        stmt = select(func.count()).select_from(model)
        for column, value in where.items():
            stmt = stmt.where(getattr(model, column) == value)
        return session.scalar(stmt) or 0


async def test_the_list_links_each_account_and_searches_e_mail(root, world, env):
    alice = world.account("alice", password=PASSWORD)
    with env.db.write() as session:
        session.get(Account, alice).email = "Alice@Example.org"
    page = await root.get("/ui/admin/accounts?q=example.ORG")
    assert f'href="/ui/admin/accounts/{alice}">alice</a>' in page.text
    assert ">root</a>" not in page.text


async def test_account_page_shows_what_it_holds(root, world, env, zone, alice_id):
    realm = world.realm(alice_id, zone, "home")
    token = world.token(realm, name="router")
    world.api_key(alice_id)
    page = await root.get(f"/ui/admin/accounts/{alice_id}")
    assert page.status_code == 200
    text = page.text
    assert "<dt>API keys</dt><dd>1</dd>" in text
    assert "<dt>Two-factor sign-in</dt><dd>off</dd>" in text
    assert "<dt>E-mail verified</dt><dd>no</dd>" in text
    assert "<code>home.example.test</code>" in text
    assert f"<code>{token.id}</code> router" in text
    assert token.secret not in text
    assert "Disable alice" in text and "account_actions" not in text


async def test_unknown_account_is_404(root):
    assert (await root.get("/ui/admin/accounts/999")).status_code == 404
    assert (await root.get("/ui/admin/accounts/999/delete")).status_code == 404


async def test_disable_then_enable_takes_effect_on_tokens(root, world, env, zone, alice_id,
                                                          client):
    token = world.token(world.realm(alice_id, zone, "home"))
    await root.get(f"/ui/admin/accounts/{alice_id}")
    response = await root.submit(f"/ui/admin/accounts/{alice_id}/disable")
    assert response.status_code == 303
    page = await root.get(response.headers["location"])
    assert "The account is disabled" in page.text and "Enable alice" in page.text
    refused = await client.get("/api/v1/whoami", headers=bearer(token.secret))
    assert refused.status_code in (401, 403)
    response = await root.submit(f"/ui/admin/accounts/{alice_id}/enable")
    assert response.status_code == 303
    assert (await client.get("/api/v1/whoami", headers=bearer(token.secret))).status_code == 200
    assert [e.outcome for e in _events(env, "account.disabled")] == ["success"]
    assert [e.outcome for e in _events(env, "account.active")] == ["success"]


async def test_an_admin_cannot_disable_or_delete_themselves(root, env, world):
    world.account("other-admin", admin=True)  # not the last admin: the self rule alone
    me = _root_id(env)
    await root.get(f"/ui/admin/accounts/{me}")
    refused = await root.submit(f"/ui/admin/accounts/{me}/disable")
    assert refused.status_code == 409
    assert "You cannot disable your own account." in refused.text
    preview = await root.get(f"/ui/admin/accounts/{me}/delete")
    assert "You cannot delete your own account." in preview.text
    assert "and all of this</button>" not in preview.text
    refused = await root.submit(f"/ui/admin/accounts/{me}/delete")
    assert refused.status_code == 409
    assert _count(env, Account, id=me, status="active") == 1
    assert [(e.outcome, e.code) for e in _events(env, "account.disabled")] == [
        ("denied", "self_lockout")]
    assert [(e.outcome, e.code) for e in _events(env, "account.delete")] == [
        ("denied", "self_lockout")]


async def test_the_last_active_admin_stays(root, world, env):
    other = world.account("other-admin", admin=True)
    await root.get(f"/ui/admin/accounts/{other}")
    assert (await root.submit(f"/ui/admin/accounts/{other}/disable")).status_code == 303
    # root is now the last active admin; the CLI (no account) may not remove it either
    with pytest.raises(Conflict, match="last active admin"):
        accounts.set_status(env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER,
                            account_id=_root_id(env), status="disabled")
    # and a disabled admin may be deleted: another active admin (root) remains
    await root.get(f"/ui/admin/accounts/{other}/delete")
    assert (await root.submit(f"/ui/admin/accounts/{other}/delete")).status_code == 303
    assert _count(env, Account, id=other) == 0


async def test_delete_previews_then_removes_exactly_that(root, world, env, zone, alice_id,
                                                         browser, client):
    # alice holds: a realm with a token, an API key, a session, a grant on a
    # private zone, and her own backend with a zone (holding bob's realm).
    realm = world.realm(alice_id, zone, "home")
    token = world.token(realm)
    key = world.api_key(alice_id)
    await world.zone("private.test", visibility="private")
    grants.create_grant(env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, zone="private.test",
                        account_id=alice_id)
    async with browser() as alice:
        await alice.login("alice")
    mine = backends.add_backend(env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, name="alices-dns",
                                provider="powerdns", config={
                                    "api_url": "http://127.0.0.1:9", "api_key": "s3cret"},
                                owner_account_id=alice_id)
    with env.db.write() as session:  # a zone already offered through her backend
        session.add(Zone(name="alice.test", backend_id=mine.id, allowed_types=["A"],
                         allowed_ops=["read"]))
    bob = world.account("bob")

    preview = await root.get(f"/ui/admin/accounts/{alice_id}/delete")
    assert preview.status_code == 200
    text = preview.text
    assert "<dt>Realms</dt><dd>1: <code>home.example.test</code> (approved)</dd>" in text
    assert f"<dt>Tokens</dt><dd>1: <code>{token.id}</code></dd>" in text
    assert "<dt>API keys</dt><dd>1</dd>" in text
    assert "<dt>Signed-in sessions</dt><dd>1</dd>" in text
    assert "<dt>Zone grants</dt><dd>1: private.test</dd>" in text
    assert "<dt>Own backends</dt><dd>1: alices-dns</dd>" in text
    assert "<dt>Zones on those backends</dt><dd>1: alice.test" in text
    assert _count(env, Account, id=alice_id) == 1  # a preview deletes nothing

    response = await root.submit(f"/ui/admin/accounts/{alice_id}/delete")
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/admin/accounts?done=account_deleted"
    for model in (Realm, Token, ApiKey, WebSession, Grant):
        assert _count(env, model, account_id=alice_id) == 0, model
    assert _count(env, Account, id=alice_id) == 0
    assert _count(env, Backend, name="alices-dns") == 0
    assert _count(env, Zone, name="alice.test") == 0
    assert _count(env, Zone, name="private.test") == 1 and _count(env, Account, id=bob) == 1
    assert (await client.get("/api/v1/whoami", headers=bearer(token.secret))).status_code == 401
    assert (await client.get("/api/v1/account/realms", headers=bearer(key))).status_code == 401
    event = _events(env, "account.delete")[0]
    assert event.outcome == "success" and event.target == f"account:{alice_id}"
    assert event.details["machine_ids"] == [token.id] and event.details["name"] == "alice"
    assert "s3cret" not in str(event.details)
    # history keeps the account's id
    assert _count(env, AuditEvent, account_id=alice_id) > 0
    # the list no longer shows her
    assert ">alice</a>" not in (await root.get("/ui/admin/accounts")).text


async def test_users_cannot_reach_account_admin(alice_browser, alice_id):
    assert (await alice_browser.get(f"/ui/admin/accounts/{alice_id}")).status_code == 403
    assert (await alice_browser.submit(f"/ui/admin/accounts/{alice_id}/delete")).status_code == 403
