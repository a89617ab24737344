"""Journeys in a real browser (chromium) against a real ``dnsgate serve``.

user requests a realm -> admin approves it -> user creates a token and copies
the secret -> a REST PUT with it succeeds -> user revokes it in the UI -> the
next REST call gets 401. And: keyboard-only login; no CSP violations (the
pages really run without inline script, htmx included).
"""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import expect

from tests.e2e.conftest import ZONE, Tab


def _csp_clean(tab: Tab) -> None:
    csp = [p for p in tab.problems if "Content Security Policy" in p or "Refused to" in p]
    assert csp == []
    assert not [p for p in tab.problems if "Uncaught" in p or "Error:" in p], tab.problems


def _request_realm(tab: Tab, label: str) -> None:
    page = tab.page
    page.get_by_role("link", name="Request a realm").first.click()
    page.get_by_label("Zone").select_option(ZONE)
    page.get_by_label("Name", exact=True).fill(label)
    page.get_by_label("subtree: this name and everything below").check()
    # htmx live preview of the full name
    expect(page.locator("#preview")).to_contain_text(f"{label}.{ZONE} and every name below it")
    page.get_by_role("button", name="Request").click()
    expect(page.get_by_role("status")).to_have_text("Your realm request is saved.")


def test_request_approve_token_put_revoke(new_tab, ui_server):
    user = ui_server.account("alice")
    label = f"home-{user}"
    fqdn = f"{label}.{ZONE}"

    alice = new_tab(permissions=["clipboard-read", "clipboard-write"])
    alice.login(user)
    _request_realm(alice, label)
    row = alice.page.get_by_role("region", name="My realms").get_by_role("row").filter(
        has_text=fqdn)
    expect(row).to_contain_text("pending")
    alice.shoot("dashboard-pending")

    root = new_tab()
    root.login(ui_server.admin)
    root.page.get_by_role("link", name="Approvals").click()
    card = root.page.locator("li.card").filter(has_text=fqdn)
    expect(card).to_contain_text(user)
    root.shoot("admin-approvals")
    card.get_by_role("button", name=f"Approve {fqdn}").click()
    expect(root.page.get_by_role("status")).to_have_text("The realm is approved.")
    root.page.get_by_role("link", name="Accounts").click()
    expect(root.page.get_by_role("cell", name=user, exact=True)).to_be_visible()
    root.shoot("admin-accounts")

    alice.page.get_by_role("link", name="Tokens", exact=True).click()
    alice.shoot("tokens")
    realm_id = alice.page.locator("#realm_id option", has_text=fqdn).get_attribute("value")
    alice.page.get_by_label("Realm").select_option(realm_id)
    alice.page.get_by_label("Label").fill("router")
    alice.page.get_by_role("checkbox", name="A", exact=True).check()
    alice.page.get_by_role("button", name="Create token").click()
    expect(alice.page.get_by_role("heading", name="Token created")).to_be_visible()
    shown = alice.page.locator("#secret").inner_text().strip()
    assert re.fullmatch(r"dg_[a-z2-7]{16}_[a-z2-7]{52}", shown)
    alice.page.get_by_role("button", name="Copy token").click()
    expect(alice.page.locator("[data-copy-status]")).to_have_text("Copied to the clipboard.")
    secret = alice.page.evaluate("navigator.clipboard.readText()")
    assert secret == shown
    alice.shoot("token-created")

    api = f"{ui_server.base}/api/v1/zones/{ZONE}/rrsets/{fqdn}/A"
    headers = {"Authorization": f"Bearer {secret}"}
    put = httpx.put(api, headers=headers, json={"ttl": 300, "records": ["192.0.2.44"]})
    assert put.status_code == 200, put.text
    read = httpx.get(f"{ui_server.base}/api/v1/zones/{ZONE}/rrsets",
                     params={"name": fqdn, "type": "A"}, headers=headers)
    assert read.json()[0]["records"] == ["192.0.2.44"]

    alice.page.get_by_role("link", name="Done").click()
    token_id = secret.split("_")[1]
    row = alice.page.locator(f"#token-{token_id}")
    expect(row).to_contain_text("active")
    expect(row).to_contain_text("(2 uses)")  # the PUT and the GET
    row.get_by_role("button", name=f"Revoke token {token_id}").click()  # htmx, in place
    expect(row).to_contain_text("revoked")
    expect(row.get_by_role("button")).to_have_count(0)
    after = httpx.put(api, headers=headers, json={"ttl": 300, "records": ["192.0.2.45"]})
    assert after.status_code == 401
    alice.page.reload()
    expect(alice.page.locator(f"#token-{token_id}")).to_contain_text("revoked")
    for tab in (alice, root):
        _csp_clean(tab)


def test_keyboard_only_login_with_visible_focus(new_tab, ui_server):
    user = ui_server.account("kbd")
    tab = new_tab()
    tab.go("/ui/login")
    page = tab.page
    for _ in range(6):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "username":
            break
    assert page.evaluate("document.activeElement.id") == "username"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", "")  # the focus ring is visible
    page.keyboard.type(user)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type("correct horse battery staple")
    page.keyboard.press("Enter")
    page.wait_for_url(tab.base + "/ui/")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Hello, {user}")
    _csp_clean(tab)


def test_login_failure_and_form_errors_in_the_browser(new_tab, ui_server):
    user = ui_server.account("err")
    tab = new_tab()
    tab.go("/ui/login")
    page = tab.page
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Invalid username or password.")
    expect(page.get_by_label("Username")).to_have_value(user)
    expect(page.get_by_label("Password")).to_have_value("")
    tab.shoot("login-failed")
    tab.login(user)
    page.get_by_role("link", name="Request a realm").first.click()
    page.get_by_label("Name", exact=True).fill("a..b")
    page.get_by_role("button", name="Request").click()
    name = page.get_by_label("Name", exact=True)
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(name).to_have_value("a..b")
    tab.shoot("realm-request-error")
    _csp_clean(tab)
