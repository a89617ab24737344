"""Web sessions: cookie flags, a new id at every login, timeouts, logout (everywhere)."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from dnsgate.db.models import AuditEvent, WebSession
from dnsgate.domain import tokens
from tests.web.conftest import PASSWORD


def _cookie_header(response) -> str:
    return next(v for k, v in response.headers.multi_items()
                if k == "set-cookie" and v.startswith("dnsgate_session="))


def _sessions(env) -> int:
    with env.db.read() as session:
        return session.scalar(select(func.count()).select_from(WebSession))


async def test_cookie_is_httponly_lax_ui_scoped_and_not_secure_over_http(browser, world):
    world.account("alice")
    async with browser() as b:
        header = _cookie_header(await b.login("alice")).lower()
    assert "httponly" in header
    assert "samesite=lax" in header
    assert "path=/ui" in header
    assert "secure" not in header


async def test_cookie_is_secure_over_https(browser, world):
    world.account("alice")
    async with browser(base="https://dnsgate.test") as b:
        header = _cookie_header(await b.login("alice")).lower()
    assert "; secure" in header
    assert b.session_cookie is not None


async def _login_by_hand(client, headers: dict[str, str]) -> str:
    """Log in sending cookies by hand (the jar holds back Secure cookies on http)."""
    page = await client.get("/ui/login", headers=headers)
    pre = page.cookies["dnsgate_pre"]
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text).group(1)
    response = await client.post(
        "/ui/login", headers={**headers, "cookie": f"dnsgate_pre={pre}"},
        data={"username": "alice", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 303, response.text
    return _cookie_header(response).lower()


async def test_cookie_is_secure_behind_a_trusted_https_proxy(browser, world, make_settings, env):
    from dnsgate.app import create_app

    world.account("alice")
    proxied = create_app(make_settings(trusted_proxies="10.0.0.0/8"), env=env,
                         migrate_on_start=False)
    https = {"x-forwarded-proto": "https", "x-forwarded-for": "198.51.100.7"}
    async with browser(peer="10.0.0.1", target=proxied) as b:
        assert "; secure" in await _login_by_hand(b.client, https)
    # the same header from an untrusted peer is ignored
    async with browser(peer="192.0.2.9", target=proxied) as b:
        assert "secure" not in await _login_by_hand(b.client, https)


async def test_stored_id_is_an_hmac_of_the_cookie_value(browser, world, env):
    world.account("alice")
    async with browser() as b:
        await b.login("alice")
        value = b.session_cookie
    assert value is not None and len(value) >= 43  # 256 bits, base64url
    with env.db.read() as session:
        ids = list(session.scalars(select(WebSession.id)))
    assert ids == [tokens.hash_secret(env.key, value)]
    assert value not in ids


async def test_login_mints_a_new_session_and_ends_the_old_one(browser, world):
    world.account("alice")
    async with browser() as b:
        await b.login("alice")
        first = b.session_cookie
        await b.login("alice")  # signed in again (the login page redirects; post anyway)
        second = b.session_cookie
    assert first and second and first != second
    async with browser() as replay:
        replay.use_session(second)
        assert (await replay.get("/ui/")).status_code == 200  # the replay works at all
        replay.use_session(first)
        assert (await replay.get("/ui/")).status_code == 303


async def test_a_planted_cookie_value_is_replaced_at_login(browser, world, env):
    world.account("alice")
    async with browser() as b:
        b.use_session("planted-by-an-attacker")
        await b.login("alice")
        assert b.session_cookie != "planted-by-an-attacker"
    with env.db.read() as session:
        assert tokens.hash_secret(env.key, "planted-by-an-attacker") not in set(
            session.scalars(select(WebSession.id)))


async def test_idle_timeout(browser, world, clock, settings):
    world.account("alice")
    async with browser() as b:
        await b.login("alice")
        clock.advance(settings.session_idle_minutes * 60 - 90)
        assert (await b.get("/ui/")).status_code == 200  # activity keeps it alive
        clock.advance(settings.session_idle_minutes * 60 - 90)
        assert (await b.get("/ui/")).status_code == 200
        clock.advance(settings.session_idle_minutes * 60 + 1)
        response = await b.get("/ui/tokens")
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/login?next=/ui/tokens"


async def test_absolute_timeout_ends_even_an_active_session(browser, world, clock, settings,
                                                            env):
    world.account("alice")
    async with browser() as b:
        await b.login("alice")
        step = settings.session_idle_minutes * 60 - 120
        elapsed = 0
        while elapsed + step < settings.session_max_hours * 3600:
            clock.advance(step)
            elapsed += step
            assert (await b.get("/ui/")).status_code == 200
        clock.advance(settings.session_max_hours * 3600 - elapsed + 1)
        assert (await b.get("/ui/")).status_code == 303
    assert _sessions(env) == 0  # a dead session is deleted on sight


async def test_logout_ends_the_session_on_the_server(browser, world, env):
    world.account("alice")
    async with browser() as b:
        await b.login("alice")
        value = b.session_cookie
        response = await b.submit("/ui/logout")
        assert response.status_code == 303
        assert response.headers["location"] == "/ui/login?done=logged_out"
        assert b.session_cookie is None
    assert _sessions(env) == 0
    async with browser() as replay:  # the old value is worthless, even if kept
        replay.use_session(value)
        assert (await replay.get("/ui/")).status_code == 303


async def test_logout_everywhere(browser, world, env):
    world.account("alice")
    world.account("bob")
    async with browser() as laptop, browser() as phone, browser() as bobs:
        await laptop.login("alice")
        await phone.login("alice")
        await bobs.login("bob")
        assert (await phone.get("/ui/")).status_code == 200
        response = await laptop.submit("/ui/logout-everywhere")
        assert response.status_code == 303
        assert (await phone.get("/ui/")).status_code == 303
        assert (await laptop.get("/ui/")).status_code == 303
        assert (await bobs.get("/ui/")).status_code == 200  # other accounts keep theirs
    with env.db.read() as session:
        event = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "session.end_all")).one()
    assert event.details["sessions"] == 2


async def test_disabling_an_account_ends_its_sessions(browser, world, env):
    from dnsgate.services import accounts
    from dnsgate.services.context import SYSTEM_CALLER, SYSTEM_CONTEXT

    alice = world.account("alice")
    async with browser() as b:
        await b.login("alice")
        accounts.set_status(env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, account_id=alice,
                            status="disabled")
        assert (await b.get("/ui/")).status_code == 303


async def test_timeouts_come_from_settings(make_settings, env, browser, world, clock):
    from dnsgate.app import create_app

    world.account("alice")
    short = create_app(make_settings(session_idle_minutes=2), env=env, migrate_on_start=False)
    async with browser(target=short) as b:
        await b.login("alice")
        clock.advance(121)
        assert (await b.get("/ui/")).status_code == 303


def test_settings_read_the_environment(monkeypatch):
    from dnsgate.config import Settings

    monkeypatch.setenv("DNSGATE_SESSION_IDLE_MINUTES", "5")
    monkeypatch.setenv("DNSGATE_SESSION_MAX_HOURS", "2")
    settings = Settings()
    assert (settings.session_idle_minutes, settings.session_max_hours) == (5, 2)
