"""Account security: TOTP 2FA (service and pages), login with a second factor,
its throttling, the site's "require 2FA" rule, sessions and API keys."""

from __future__ import annotations

import re

import pyotp
import pytest
from sqlalchemy import select

from dnsgate.db.models import Account, ApiKey, AuditEvent, SiteSetting, WebSession
from dnsgate.domain.errors import Conflict, Denied, InvalidInput, Unauthenticated
from dnsgate.services import auth, site_settings, twofactor
from dnsgate.services.context import SYSTEM_CALLER, RequestContext
from tests.web.conftest import PASSWORD

CTX = RequestContext(surface="web")
_KEY = re.compile(r'<code id="totp-key">([A-Z2-7 ]+)</code>')
_CODES = re.compile(r"\b[a-z2-9]{5}-[a-z2-9]{5}\b")


def _enrol(world, clock, account_id: int) -> tuple[str, list[str]]:
    """2FA on for an account, through the service; returns (secret, recovery codes)."""
    caller = world.caller(account_id)
    secret = twofactor.begin_enrolment(world.env, CTX, caller=caller).secret
    codes = twofactor.confirm_enrolment(world.env, CTX, caller=caller,
                                        code=pyotp.TOTP(secret).at(clock()))
    clock.advance(30)  # the enrolment code's step is used up
    return secret, codes


def _account(env, account_id: int) -> Account:
    with env.db.read() as session:
        account = session.get(Account, account_id)
        assert account is not None
        return account


def _events(env, action: str) -> list[AuditEvent]:
    with env.db.read() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                    .order_by(AuditEvent.id)))


# --- the service ----------------------------------------------------------------

def test_enrolment_stores_a_sealed_secret_and_turns_on_only_after_a_valid_code(
        world, env, clock):
    alice = world.account("alice")
    caller = world.caller(alice)
    first = twofactor.begin_enrolment(env, CTX, caller=caller)
    again = twofactor.begin_enrolment(env, CTX, caller=caller)
    assert again.secret == first.secret  # a reload shows the QR code already scanned
    assert first.uri.startswith("otpauth://totp/dnsgate:alice?secret=")
    stored = _account(env, alice)
    assert stored.totp_secret and stored.totp_secret.startswith("sealed:v1:")
    assert first.secret not in stored.totp_secret
    assert stored.totp_enabled_at is None

    with pytest.raises(InvalidInput):
        twofactor.confirm_enrolment(env, CTX, caller=caller, code="000000"
                                    if pyotp.TOTP(first.secret).at(clock()) != "000000"
                                    else "111111")
    assert _account(env, alice).totp_enabled_at is None
    codes = twofactor.confirm_enrolment(env, CTX, caller=caller,
                                        code=pyotp.TOTP(first.secret).at(clock()))
    stored = _account(env, alice)
    assert stored.totp_enabled_at is not None
    assert len(codes) == len(set(codes)) == 10
    assert len(stored.recovery_codes or []) == 10
    assert not set(codes) & set(stored.recovery_codes or [])  # only keyed hashes stored
    outcomes = [(e.outcome, e.code) for e in _events(env, "2fa.enable")]
    assert outcomes == [("denied", "totp_invalid"), ("success", "ok")]
    everything = str([(e.details, e.target) for e in _events(env, "2fa.enable")
                      + _events(env, "2fa.enrol_start")])
    assert first.secret not in everything and not any(c in everything for c in codes)
    with pytest.raises(Conflict):
        twofactor.begin_enrolment(env, CTX, caller=caller)


def test_a_code_is_never_accepted_twice(world, env, clock):
    alice = world.account("alice")
    secret, _ = _enrol(world, clock, alice)
    totp = pyotp.TOTP(secret)
    code = totp.at(clock())
    assert twofactor.verify_second_factor(env, CTX, account_id=alice, code=code) == "totp"
    with pytest.raises(Unauthenticated):
        twofactor.verify_second_factor(env, CTX, account_id=alice, code=code)
    previous = totp.at(clock().timestamp() - 30)  # within the drift window, but older
    with pytest.raises(Unauthenticated):
        twofactor.verify_second_factor(env, CTX, account_id=alice, code=previous)
    clock.advance(30)
    assert twofactor.verify_second_factor(env, CTX, account_id=alice,
                                          code=totp.at(clock())) == "totp"
    clock.advance(120)  # far beyond the window: a code of long ago is refused
    with pytest.raises(Unauthenticated):
        twofactor.verify_second_factor(env, CTX, account_id=alice, code=code)
    outcomes = [e.outcome for e in _events(env, "auth.2fa")]
    assert outcomes == ["success", "denied", "denied", "success", "denied"]


def test_each_recovery_code_works_once(world, env, clock):
    alice = world.account("alice")
    _, codes = _enrol(world, clock, alice)
    assert twofactor.verify_second_factor(env, CTX, account_id=alice,
                                          code=codes[3].upper()) == "recovery"
    with pytest.raises(Unauthenticated):
        twofactor.verify_second_factor(env, CTX, account_id=alice, code=codes[3])
    assert len(_account(env, alice).recovery_codes or []) == 9
    assert twofactor.status(env, account_id=alice).recovery_left == 9
    [used, refused] = _events(env, "auth.2fa")
    assert used.details["method"] == "recovery" and codes[3] not in str(used.details)
    assert refused.outcome == "denied"


async def test_regenerated_codes_replace_the_old_ones(world, env, clock):
    alice = world.account("alice")
    _, old = _enrol(world, clock, alice)
    caller = world.caller(alice)
    with pytest.raises(InvalidInput):
        await twofactor.regenerate_recovery_codes(env, CTX, caller=caller, proof="wrong password")
    new = await twofactor.regenerate_recovery_codes(env, CTX, caller=caller, proof=PASSWORD)
    assert len(new) == 10 and not set(new) & set(old)
    with pytest.raises(Unauthenticated):
        twofactor.verify_second_factor(env, CTX, account_id=alice, code=old[0])
    assert twofactor.verify_second_factor(env, CTX, account_id=alice, code=new[0]) == "recovery"
    assert [e.outcome for e in _events(env, "2fa.recovery_codes")] == ["denied", "success"]


async def test_disable_needs_the_password_or_a_code_and_not_while_required(world, env, clock):
    alice = world.account("alice")
    secret, _ = _enrol(world, clock, alice)
    caller = world.caller(alice)
    with pytest.raises(InvalidInput):
        await twofactor.disable(env, CTX, caller=caller, proof="not my password")
    assert twofactor.status(env, account_id=alice).enabled
    site_settings.put(env, CTX, caller=SYSTEM_CALLER, key=site_settings.REQUIRE_2FA,
                      value="all")
    with pytest.raises(Denied):
        await twofactor.disable(env, CTX, caller=caller, proof=PASSWORD)
    site_settings.put(env, CTX, caller=SYSTEM_CALLER, key=site_settings.REQUIRE_2FA,
                      value="admins")  # alice is no admin
    await twofactor.disable(env, CTX, caller=caller, proof=pyotp.TOTP(secret).at(clock()))
    stored = _account(env, alice)
    assert (stored.totp_secret, stored.totp_enabled_at, stored.recovery_codes) == (
        None, None, None)
    codes = [(e.outcome, e.code) for e in _events(env, "2fa.disable")]
    assert codes == [("denied", "reauth_failed"), ("denied", "2fa_required"), ("success", "ok")]


def test_only_admins_reset_2fa(world, env, clock):
    alice = world.account("alice")
    bob = world.account("bob")
    _enrol(world, clock, alice)
    with pytest.raises(Denied):
        twofactor.reset(env, CTX, caller=world.caller(bob), account_id=alice)
    twofactor.reset(env, CTX, caller=SYSTEM_CALLER, account_id=alice)
    assert not twofactor.status(env, account_id=alice).enabled
    assert _account(env, alice).totp_last_step is None
    [event] = _events(env, "2fa.reset")
    assert event.target == f"account:{alice}" and event.details["was_enabled"] is True


def test_site_settings_accept_only_known_values(world, env):
    with pytest.raises(InvalidInput):
        site_settings.put(env, CTX, caller=SYSTEM_CALLER, key=site_settings.REQUIRE_2FA,
                          value="some")
    with pytest.raises(Denied):
        site_settings.put(env, CTX, caller=world.caller(world.account("alice")),
                          key=site_settings.REQUIRE_2FA, value="all")
    assert site_settings.read_all(env)["require_2fa"] == "none"


# --- pages: enrolment and signing in ----------------------------------------------

async def _password_step(b, name: str, password: str = PASSWORD):
    await b.get("/ui/login")
    return await b.submit("/ui/login", {"username": name, "password": password})


async def test_enrol_through_the_pages_then_sign_in_with_a_code(browser, world, env, clock):
    alice = world.account("alice")
    async with browser() as b:
        await b.login("alice")
        page = await b.get("/ui/security")
        assert "Set up two-factor sign-in" in page.text
        setup = await b.get("/ui/security/2fa/setup")
        assert setup.status_code == 200
        assert 'src="data:image/svg+xml' in setup.text  # the QR code, rendered here
        secret = _KEY.search(setup.text).group(1).replace(" ", "")  # type: ignore[union-attr]
        wrong = await b.submit("/ui/security/2fa/setup", {"code": "12345"})
        assert wrong.status_code == 422 and "not valid" in wrong.text
        done = await b.submit("/ui/security/2fa/setup",
                              {"code": pyotp.TOTP(secret).at(clock())})
        assert done.status_code == 200
        codes = _CODES.findall(done.text)
        assert len(codes) == 10
        assert "Recovery codes left: <strong id=\"recovery-left\">10" in (
            await b.get("/ui/security")).text
        assert "Shown once" not in (await b.get("/ui/security")).text
    assert twofactor.status(env, account_id=alice).enabled

    clock.advance(30)
    async with browser() as b:
        first = await _password_step(b, "alice")
        assert first.status_code == 303 and first.headers["location"] == "/ui/login/2fa"
        assert b.session_cookie is None  # no session before the second factor
        assert (await b.get("/ui/")).status_code == 303
        ask = await b.get("/ui/login/2fa")
        assert ask.status_code == 200 and 'autocomplete="one-time-code"' in ask.text
        signed_in = await b.submit("/ui/login/2fa", {"code": pyotp.TOTP(secret).at(clock())})
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/ui/"
        assert b.session_cookie is not None
        assert "dnsgate_2fa" not in b.client.cookies  # the pending login is gone
        assert (await b.get("/ui/")).status_code == 200
    assert [e.outcome for e in _events(env, "auth.login")][-1] == "success"
    assert _events(env, "auth.password")[-1].details["second_factor"] == "required"


async def test_sign_in_with_a_recovery_code_once(browser, world, env, clock):
    alice = world.account("alice")
    _, codes = _enrol(world, clock, alice)
    async with browser() as b:
        await _password_step(b, "alice")
        await b.get("/ui/login/2fa")
        moved = await b.submit("/ui/login/2fa", {"code": codes[0]})
        assert moved.headers["location"] == "/ui/security?done=recovery_code_used"
        page = await b.get(moved.headers["location"])
        assert "it is now used up" in page.text and 'id="recovery-left">9' in page.text
    async with browser() as b:
        await _password_step(b, "alice")
        await b.get("/ui/login/2fa")
        again = await b.submit("/ui/login/2fa", {"code": codes[0]})
        assert again.status_code == 401 and "not valid" in again.text
        assert b.session_cookie is None


async def test_a_forged_or_expired_pending_login_goes_back_to_the_password(
        browser, world, env, clock):
    alice = world.account("alice")
    secret, _ = _enrol(world, clock, alice)
    async with browser() as b:
        await _password_step(b, "alice")
        value = b.client.cookies.get("dnsgate_2fa")
        _, rest = value.split(".", 1)
        b.client.cookies.set("dnsgate_2fa", f"{alice + 1}.{rest}", domain="dnsgate.test",
                             path="/ui")
        assert (await b.get("/ui/login/2fa")).headers["location"] == "/ui/login"
        b.client.cookies.set("dnsgate_2fa", value, domain="dnsgate.test", path="/ui")
        page = await b.get("/ui/login/2fa")
        assert page.status_code == 200
        clock.advance(6 * 60)
        late = await b.submit("/ui/login/2fa", {"code": pyotp.TOTP(secret).at(clock())})
        assert late.status_code == 303 and late.headers["location"] == "/ui/login"
        assert b.session_cookie is None


async def test_wrong_codes_slow_down_only_that_account_at_that_address(
        browser, world, env, clock):
    root = world.account("root", admin=True)
    secret, _ = _enrol(world, clock, root)
    async with browser(peer="203.0.113.9") as stranger:  # has the password, not the phone
        await _password_step(stranger, "root")
        await stranger.get("/ui/login/2fa")
        for _ in range(3):
            assert (await stranger.submit("/ui/login/2fa", {"code": "000001"})).status_code \
                == 401
        blocked = await stranger.submit("/ui/login/2fa",
                                        {"code": pyotp.TOTP(secret).at(clock())})
        assert blocked.status_code == 429 and blocked.headers["retry-after"] == "1"
        assert "Too many attempts" in blocked.text and stranger.session_cookie is None
    async with browser() as admin:  # the admin at their own address is not locked out
        await _password_step(admin, "root")
        await admin.get("/ui/login/2fa")
        ok = await admin.submit("/ui/login/2fa", {"code": pyotp.TOTP(secret).at(clock())})
        assert ok.status_code == 303 and admin.session_cookie is not None
    codes = [e.code for e in _events(env, "auth.2fa") if e.outcome == "denied"]
    assert codes.count("rate_limited") == 1 and codes.count("totp_invalid") == 3


# --- pages: the site's rule and the admin side --------------------------------------

async def test_required_2fa_sends_every_page_to_enrolment_until_done(
        browser, world, env, clock):
    world.account("alice")
    world.account("root", admin=True)
    async with browser() as admin:
        await admin.login("root")
        page = await admin.get("/ui/admin/settings")
        assert 'value="none" checked' in page.text
        bad = await admin.submit("/ui/admin/settings", {"require_2fa": "maybe"})
        assert bad.status_code == 422 and "Choose one" in bad.text
        saved = await admin.submit("/ui/admin/settings", {"require_2fa": "all"})
        assert saved.headers["location"] == "/ui/admin/settings?done=settings_saved"
        # the admin is bound by it too, from the next request on
        assert (await admin.get("/ui/admin/accounts")).headers["location"] == \
            "/ui/security/2fa/setup"
    [event] = _events(env, "site_setting.update")
    assert event.details["old"] == "none" and event.details["new"] == "all"
    with env.db.read() as session:
        assert session.get(SiteSetting, "require_2fa").value == "all"  # type: ignore[union-attr]

    async with browser() as b:
        await b.login("alice")  # the helper follows to /ui/, which already redirects
        for path in ("/ui/", "/ui/tokens", "/ui/security"):
            response = await b.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"] == "/ui/security/2fa/setup"
        setup = await b.get("/ui/security/2fa/setup")
        assert setup.status_code == 200 and "requires two-factor sign-in" in setup.text
        secret = _KEY.search(setup.text).group(1).replace(" ", "")  # type: ignore[union-attr]
        await b.submit("/ui/security/2fa/setup", {"code": pyotp.TOTP(secret).at(clock())})
        assert (await b.get("/ui/")).status_code == 200
        page = await b.get("/ui/security")
        assert "cannot be turned off" in page.text and "Turn off" not in page.text


async def test_admin_resets_an_accounts_2fa(browser, world, env, clock):
    alice = world.account("alice")
    world.account("root", admin=True)
    _enrol(world, clock, alice)
    async with browser() as b:
        await b.login("root")
        page = await b.get(f"/ui/admin/accounts/{alice}")
        assert "Reset two-factor sign-in of alice" in page.text
        moved = await b.submit(f"/ui/admin/accounts/{alice}/reset-2fa", {})
        assert moved.headers["location"] == f"/ui/admin/accounts/{alice}?done=2fa_reset"
        assert (await b.submit("/ui/admin/accounts/99999/reset-2fa", {})).status_code == 404
    assert not twofactor.status(env, account_id=alice).enabled
    async with browser() as b:  # the password alone signs in again
        assert (await _password_step(b, "alice")).headers["location"] == "/ui/"


async def test_disable_through_the_page_keeps_nothing_typed(alice_browser, world, env, clock):
    alice = _alice(env)
    _enrol(world, clock, alice)
    await alice_browser.get("/ui/security")
    wrong = await alice_browser.submit("/ui/security/2fa/disable",
                                       {"disable_proof": "guessed password"})
    assert wrong.status_code == 422 and "neither your password" in wrong.text
    assert "guessed password" not in wrong.text
    done = await alice_browser.submit("/ui/security/2fa/disable", {"disable_proof": PASSWORD})
    assert done.headers["location"] == "/ui/security?done=2fa_disabled"
    assert not twofactor.status(env, account_id=alice).enabled


# --- pages: sessions and API keys ---------------------------------------------------

def _alice(env) -> int:
    with env.db.read() as session:
        return session.scalars(select(Account.id).where(Account.name == "alice")).one()


async def test_revoke_another_session_and_only_my_own(browser, world, env):
    world.account("alice")
    world.account("bob")
    async with browser() as laptop, browser(peer="198.51.100.7") as phone, \
            browser() as bob:
        await laptop.login("alice")
        await phone.login("alice")
        await bob.login("bob")
        page = await laptop.get("/ui/security")
        assert page.text.count('"badge">this session<') == 1 and "198.51.100.7" in page.text
        with env.db.read() as session:
            phone_row = session.scalars(select(WebSession).where(
                WebSession.source_ip == "198.51.100.7")).one()
        from dnsgate.services.sessions import session_ref

        ref = session_ref(env, phone_row.id)
        assert phone_row.id not in page.text and ref in page.text  # no stored id in pages
        await bob.get("/ui/security")
        assert (await bob.submit(f"/ui/security/sessions/{ref}/revoke", {})).status_code \
            == 404
        assert (await phone.get("/ui/")).status_code == 200  # still signed in
        moved = await laptop.submit(f"/ui/security/sessions/{ref}/revoke", {})
        assert moved.headers["location"] == "/ui/security?done=session_revoked"
        assert (await phone.get("/ui/")).status_code == 303
        assert (await laptop.get("/ui/")).status_code == 200
    denied = [e for e in _events(env, "web.access") if e.code == "not_found"]
    assert len(denied) == 1 and denied[0].outcome == "denied"
    assert len(_events(env, "session.revoke")) == 1


async def test_create_and_revoke_an_api_key(alice_browser, browser, world, env):
    world.account("bob")
    await alice_browser.get("/ui/security")
    bad = await alice_browser.submit("/ui/security/api-keys",
                                     {"key_name": "backup script", "key_days": "forever"})
    assert bad.status_code == 422 and 'value="backup script"' in bad.text
    created = await alice_browser.submit("/ui/security/api-keys",
                                         {"key_name": "backup script", "key_days": "30"})
    assert created.status_code == 200 and "Shown once" in created.text
    text = re.search(r"dgk_[a-z2-7]{16}_[a-z2-7]{52}", created.text).group(0)  # type: ignore
    key_id = text.split("_")[1]
    assert auth.authenticate_credential(env, text).account_id == _alice(env)
    listed = await alice_browser.get("/ui/security")
    assert key_id in listed.text and text not in listed.text  # the secret only once
    async with browser() as bob:
        await bob.login("bob")
        assert (await bob.submit(f"/ui/security/api-keys/{key_id}/revoke", {})).status_code \
            == 404
    moved = await alice_browser.submit(f"/ui/security/api-keys/{key_id}/revoke", {})
    assert moved.headers["location"] == "/ui/security?done=api_key_revoked"
    with env.db.read() as session:
        assert session.get(ApiKey, key_id).revoked_at is not None  # type: ignore[union-attr]
    with pytest.raises(Unauthenticated):
        auth.authenticate_credential(env, text)


async def test_the_api_login_needs_the_second_factor_too(client, world, env, clock):
    alice = world.account("alice")
    secret, _ = _enrol(world, clock, alice)
    body = {"username": "alice", "password": PASSWORD}
    without = await client.post("/api/v1/auth/api-keys", json=body)
    wrong = await client.post("/api/v1/auth/api-keys", json={**body, "totp_code": "12345x"})
    assert (without.status_code, wrong.status_code) == (401, 401)
    with_code = await client.post("/api/v1/auth/api-keys",
                                  json={**body, "totp_code": pyotp.TOTP(secret).at(clock())})
    assert with_code.status_code == 201 and with_code.json()["key"].startswith("dgk_")
    assert [e.outcome for e in _events(env, "auth.2fa")] == ["denied", "denied", "success"]


async def test_the_api_login_refuses_an_account_that_must_enrol_first(client, world, env):
    world.account("alice")
    body = {"username": "alice", "password": PASSWORD}
    assert (await client.post("/api/v1/auth/api-keys", json=body)).status_code == 201
    site_settings.put(env, CTX, caller=SYSTEM_CALLER, key=site_settings.REQUIRE_2FA,
                      value="all")
    refused = await client.post("/api/v1/auth/api-keys", json=body)
    assert refused.status_code == 403 and refused.json()["code"] == "twofactor_required"
    assert [e.code for e in _events(env, "auth.login")][-1] == "twofactor_required"
    with env.db.read() as session:
        assert session.query(ApiKey).count() == 1  # only the one made before the rule
