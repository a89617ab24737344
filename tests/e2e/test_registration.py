"""Sign-up and password reset in chromium against a real ``dnsgate serve``
whose mail goes to a real SMTP sink (``ui_server.mail``).

The main journey of issue 6: register -> verify the e-mail address (link read
from the sink) -> an admin approves the account -> request a realm -> the
admin approves it -> create a token -> a REST PUT with it updates a record ->
the update is in the user's activity and in the admin audit log.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, ZONE, Tab
from tests.e2e.test_accessibility import violations
from tests.e2e.test_journeys import _request_realm

NEW_PASSWORD = "amber tractor whistle lagoon"


def _path(link: str) -> str:
    """The mail's link on this test server (the mail names the public URL)."""
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


def _sign_up_mode(admin: Tab, registration: str, approval: str) -> None:
    admin.go("/ui/admin/registration")
    admin.page.locator(f"input[name=registration][value={registration}]").check()
    admin.page.locator(f"input[name=account_approval][value={approval}]").check()
    admin.page.get_by_role("button", name="Save").click()
    expect(admin.page.get_by_role("status")).to_have_text("The registration settings are saved.")


def _register(tab: Tab, name: str, email: str, password: str) -> None:
    page = tab.page
    page.get_by_label("Username").fill(name)
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Password again").fill(password)
    page.get_by_role("button", name="Create account").click()


def test_register_verify_approve_realm_token_put(new_tab, ui_server):
    assert ui_server.mail is not None
    root = new_tab()
    root.login(ui_server.admin)
    _sign_up_mode(root, "open", "admin")

    name = f"new{ui_server.worker}-{len(ui_server.mail.messages)}"
    email = f"{name}@example.org"
    label = f"home-{name}"
    fqdn = f"{label}.{ZONE}"
    me = new_tab()
    me.go("/ui/login")
    me.page.get_by_role("link", name="Create an account").click()
    _register(me, name, email, "password1234")  # too weak: the form comes back
    expect(me.page.locator("#password-error")).to_contain_text("This is a very common password.")
    expect(me.page.get_by_label("Username")).to_have_value(name)
    expect(me.page.get_by_label("E-mail address")).to_have_value(email)
    expect(me.page.get_by_label("Password", exact=True)).to_have_value("")
    _register(me, name, email, PASSWORD)
    expect(me.page.get_by_role("status")).to_contain_text("Open the link we mailed you")

    me.go(_path(ui_server.mail.link(email, "/ui/verify?token=")))
    expect(me.page.get_by_role("status")).to_have_text(
        f"Your e-mail address {email} is confirmed.")
    expect(me.page.get_by_text("An admin approves new accounts")).to_be_visible()
    me.go("/ui/login")
    me.page.get_by_label("Username").fill(name)
    me.page.get_by_label("Password").fill(PASSWORD)
    me.page.get_by_role("button", name="Sign in").click()
    expect(me.page.get_by_role("alert")).to_contain_text("not active yet")

    root.page.get_by_role("list", name="Admin").get_by_role("link", name="Accounts").click()
    row = root.page.get_by_role("row").filter(has_text=name)
    expect(row).to_contain_text("waiting for admin approval")
    root.shoot("admin-accounts-pending")
    row.get_by_role("button", name=f"Approve {name}").click()
    expect(root.page.get_by_role("status")).to_have_text("The account is approved and active.")
    expect(root.page.get_by_role("row").filter(has_text=name)).to_contain_text("active")

    me.login(name)
    _request_realm(me, label)
    root.page.get_by_role("link", name="Approvals").click()
    root.page.locator("li.card").filter(has_text=fqdn).get_by_role(
        "button", name=f"Approve {fqdn}").click()
    expect(root.page.get_by_role("status")).to_have_text("The realm is approved.")

    me.page.get_by_role("link", name="Tokens", exact=True).click()
    realm_id = me.page.locator("#realm_id option", has_text=fqdn).get_attribute("value")
    me.page.get_by_label("Realm").select_option(realm_id)
    me.page.get_by_label("Label").fill("router")
    me.page.get_by_role("button", name="Create token").click()
    expect(me.page.get_by_role("heading", name="Token created")).to_be_visible()
    secret = me.page.locator("#secret").inner_text().strip()

    put = httpx.put(f"{ui_server.base}/api/v1/zones/{ZONE}/rrsets/{fqdn}/A",
                    headers={"Authorization": f"Bearer {secret}"},
                    json={"ttl": 300, "records": ["192.0.2.77"]})
    assert put.status_code == 200, put.text
    got = httpx.get(f"{ui_server.base}/api/v1/zones/{ZONE}/rrsets?name={fqdn}&type=A",
                    headers={"Authorization": f"Bearer {secret}"})
    assert "192.0.2.77" in got.text
    token_id = secret.split("_")[1]

    me.go("/ui/activity")
    update = me.page.get_by_role("row").filter(has_text=fqdn).filter(has_text=token_id)
    expect(update.first).to_contain_text("rrset.")
    expect(update.first).to_contain_text("success")
    root.go(f"/ui/admin/audit?account={name}")
    logged = root.page.get_by_role("row").filter(has_text=fqdn).filter(has_text=token_id)
    expect(logged.first).to_contain_text(name)
    expect(logged.first).to_contain_text("rrset.")


def test_password_reset_by_mailed_link(new_tab, ui_server):
    assert ui_server.mail is not None
    name = ui_server.account("forgetful")
    email = f"{name}@example.org"
    _verified_address(ui_server, name, email)
    tab = new_tab()
    tab.go("/ui/login")
    tab.page.get_by_role("link", name="Forgot your password?").click()
    tab.page.get_by_label("Username or e-mail address").fill(email)
    tab.page.get_by_role("button", name="Send link").click()
    expect(tab.page.get_by_role("status")).to_contain_text("we mailed it a link")
    link = _path(ui_server.mail.link(email, "/ui/password/reset?token="))
    tab.go(link)
    tab.page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    tab.page.get_by_label("New password again").fill(NEW_PASSWORD)
    tab.page.get_by_role("button", name="Set password").click()
    expect(tab.page.get_by_role("status")).to_contain_text("Your new password is set")
    tab.login(name, NEW_PASSWORD)
    tab.go(link)  # used: void
    expect(tab.page.get_by_role("alert")).to_contain_text("used already")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_registration_pages_have_no_serious_violations(new_tab, ui_server, scheme):
    from dnsgate.services import site_settings
    from dnsgate.services.context import SYSTEM_CALLER, SYSTEM_CONTEXT

    site_settings.put(ui_server.world.env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER,
                      key="registration", value="open")
    found: dict[str, list[str]] = {}
    anonymous = new_tab(bypass_csp=True, color_scheme=scheme)
    for page, path in (("register", "/ui/register"), ("forgot", "/ui/password/forgot"),
                       ("resend", "/ui/verify/resend"), ("verify bad", "/ui/verify?token=x"),
                       ("reset bad", "/ui/password/reset?token=x")):
        anonymous.go(path)
        found[page] = violations(anonymous)
        if scheme == "light":
            anonymous.shoot(f"registration-{page.replace(' ', '-')}")
    anonymous.go("/ui/register")
    anonymous.page.get_by_role("button", name="Create account").click()
    found["register with errors"] = violations(anonymous)

    user = new_tab(bypass_csp=True, color_scheme=scheme)
    user.login(ui_server.account("a11yreg"))
    user.go("/ui/password/change")
    found["change password"] = violations(user)
    user.page.get_by_role("button", name="Change password").click()
    found["change password with errors"] = violations(user)

    admin = new_tab(bypass_csp=True, color_scheme=scheme)
    admin.login(ui_server.admin)
    admin.go("/ui/admin/registration")
    found["admin registration"] = violations(admin)
    admin.go("/ui/admin/invites")
    found["invites"] = violations(admin)
    if scheme == "light":
        admin.shoot("admin-registration-invites")
    admin.page.get_by_label("E-mail address").fill(f"invitee-{scheme}@example.org")
    admin.page.get_by_role("button", name="Create invitation").click()
    expect(admin.page.get_by_role("heading", name="Invitation created")).to_be_visible()
    found["invite created"] = violations(admin)
    if scheme == "light":
        admin.shoot("admin-invite-created")
    assert {page: v for page, v in found.items() if v} == {}


def _verified_address(server, name: str, email: str) -> None:
    from sqlalchemy import select

    from dnsgate.db.models import Account

    with server.world.env.db.write() as session:
        account = session.scalars(select(Account).where(Account.name == name)).one()
        account.email, account.email_verified_at = email, server.world.env.clock()
