"""Login: argon2id passwords, one generic failure, audit events, throttling."""

from __future__ import annotations

import asyncio
import statistics

from argon2 import PasswordHasher
from sqlalchemy import select

from dnsgate.db.models import AuditEvent
from tests.support.loop_probe import latencies_while
from tests.web.conftest import PASSWORD


def _logins(env) -> list[AuditEvent]:
    with env.db.read() as session:
        return list(session.scalars(select(AuditEvent).where(
            AuditEvent.action == "auth.login").order_by(AuditEvent.id)))


async def _try(b, name, password):
    await b.get("/ui/login")
    return await b.submit("/ui/login", {"username": name, "password": password})


async def test_success_is_audited_and_lands_on_the_dashboard(browser, world, env):
    alice = world.account("alice")
    async with browser() as b:
        response = await _try(b, "Alice", PASSWORD)  # names are case-insensitive
        assert response.status_code == 303
        assert response.headers["location"] == "/ui/"
        page = await b.get("/ui/")
    assert "Hello, alice" in page.text
    [event] = _logins(env)
    assert (event.outcome, event.account_id, event.source_ip) == ("success", alice, "127.0.0.1")
    assert event.details["surface"] == "web"


async def test_wrong_password_and_unknown_user_get_the_same_answer(browser, world, env):
    world.account("alice")
    async with browser() as b:
        wrong = await _try(b, "alice", "not the password")
        unknown = await _try(b, "nobody", "not the password")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "Invalid username or password." in response.text
        assert "not the password" not in response.text  # never echoed
        assert b.session_cookie is None
    assert 'value="alice"' in wrong.text  # the name is kept
    events = _logins(env)
    assert [(e.outcome, e.code) for e in events] == [("denied", "login_failed")] * 2
    assert all("not the password" not in str(e.details) for e in events)


async def test_disabled_account_cannot_log_in(browser, world, env):
    from dnsgate.services import accounts
    from dnsgate.services.context import SYSTEM_CALLER, SYSTEM_CONTEXT

    alice = world.account("alice")
    accounts.set_status(env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, account_id=alice,
                        status="disabled")
    async with browser() as b:
        response = await _try(b, "alice", PASSWORD)
    assert response.status_code == 401
    assert "Invalid username or password." in response.text


async def test_growing_delays_per_name_and_address(browser, world, clock, env):
    world.account("alice")
    async with browser() as b:
        for _ in range(3):
            assert (await _try(b, "alice", "wrong password!")).status_code == 401
        # now even the right password waits: 1 s, then 2 s, 4 s ...
        blocked = await _try(b, "alice", PASSWORD)
        assert blocked.status_code == 429
        assert blocked.headers["retry-after"] == "1"
        assert "Too many attempts" in blocked.text
        clock.advance(1.1)
        assert (await _try(b, "alice", "wrong password!")).status_code == 401
        blocked = await _try(b, "alice", PASSWORD)
        assert blocked.status_code == 429 and blocked.headers["retry-after"] == "2"
        clock.advance(2.1)
        assert (await _try(b, "alice", PASSWORD)).status_code == 303
    assert any(e.code == "rate_limited" for e in _logins(env))


async def test_a_stranger_guessing_cannot_lock_the_owner_out(browser, world, clock):
    world.account("root", admin=True)
    async with browser(peer="203.0.113.66") as stranger:
        for _ in range(6):
            await _try(stranger, "root", "guess")
        assert (await _try(stranger, "root", PASSWORD)).status_code == 429
    async with browser(peer="192.0.2.10") as owner:
        assert (await _try(owner, "root", PASSWORD)).status_code == 303


async def test_flat_rate_limit_is_shared_with_the_api(env, settings, browser, world):
    """The UI spends the same ``login_user`` budget as ``POST /api/v1/auth/api-keys``."""
    import dataclasses

    from dnsgate.app import create_app
    from dnsgate.throttling.ratelimit import RateLimiter

    world.account("alice")
    tight_env = dataclasses.replace(env, limiter=RateLimiter(
        {"login_ip": "100/minute", "login_user": "2/minute"}))
    tight = create_app(settings, env=tight_env, migrate_on_start=False)
    import httpx

    transport = httpx.ASGITransport(app=tight, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://dnsgate.test") as api:
        response = await api.post("/api/v1/auth/api-keys",
                                  json={"username": "alice", "password": PASSWORD, "name": "k"})
        assert response.status_code == 201
    async with browser(target=tight) as b:
        assert (await _try(b, "alice", PASSWORD)).status_code == 303
        await b.submit("/ui/logout")
        assert (await _try(b, "alice", PASSWORD)).status_code == 429


async def test_next_stays_inside_the_ui(browser, world):
    world.account("alice")
    async with browser() as b:
        page = await b.get("/ui/login?next=//evil.example/x")
        assert 'value="/ui/"' in page.text
        response = await b.submit("/ui/login", {"username": "alice", "password": PASSWORD,
                                                "next": "https://evil.example/"})
    assert response.headers["location"] == "/ui/"


async def test_next_returns_to_the_page_asked_for(browser, world):
    world.account("alice")
    async with browser() as b:
        first = await b.get("/ui/tokens")
        assert first.headers["location"] == "/ui/login?next=/ui/tokens"
        await b.get(first.headers["location"])
        response = await b.submit("/ui/login", {"username": "alice", "password": PASSWORD,
                                                "next": "/ui/tokens"})
    assert response.headers["location"] == "/ui/tokens"


async def test_root_redirects_to_the_ui(client):
    response = await client.get("/")
    assert response.status_code == 307
    assert response.headers["location"] == "/ui/"


async def test_web_and_api_sign_in_count_the_same_failures(browser, world, client):
    # Failed web sign-ins slow the API's password sign-in down too: switching
    # surfaces gives a guesser no fresh tries.
    world.account("alice")
    async with browser() as b:
        for _ in range(3):
            assert (await _try(b, "alice", "wrong password!")).status_code == 401
    response = await client.post("/api/v1/auth/api-keys",
                                 json={"username": "alice", "password": PASSWORD})
    assert response.status_code == 429, response.text
    assert response.json()["code"] == "rate_limited"


async def test_a_burst_of_sign_ins_does_not_stall_other_requests(browser, world, client,
                                                                 monkeypatch):
    """argon2 at its real cost (~0.2 s of a core per check) runs off the event
    loop: while five people sign in at once, /healthz answers at once."""
    from dnsgate.security import passwords

    monkeypatch.setattr(passwords, "_hasher", PasswordHasher())
    world.account("alice", password=PASSWORD)

    async def sign_in() -> None:
        async with browser() as b:
            await b.get("/ui/login")
            response = await b.submit("/ui/login", {"username": "alice", "password": PASSWORD})
            assert response.status_code == 303, response.text

    async def probe() -> None:
        assert (await client.get("/healthz")).status_code == 200

    await probe()
    busy = [asyncio.create_task(sign_in()) for _ in range(5)]
    taken = await latencies_while(busy, probe)
    assert len(taken) >= 3, taken
    assert statistics.median(taken) < 0.05, taken
