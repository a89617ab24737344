"""2FA in a real browser: enrol from the QR page (the code computed from the key
the page shows), sign in with a code, sign in with a recovery code; axe on the
account-security pages, light and dark; screenshots at desktop and phone width.

The site-wide "require 2FA" setting is only looked at here, never changed: the
server is shared by every e2e test of this worker.
"""

from __future__ import annotations

import re
import time

import pyotp
import pytest

from tests.e2e.conftest import PASSWORD, Tab
from tests.e2e.test_accessibility import violations


def _password_step(tab: Tab, name: str) -> None:
    tab.go("/ui/login")
    tab.page.get_by_label("Username").fill(name)
    tab.page.get_by_label("Password").fill(PASSWORD)
    tab.page.get_by_role("button", name="Sign in").click()
    tab.page.wait_for_url(tab.base + "/ui/login/2fa")


def _next_code(secret: str) -> str:
    """The code of the next 30 s step: inside the server's drift window, and newer
    than the one the enrolment used (a code is never accepted twice)."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def test_enrol_then_sign_in_with_a_code_and_with_a_recovery_code(new_tab, ui_server):
    user = ui_server.account("tfa")
    tab = new_tab()
    tab.login(user)
    tab.page.get_by_role("navigation", name="Main").get_by_role("link", name="Security").click()
    tab.page.get_by_role("link", name="Set up two-factor sign-in").click()
    tab.page.wait_for_url(tab.base + "/ui/security/2fa/setup")
    qr = tab.page.get_by_role("img", name=re.compile("QR code"))
    assert qr.is_visible() and qr.evaluate("img => img.naturalWidth") > 100  # it rendered
    secret = tab.page.locator("#totp-key").inner_text().replace(" ", "")
    tab.shoot("twofactor-setup")
    tab.page.get_by_label("6-digit code").fill("000000" if pyotp.TOTP(secret).now() != "000000"
                                                else "111111")
    tab.page.get_by_role("button", name="Turn on two-factor sign-in").click()
    assert tab.page.get_by_text("That code is not valid").is_visible()
    tab.page.get_by_label("6-digit code").fill(pyotp.TOTP(secret).now())
    tab.page.get_by_role("button", name="Turn on two-factor sign-in").click()
    tab.page.get_by_role("heading", name="Two-factor sign-in is on").wait_for()
    codes = tab.page.locator("#recovery-codes").inner_text().split()
    assert len(codes) == 10
    tab.shoot("twofactor-recovery-codes")
    tab.page.get_by_role("link", name="Done").click()
    assert tab.page.locator("#recovery-left").inner_text() == "10"
    tab.shoot("security")

    with_code = new_tab()
    _password_step(with_code, user)
    assert with_code.page.context.cookies() and not any(
        c["name"] == "dnsgate_session" for c in with_code.page.context.cookies())
    with_code.shoot("login-2fa")
    with_code.page.get_by_label("Authentication code").fill(_next_code(secret))
    with_code.page.get_by_role("button", name="Verify").click()
    with_code.page.wait_for_url(with_code.base + "/ui/")
    assert with_code.page.get_by_text(f"Hello, {user}").is_visible()

    with_recovery = new_tab()
    _password_step(with_recovery, user)
    with_recovery.page.get_by_label("Authentication code").fill(codes[4])
    with_recovery.page.get_by_role("button", name="Verify").click()
    with_recovery.page.wait_for_url(re.compile(r".*/ui/security\?done=recovery_code_used$"))
    assert with_recovery.page.locator("#recovery-left").inner_text() == "9"

    reused = new_tab()
    _password_step(reused, user)
    reused.page.get_by_label("Authentication code").fill(codes[4])
    reused.page.get_by_role("button", name="Verify").click()
    assert reused.page.get_by_text("That code is not valid").is_visible()
    assert reused.page.url == reused.base + "/ui/login/2fa"
    for seen in (tab, with_code, with_recovery, reused):  # no CSP violation, no script error
        assert not [p for p in seen.problems
                    if "Content Security Policy" in p or "Refused to" in p or "Uncaught" in p]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_security_pages_have_no_serious_violations(new_tab, ui_server, scheme):
    from dnsgate.services import accounts, twofactor

    user = ui_server.account("a11y2fa")
    found: dict[str, list[str]] = {}
    tab = new_tab(bypass_csp=True, color_scheme=scheme)
    tab.login(user)
    tab.go("/ui/security")
    found["security (2FA off)"] = violations(tab)
    tab.page.get_by_label("Expires after (days)").fill("soon")
    tab.page.get_by_role("button", name="Create API key").click()
    found["security with errors"] = violations(tab)
    tab.page.get_by_label("Name").fill("script")
    tab.page.get_by_label("Expires after (days)").fill("")
    tab.page.get_by_role("button", name="Create API key").click()
    found["API key created"] = violations(tab)
    tab.go("/ui/security/2fa/setup")
    found["2FA setup"] = violations(tab)
    secret = tab.page.locator("#totp-key").inner_text().replace(" ", "")
    tab.page.get_by_label("6-digit code").fill(pyotp.TOTP(secret).now())
    tab.page.get_by_role("button", name="Turn on two-factor sign-in").click()
    found["recovery codes"] = violations(tab)
    tab.go("/ui/security")
    tab.page.get_by_role("button", name="Turn off two-factor sign-in").click()  # empty
    found["security (2FA on) with errors"] = violations(tab)
    if scheme == "light":
        tab.shoot("security-2fa-on")

    with ui_server.world.env.db.read() as session:
        account_id = accounts.find_account(session, user).id
    assert twofactor.status(ui_server.world.env, account_id=account_id).enabled
    code_tab = new_tab(bypass_csp=True, color_scheme=scheme)
    _password_step(code_tab, user)
    found["login 2FA"] = violations(code_tab)

    admin = new_tab(bypass_csp=True, color_scheme=scheme)
    admin.login(ui_server.admin)
    admin.go("/ui/admin/settings")
    found["admin settings"] = violations(admin)
    if scheme == "light":
        admin.shoot("admin-settings")
    admin.go(f"/ui/admin/accounts/{account_id}")
    assert admin.page.get_by_role("button", name=f"Reset two-factor sign-in of {user}") \
        .is_visible()
    assert {page: v for page, v in found.items() if v} == {}
