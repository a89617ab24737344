"""Sign-up, e-mail verification, invites, password reset and change, the
password policy -- through the pages, with mail delivered to a real SMTP sink."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from dnsgate.db.models import Account, AuditEvent, Invite, WebSession
from dnsgate.security import signed_links
from dnsgate.services import invites, site_settings
from dnsgate.services.context import SYSTEM_CALLER, SYSTEM_CONTEXT
from tests.support.server import free_port
from tests.support.smtp import SmtpSink, smtp_sink
from tests.web.conftest import PASSWORD

STRONG = "violet canyon lantern drifts"
NEW = "quiet harbor pencil meadow"


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with smtp_sink() as running:
        yield running


@pytest.fixture
def mail_app(make_settings, env, sink):
    """The app with mail going to the sink."""
    from dnsgate.app import create_app

    settings = make_settings(smtp_host="127.0.0.1", smtp_port=sink.port, smtp_security="none",
                             public_url="http://dnsgate.test")
    return create_app(settings, env=env, migrate_on_start=False)


def setting(env, key: str, value: str) -> None:
    site_settings.put(env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, key=key, value=value)


def account(env, name: str) -> Account:
    with env.db.read() as session:
        return session.scalars(select(Account).where(Account.name == name)).one()


def path_of(link: str) -> str:
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


def actions(env, action: str) -> list[AuditEvent]:
    with env.db.read() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


async def sign_up(b, name: str, email: str, password: str = STRONG, **extra: str):
    await b.get("/ui/login")  # a CSRF token even when the sign-up page has no form
    await b.get("/ui/register" + (f"?invite={extra['invite']}" if "invite" in extra else ""))
    return await b.submit("/ui/register", {"username": name, "email": email,
                                           "password": password, "confirm": password, **extra})


# --- open sign-up, verification, approval -------------------------------------------

async def test_open_sign_up_verify_then_sign_in(browser, mail_app, env, sink):
    setting(env, "registration", "open")
    setting(env, "account_approval", "auto")
    async with browser(target=mail_app) as b:
        response = await sign_up(b, "carol", "carol@example.org")
        assert response.status_code == 303
        assert response.headers["location"] == "/ui/login?done=registered_verify"
        assert account(env, "carol").status == "pending"
        await b.get("/ui/login")  # pending: told so, but only with the right password
        refused = await b.submit("/ui/login", {"username": "carol", "password": STRONG})
        assert refused.status_code == 401 and "not active yet" in refused.text
        wrong = await b.submit("/ui/login", {"username": "carol", "password": "nope" * 3})
        assert "Invalid username or password" in wrong.text
        link = sink.link("carol@example.org", "/ui/verify?token=")
        assert link.startswith("http://dnsgate.test/ui/verify?token=")
        page = await b.get(path_of(link))
        assert page.status_code == 200 and "is confirmed" in page.text
        assert account(env, "carol").status == "active"
        assert account(env, "carol").email_verified_at is not None
        await b.login("carol", STRONG)
    assert actions(env, "account.register") and actions(env, "account.verify_email")


async def test_admin_approval_after_verification(browser, mail_app, env, sink, world):
    setting(env, "registration", "open")  # approval: admin, the default
    world.account("root", admin=True, password=PASSWORD)
    async with browser(target=mail_app) as b:
        response = await sign_up(b, "dave", "dave@example.org")
        assert response.headers["location"].endswith("done=registered_verify_approval")
    dave = account(env, "dave").id
    async with browser(target=mail_app) as admin:
        await admin.login("root")
        listing = await admin.get("/ui/admin/accounts")
        assert "dave" in listing.text and "e-mail verification" in listing.text
        early = await admin.submit(f"/ui/admin/accounts/{dave}/approve", {})
        assert early.headers["location"].endswith("done=account_unverified")
        assert account(env, "dave").status == "pending"
        async with browser(target=mail_app) as b:
            page = await b.get(path_of(sink.link("dave@example.org", "/ui/verify")))
            assert "An admin approves" in page.text
        assert account(env, "dave").status == "pending"
        await admin.get("/ui/admin/accounts")
        done = await admin.submit(f"/ui/admin/accounts/{dave}/approve", {})
        assert done.headers["location"] == "/ui/admin/accounts?done=account_approved"
    assert account(env, "dave").status == "active"
    assert [e.outcome for e in actions(env, "account.approve")] == ["denied", "success"]


async def test_sign_up_closed_or_by_invite_only(browser, mail_app, env):
    async with browser(target=mail_app) as b:
        page = await b.get("/ui/register")
        assert "Sign-up is closed" in page.text and 'name="password"' not in page.text
        assert (await sign_up(b, "erin", "erin@example.org")).status_code == 403
        setting(env, "registration", "invite")
        refused = await sign_up(b, "erin", "erin@example.org")
        assert refused.status_code == 403 and "invitation only" in refused.text
    with env.db.read() as session:
        assert session.scalars(select(Account).where(Account.name == "erin")).first() is None


async def test_no_mail_means_no_open_sign_up_and_no_reset(browser, app, env):
    setting(env, "registration", "open")
    async with browser() as b:
        page = await b.get("/ui/register")
        assert "no e-mail set up" in page.text
        assert (await sign_up(b, "fred", "fred@example.org")).status_code == 403
        await b.get("/ui/password/forgot")
        answer = await b.submit("/ui/password/forgot", {"login": "fred"})
        assert answer.status_code == 503 and "no e-mail set up" in answer.text


async def test_mail_failure_is_a_message_not_a_500(browser, make_settings, env):
    from dnsgate.app import create_app

    dead = make_settings(smtp_host="127.0.0.1", smtp_port=free_port(), smtp_security="none",
                         smtp_timeout_seconds=2)
    setting(env, "registration", "open")
    async with browser(target=create_app(dead, env=env, migrate_on_start=False)) as b:
        response = await sign_up(b, "gina", "gina@example.org")
        assert response.headers["location"].endswith("done=registered_mail_failed")
        page = await b.get(response.headers["location"])
        assert "could not be sent" in page.text


# --- verification links ----------------------------------------------------------------

async def test_verification_link_expired_tampered_or_for_another_purpose(
        browser, mail_app, env, sink, clock):
    setting(env, "registration", "open")
    setting(env, "account_approval", "auto")
    async with browser(target=mail_app) as b:
        await sign_up(b, "hank", "hank@example.org")
        link = path_of(sink.link("hank@example.org", "/ui/verify"))
        tampered = re.sub(r"[0-9a-f]$", lambda m: "0" if m.group(0) != "0" else "1", link)
        assert "not valid" in (await b.get(tampered)).text
        hank = account(env, "hank")
        reset_token = signed_links.sign(env.key, signed_links.RESET_PASSWORD,
                                        account_id=hank.id, expires_at=clock() + timedelta_h(1),
                                        binding=hank.email)
        wrong = await b.get(f"/ui/verify?token={reset_token}")
        assert wrong.status_code == 400 and "not valid" in wrong.text
        clock.advance(49 * 3600)
        expired = await b.get(link)
        assert expired.status_code == 400 and "expired" in expired.text
        assert account(env, "hank").status == "pending"
        # a new link on request
        await b.get("/ui/verify/resend")
        sent = await b.submit("/ui/verify/resend", {"login": "hank"})
        assert sent.headers["location"].endswith("done=verification_sent")
        fresh = path_of(sink.link("hank@example.org", "/ui/verify", count=2))
        assert (await b.get(fresh)).status_code == 200
    assert account(env, "hank").status == "active"
    codes = [e.code for e in actions(env, "account.verify_email")]
    assert codes.count("link_invalid") == 2 and "link_expired" in codes and "ok" in codes


def timedelta_h(hours: float):
    from datetime import timedelta

    return timedelta(hours=hours)


# --- invites ---------------------------------------------------------------------------

async def test_invite_is_single_use_and_mailed(browser, mail_app, env, sink, world):
    world.account("root", admin=True, password=PASSWORD)
    async with browser(target=mail_app) as admin:
        await admin.login("root")
        await admin.get("/ui/admin/invites")
        bad = await admin.submit("/ui/admin/invites",
                                 {"email": "not-an-address", "role": "user", "days": "0"})
        assert bad.status_code == 422 and 'value="not-an-address"' in bad.text
        made = await admin.submit("/ui/admin/invites",
                                  {"email": "ivy@example.org", "role": "user", "days": "3"})
        assert made.status_code == 200 and "was mailed to ivy@example.org" in made.text
    link = sink.link("ivy@example.org", "/ui/register?invite=")
    assert link in made.text
    text = link.split("invite=")[1]
    async with browser(target=mail_app) as b:  # registration is closed: the invite still works
        page = await b.get(path_of(link))
        assert "You are invited" in page.text and "ivy@example.org" in page.text
        done = await b.submit("/ui/register", {"username": "ivy", "password": STRONG,
                                               "confirm": STRONG, "invite": text})
        assert done.headers["location"] == "/ui/login?done=registered"
        await b.login("ivy", STRONG)
    ivy = account(env, "ivy")
    assert ivy.status == "active" and ivy.email == "ivy@example.org"
    assert ivy.email_verified_at is not None
    async with browser(target=mail_app) as b:
        again = await sign_up(b, "ivy2", "x@example.org", invite=text)
        assert again.status_code == 400 and "not valid" in again.text
    with env.db.read() as session:
        invite = session.scalars(select(Invite)).one()
        assert invite.used_by == ivy.id and invite.secret_hash not in made.text


async def test_invite_revoked_or_expired_does_not_work(browser, mail_app, env, world, clock):
    world.account("root", admin=True, password=PASSWORD)
    revoked, revoked_text = invites.create_invite(env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER,
                                                  email=None)
    _, old_text = invites.create_invite(env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, email=None,
                                        days=1)
    async with browser(target=mail_app) as admin:
        await admin.login("root")
        listing = await admin.get("/ui/admin/invites")
        assert revoked.id in listing.text
        gone = await admin.submit(f"/ui/admin/invites/{revoked.id}/revoke", {})
        assert gone.headers["location"].endswith("done=invite_revoked")
    clock.advance(2 * 86400)
    async with browser(target=mail_app) as b:
        for text in (revoked_text, old_text):
            refused = await sign_up(b, "jack", "jack@example.org", invite=text)
            assert refused.status_code == 400 and "not valid" in refused.text


def test_two_registrations_racing_for_one_invite_make_one_account(env):
    from dnsgate.domain.errors import Conflict

    invite, _ = invites.create_invite(env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, email=None)
    now = env.clock()
    with env.db.write() as session:
        invites.spend(session, SYSTEM_CONTEXT, invite_id=invite.id, account_id=None, now=now)
    with pytest.raises(Conflict), env.db.write() as session:
        invites.spend(session, SYSTEM_CONTEXT, invite_id=invite.id, account_id=None, now=now)


# --- password policy -------------------------------------------------------------------

async def test_weak_password_refused_with_feedback_and_fields_kept(browser, mail_app, env):
    setting(env, "registration", "open")
    async with browser(target=mail_app) as b:
        response = await sign_up(b, "kate", "kate@example.org", password="password123")
        assert response.status_code == 422
        assert "This is a very common password." in response.text
        assert 'value="kate"' in response.text and 'value="kate@example.org"' in response.text
        assert "password123" not in response.text
        own_name = await sign_up(b, "kateharbor", "kate@example.org", password="kateharbor1")
        assert own_name.status_code == 422 and 'id="password-error"' in own_name.text
    with env.db.read() as session:
        assert session.scalars(select(Account).where(Account.name.like("kate%"))).first() is None


# --- password reset ---------------------------------------------------------------------

async def verified_account(world, env, name: str) -> Account:
    world.account(name, password=PASSWORD)
    with env.db.write() as session:
        row = session.scalars(select(Account).where(Account.name == name)).one()
        row.email, row.email_verified_at = f"{name}@example.org", env.clock()
    return account(env, name)


async def test_forgot_password_same_answer_then_reset_once(browser, mail_app, env, sink, world):
    lena = await verified_account(world, env, "lena")
    async with browser(target=mail_app) as other_device:
        await other_device.login("lena")
        async with browser(target=mail_app) as b:
            await b.get("/ui/password/forgot")
            known = await b.submit("/ui/password/forgot", {"login": "lena"})
            unknown = await b.submit("/ui/password/forgot", {"login": "nobody-here"})
            assert (known.status_code, known.headers["location"]) == (
                unknown.status_code, unknown.headers["location"]) == (
                303, "/ui/login?done=reset_sent")
            assert known.text == unknown.text
            link = path_of(sink.link("lena@example.org", "/ui/password/reset"))
            assert len(sink.messages) == 1
            form = await b.get(link)
            assert form.status_code == 200 and 'name="token"' in form.text
            token = link.split("token=")[1]
            weak = await b.submit("/ui/password/reset",
                                  {"token": token, "password": "lena123456",
                                   "confirm": "lena123456"})
            assert weak.status_code == 422 and 'id="password-error"' in weak.text
            done = await b.submit("/ui/password/reset",
                                  {"token": token, "password": NEW, "confirm": NEW})
            assert done.headers["location"] == "/ui/login?done=password_reset"
            assert "violet" not in str(sink.messages[0])  # sanity: the sink saw only the link
            reused = await b.get(link)
            assert reused.status_code == 400 and "used already" in reused.text
            again = await b.submit("/ui/password/reset",
                                   {"token": token, "password": STRONG, "confirm": STRONG})
            assert again.status_code == 400
            await b.login("lena", NEW)
        signed_out = await other_device.get("/ui/")
        assert signed_out.status_code == 303  # the other session ended with the reset
    assert account(env, "lena").password_changed_at is not None
    assert lena.password_hash != account(env, "lena").password_hash
    events = actions(env, "password.reset_request")
    assert [e.code for e in events] == ["ok", "no_account"]
    assert all("token" not in str(e.details) for e in events)


async def test_forgot_password_is_throttled_per_account(browser, mail_app, env, world):
    await verified_account(world, env, "mia")
    async with browser(target=mail_app) as b:
        await b.get("/ui/password/forgot")
        for _ in range(3):  # mail_account_limit: 3/hour
            assert (await b.submit("/ui/password/forgot", {"login": "mia"})).status_code == 303
        limited = await b.submit("/ui/password/forgot", {"login": "MIA"})
        assert limited.status_code == 429 and "Try again in" in limited.text
        assert 'value="MIA"' in limited.text and "Retry-After" in limited.headers


async def test_reset_link_expires(browser, mail_app, env, sink, world, clock):
    await verified_account(world, env, "nora")
    async with browser(target=mail_app) as b:
        await b.get("/ui/password/forgot")
        await b.submit("/ui/password/forgot", {"login": "nora@example.org"})
        link = path_of(sink.link("nora@example.org", "/ui/password/reset"))
        clock.advance(3601)
        expired = await b.get(link)
        assert expired.status_code == 400 and "expired" in expired.text


# --- change while signed in ----------------------------------------------------------------

async def test_change_password_needs_the_current_one_and_ends_other_sessions(
        browser, app, env, world):
    world.account("olga", password=PASSWORD)
    async with browser() as elsewhere, browser() as b:
        await elsewhere.login("olga")
        await b.login("olga")
        await b.get("/ui/password/change")
        wrong = await b.submit("/ui/password/change",
                               {"current": "wrong password!", "password": NEW, "confirm": NEW})
        assert wrong.status_code == 422 and "not your current password" in wrong.text
        weak = await b.submit("/ui/password/change",
                              {"current": PASSWORD, "password": "qwertyuiop1",
                               "confirm": "qwertyuiop1"})
        assert weak.status_code == 422 and "commonly used password" in weak.text
        ok = await b.submit("/ui/password/change",
                            {"current": PASSWORD, "password": NEW, "confirm": NEW})
        assert ok.headers["location"] == "/ui/password/change?done=password_changed"
        assert (await b.get("/ui/")).status_code == 200
        assert (await elsewhere.get("/ui/")).status_code == 303
    with env.db.read() as session:
        olga = session.scalars(select(Account).where(Account.name == "olga")).one()
        assert len(list(session.scalars(
            select(WebSession).where(WebSession.account_id == olga.id)))) == 1
    assert [e.code for e in actions(env, "password.change")] == ["wrong_password", "ok"]


async def test_admin_sets_registration_mode(browser, app, env, world):
    world.account("root", admin=True, password=PASSWORD)
    async with browser() as admin:
        await admin.login("root")
        await admin.get("/ui/admin/registration")
        bad = await admin.submit("/ui/admin/registration",
                                 {"registration": "everyone", "account_approval": "auto"})
        assert bad.status_code == 422
        done = await admin.submit("/ui/admin/registration",
                                  {"registration": "invite", "account_approval": "auto"})
        assert done.headers["location"].endswith("done=registration_saved")
    with env.db.read() as session:
        assert site_settings.get(session, "registration") == "invite"
        assert site_settings.get(session, "account_approval") == "auto"
