"""Bring your own DNS in a real browser against a real PowerDNS: a user adds a
PowerDNS backend, tests it (and a wrong key, which fails and leaks nothing),
browses its zones, uses one for a realm, creates a token, and a REST PUT with
it lands in PowerDNS. Plus axe (light and dark) on the backends pages."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Tab
from tests.e2e.test_accessibility import violations
from tests.support import pdns


@pytest.fixture(scope="module")
def powerdns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pdns.PowerDNS]:
    server = pdns.start(tmp_path_factory.mktemp("pdns-byod"))
    yield server
    server.stop()


def _add_backend(tab: Tab, name: str, url: str, key: str) -> None:
    page = tab.page
    page.get_by_role("link", name="My backends").click()
    page.get_by_role("link", name="Add a backend").click()
    page.get_by_label("Provider").select_option("powerdns")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Name").fill(name)
    page.get_by_label("API URL").fill(url)
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Add backend").click()
    expect(page.get_by_role("status")).to_contain_text("The backend is saved.")


def test_own_powerdns_backend_to_a_record_in_powerdns(new_tab, ui_server, powerdns):
    user = ui_server.account("byod")
    zone = f"{user}.test"
    powerdns.create_zone(zone)
    tab = new_tab()
    tab.login(user)
    page = tab.page

    _add_backend(tab, f"wrong-{user}", powerdns.api_url, "wrong-KEY-e2e")
    page.get_by_role("button", name="Test the connection").click()
    # an account's own backend says a category, never the provider's words
    expect(page.locator("#health")).to_contain_text(
        "failing The provider refused the credentials.")
    assert "wrong-KEY-e2e" not in page.content()
    assert page.get_by_label("API key").input_value() == ""

    _add_backend(tab, f"home-{user}", powerdns.api_url, powerdns.api_key)
    tab.shoot("byod-backend")
    page.get_by_role("button", name="Test the connection").click()
    expect(page.locator("#health")).to_contain_text("ok Connected; the provider accepted")
    assert powerdns.api_key not in page.content()

    page.get_by_role("link", name="Zones").click()
    expect(page.locator("#zone-list")).to_contain_text(zone)
    tab.shoot("byod-zones")
    page.get_by_label("Zone", exact=True).select_option(zone)
    page.get_by_label("subtree").check()
    page.get_by_role("button", name="Use for a realm").click()
    expect(page.get_by_role("status")).to_contain_text("your realm on it is approved")

    realm_id = page.locator("#realm_id option", has_text=f"{zone} (subtree").get_attribute(
        "value")
    page.get_by_label("Realm").select_option(realm_id)
    page.get_by_role("button", name="Create token").click()
    secret = page.locator("#secret").inner_text().strip()

    fqdn = f"www.{zone}"
    put = httpx.put(f"{ui_server.base}/api/v1/zones/{zone}/rrsets/{fqdn}/A",
                    headers={"Authorization": f"Bearer {secret}"},
                    json={"ttl": 300, "records": ["192.0.2.80"]})
    assert put.status_code == 200, put.text
    upstream = powerdns.api("GET", f"/zones/{zone}.").json()
    a_sets = [r for r in upstream["rrsets"] if r["name"] == f"{fqdn}." and r["type"] == "A"]
    assert [r["content"] for r in a_sets[0]["records"]] == ["192.0.2.80"]

    page.get_by_role("link", name="My backends").click()
    expect(page.get_by_role("row").filter(has_text=f"home-{user}")).to_contain_text("ok")
    expect(page.get_by_role("row").filter(has_text=f"wrong-{user}")).to_contain_text("failing")
    tab.shoot("byod-my-backends")
    assert [p for p in tab.problems if "Content Security Policy" in p] == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_backends_pages_have_no_serious_violations(new_tab, ui_server, powerdns, scheme):
    user = ui_server.account("byoda11y")
    powerdns.create_zone(f"{user}.test")
    setup = new_tab()
    setup.login(user)
    _add_backend(setup, f"a11y-{user}", powerdns.api_url, powerdns.api_key)
    backend_path = setup.page.url.split(ui_server.base)[1].split("?")[0]

    tab = new_tab(bypass_csp=True, color_scheme=scheme)
    tab.login(user)
    found: dict[str, list[str]] = {}
    for label, path in (("mine", "/ui/backends"), ("pick", "/ui/backends/new"),
                        ("form", "/ui/backends/new?provider=powerdns"),
                        ("backend", backend_path), ("zones", f"{backend_path}/zones")):
        tab.go(path)
        found[label] = violations(tab)
    tab.go("/ui/backends/new?provider=powerdns")
    tab.page.get_by_role("button", name="Add backend").click()  # errors by field
    found["form-errors"] = violations(tab)

    root = new_tab(bypass_csp=True, color_scheme=scheme)
    root.login(ui_server.admin)
    for label, path in (("admin-list", "/ui/admin/backends"),
                        ("admin-form", "/ui/admin/backends/new?provider=rfc2136"),
                        ("admin-backend", backend_path.replace("/ui/", "/ui/admin/"))):
        root.go(path)
        found[label] = violations(root)
    if scheme == "dark":
        root.go("/ui/admin/backends")
        root.shoot("admin-backends")
    assert {k: v for k, v in found.items() if v} == {}
