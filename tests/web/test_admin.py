"""The admin console: approvals queue (approve / reject with a reason) and accounts."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dnsgate.db.models import AuditEvent, Realm
from dnsgate.services import realms
from dnsgate.services.context import RequestContext
from tests.web.conftest import PASSWORD


@pytest.fixture
async def pending(world, alice_id) -> int:
    await world.zone("approve.test", approval="admin")
    return realms.request_realm(world.env, RequestContext(), caller=world.caller(alice_id),
                                zone="approve.test", name="wait", kind="host").id


@pytest.fixture
async def root(browser, world):
    world.account("root", admin=True, password=PASSWORD)
    async with browser() as b:
        await b.login("root")
        yield b


def _realm(env, realm_id) -> Realm:
    with env.db.read() as session:
        realm = session.get(Realm, realm_id)
        assert realm is not None
        return realm


async def test_queue_shows_pending_requests(root, pending):
    page = await root.get("/ui/admin/approvals")
    assert "1 realm request waiting." in page.text
    assert "wait.approve.test" in page.text and "alice" in page.text


async def test_approve(root, pending, env, browser):
    await root.get("/ui/admin/approvals")
    response = await root.submit(f"/ui/admin/realms/{pending}/approve")
    assert response.status_code == 303
    page = await root.get(response.headers["location"])
    assert "The realm is approved." in page.text
    assert "Nothing waits for approval." in page.text
    realm = _realm(env, pending)
    assert realm.status == "approved"
    with env.db.read() as session:
        event = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "realm.approved")).one()
    assert event.details["surface"] == "web"
    # a second click (another tab) is no error page
    again = await root.submit(f"/ui/admin/realms/{pending}/approve")
    assert again.headers["location"].endswith("done=already_decided")


async def test_reject_needs_a_reason_and_the_owner_sees_it(root, pending, env, alice_browser):
    await root.get("/ui/admin/approvals")
    missing = await root.submit(f"/ui/admin/realms/{pending}/reject", {"reason": "  "})
    assert missing.status_code == 422
    assert f'id="reason-{pending}-error">Give the owner a reason.' in missing.text
    assert _realm(env, pending).status == "pending"  # nothing half-done
    response = await root.submit(f"/ui/admin/realms/{pending}/reject",
                                 {"reason": "use your team's zone"})
    assert response.status_code == 303
    realm = _realm(env, pending)
    assert (realm.status, realm.reason) == ("rejected", "use your team's zone")
    dashboard = await alice_browser.get("/ui/")
    assert "rejected" in dashboard.text
    assert "Reason: use your team&#39;s zone" in dashboard.text


async def test_too_long_a_reason_is_kept_and_refused(root, pending, env):
    await root.get("/ui/admin/approvals")
    response = await root.submit(f"/ui/admin/realms/{pending}/reject", {"reason": "x" * 501})
    assert response.status_code == 422
    assert "x" * 501 in response.text
    assert _realm(env, pending).status == "pending"


async def test_unknown_realm_is_404(root, env):
    await root.get("/ui/admin/approvals")
    assert (await root.submit("/ui/admin/realms/999/approve")).status_code == 404
    assert (await root.submit("/ui/admin/realms/abc/approve")).status_code == 404


async def test_accounts_list_and_search(root, world):
    world.account("alice.smith")
    world.account("bob")
    page = await root.get("/ui/admin/accounts")
    for name in ("root", "alice.smith", "bob"):
        assert f">{name}</a></td>" in page.text
    assert ">admin</td>" in page.text and "status-active" in page.text
    found = await root.get("/ui/admin/accounts?q=ALICE")
    assert ">alice.smith</a></td>" in found.text and ">bob</a></td>" not in found.text
    assert 'value="ALICE"' in found.text


async def test_a_user_at_the_admin_door_is_refused_and_audited(alice_browser, env):
    response = await alice_browser.get("/ui/admin/accounts")
    assert response.status_code == 403
    with env.db.read() as session:
        event = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "web.access")).one()
    assert (event.code, event.target) == ("admin_required", "/ui/admin/accounts")
    nav = (await alice_browser.get("/ui/")).text
    assert 'href="/ui/admin/' not in nav  # no admin links for users


async def test_queue_lists_what_an_approval_hands_over(root, world, alice_id, alice_browser):
    from dnsgate.services import records
    from dnsgate.services.context import SYSTEM_CALLER, SYSTEM_CONTEXT
    from dnsgate.services.records import ChangeInput

    await world.zone("hand.test", approval="auto", visibility="public")
    await records.apply_changes(world.env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER,
                                zone="hand.test", inputs=[ChangeInput(
                                    "upsert", "shop.hand.test", "A", 300, ["192.0.2.7"])])
    realm = realms.request_realm(world.env, RequestContext(), caller=world.caller(alice_id),
                                 zone="hand.test", name="shop", kind="host")
    assert realm.status == "pending"
    page = await root.get("/ui/admin/approvals")
    assert "Waits because</dt><dd>existing data" in page.text
    assert "<code>shop.hand.test A</code>: written by the operator" in page.text
    mine = await alice_browser.get("/ui/")
    assert "Waits for an admin: existing data" in mine.text
