"""The admin console in chromium: zones (add from the built-in backend's list, edit
the policy, grant), tokens (search, revoke: the next REST call gets 401), and
deleting an account after its preview; axe on these pages, light and dark."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from dnsgate.backends.base import ZoneDefaults
from tests.e2e.conftest import ZONE, Tab, UiServer
from tests.e2e.test_accessibility import violations
from tests.support.factories import bearer


def _account_id(ui_server: UiServer, name: str) -> int:
    from dnsgate.services.accounts import find_account

    with ui_server.world.env.db.read() as session:
        return find_account(session, name).id


def _spare_zone(ui_server: UiServer, label: str) -> str:
    """A zone the built-in store holds but nobody offers yet."""
    name = f"{label}-{ui_server.worker}.test".lower()
    env = ui_server.world.env
    with env.db.write() as session:
        env.backends.builtin().create_zone_in(session, name, ZoneDefaults(
            nameservers=(f"ns1.{name}",), hostmaster=f"hostmaster.{name}"))
    return name


def _token(ui_server: UiServer, owner: str, label: str) -> Any:
    account = _account_id(ui_server, owner)
    return ui_server.world.token(ui_server.world.realm(account, ZONE, label))


def test_zone_grant_token_and_account_journey(new_tab, ui_server):
    spare = _spare_zone(ui_server, "console")
    user = ui_server.account("grantee")
    token = _token(ui_server, user, f"box-{user}")
    doomed = ui_server.account("doomed")
    doomed_token = _token(ui_server, doomed, f"old-{doomed}")
    tab: Tab = new_tab()
    tab.login(ui_server.admin)
    page = tab.page

    # add a zone from the built-in backend's zone list
    tab.go("/ui/admin/zones")
    page.get_by_label("Backend to pick the zone from").select_option("builtin")
    page.get_by_role("button", name="Show its zones").click()
    page.get_by_label("Zone on builtin not offered yet").select_option(spare)
    tab.shoot("admin-zone-new")
    page.get_by_role("button", name="Add zone").click()
    page.wait_for_url(re.compile(rf"/ui/admin/zones/{re.escape(spare)}\?done=zone_added$"))
    assert "The zone is added" in page.get_by_role("status").inner_text()

    # edit its policy: a mistake first, then the fix
    page.get_by_label("Visibility").select_option("invite")
    page.get_by_label("Maximum depth").fill("0")
    page.get_by_role("button", name="Save policy").click()
    assert "Enter a whole number from 1 to 127." in page.locator("#max_depth-error").inner_text()
    assert page.get_by_label("Visibility").input_value() == "invite"  # kept
    page.get_by_label("Maximum depth").fill("2")
    page.get_by_role("button", name="Save policy").click()
    page.wait_for_url(re.compile(r"done=zone_updated$"))
    assert page.get_by_label("Maximum depth").input_value() == "2"
    assert page.get_by_label("Visibility").input_value() == "invite"

    # grant an account access
    page.get_by_label("Account name").fill(user)
    page.get_by_role("button", name="Create grant").click()
    page.wait_for_url(re.compile(r"done=grant_created$"))
    assert page.get_by_role("row").filter(has_text=user).count() == 1
    tab.shoot("admin-zone")

    # search a token and revoke it: its next REST call gets 401
    assert httpx.get(f"{ui_server.base}/api/v1/whoami",
                     headers=bearer(token.secret)).status_code == 200
    tab.go("/ui/admin/tokens")
    page.get_by_label("Search by token id, owner or realm").fill(user)
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r"\?q="))
    expect(page.locator("tbody tr")).to_have_count(1)  # waits for the page, unlike count()
    tab.shoot("admin-tokens")
    page.get_by_role("button", name=f"Revoke token {token.id} of {user}").click()
    page.wait_for_url(re.compile(r"done=token_revoked$"))
    assert "revoked" in page.get_by_role("row").filter(has_text=token.id).inner_text()
    assert httpx.get(f"{ui_server.base}/api/v1/whoami",
                     headers=bearer(token.secret)).status_code == 401

    # delete an account after seeing what goes with it
    tab.go(f"/ui/admin/accounts?q={doomed}")
    page.get_by_role("link", name=doomed, exact=True).click()
    assert page.get_by_role("heading", name=f"Account {doomed}").is_visible()
    tab.shoot("admin-account")
    page.get_by_role("link", name=f"Delete {doomed}").click()
    plan = page.locator(".facts").inner_text()
    assert f"old-{doomed}.{ZONE}" in plan and doomed_token.id in plan
    tab.shoot("admin-account-delete")
    page.get_by_role("button", name=f"Delete {doomed} and all of this").click()
    page.wait_for_url(re.compile(r"/ui/admin/accounts\?done=account_deleted$"))
    assert page.get_by_role("link", name=doomed, exact=True).count() == 0
    assert httpx.get(f"{ui_server.base}/api/v1/whoami",
                     headers=bearer(doomed_token.secret)).status_code == 401
    # status codes (the 422 above, a favicon) are no problem; scripts and the CSP are
    assert [p for p in tab.problems if "Content Security Policy" in p or "Refused to" in p
            or "Uncaught" in p] == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_admin_console_pages_have_no_serious_violations(new_tab, ui_server, scheme):
    user = ui_server.account("a11y-admin")
    _token(ui_server, user, f"seen-{user}")
    spare = _spare_zone(ui_server, f"a11y-{scheme}")
    tab: Tab = new_tab(bypass_csp=True, color_scheme=scheme)
    tab.login(ui_server.admin)
    found: dict[str, list[str]] = {}
    account = _account_id(ui_server, user)
    for name, path in (("zones", "/ui/admin/zones"),
                       ("zone new", "/ui/admin/zones/new?backend=builtin"),
                       ("zone", f"/ui/admin/zones/{ZONE}"),
                       ("tokens", f"/ui/admin/tokens?q={user}"),
                       ("account", f"/ui/admin/accounts/{account}"),
                       ("account delete", f"/ui/admin/accounts/{account}/delete")):
        tab.go(path)
        found[name] = violations(tab)
    tab.go("/ui/admin/zones/new?backend=builtin")
    tab.page.get_by_label("Or create a new zone").fill(ZONE)  # offered already
    tab.page.get_by_role("button", name="Add zone").click()
    assert tab.page.locator("#new_zone-error").is_visible()
    found["zone new with errors"] = violations(tab)
    tab.go(f"/ui/admin/zones/{ZONE}")
    tab.page.get_by_label("Minimum TTL (seconds)").fill("x")
    tab.page.get_by_label("Account name").fill("")
    tab.page.get_by_role("button", name="Save policy").click()
    found["zone with errors"] = violations(tab)
    tab.page.get_by_role("button", name="Create grant").click()
    found["grant with errors"] = violations(tab)
    assert spare  # the picker had a zone to list
    assert {k: v for k, v in found.items() if v} == {}
