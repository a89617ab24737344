"""In chromium: a person edits the records of a realm (add, edit, delete, a field
error), finds the changes in their activity and exports it as CSV; an admin
reads the overview and the audit log. axe on these pages, light and dark."""

from __future__ import annotations

import csv
import io
import re

import pytest

from tests.e2e.conftest import ZONE, Tab
from tests.e2e.test_accessibility import _account_id, violations


def _realm(ui_server, user: str) -> str:
    account = _account_id(ui_server, user)
    label = f"rec-{user}"
    ui_server.world.realm(account, ZONE, label, kind="subtree")
    return f"{label}.{ZONE}"


def _no_script_or_csp_errors(tab: Tab) -> None:
    """Pages with a 4xx status log it to the console; CSP refusals and script
    errors are what must not happen."""
    assert [p for p in tab.problems
            if "Content Security Policy" in p or "Refused to" in p or "Uncaught" in p] == []


def _save(tab: Tab, name: str, rtype: str, records: str) -> None:
    page = tab.page
    page.get_by_label("Name (optional)").fill(name)
    page.get_by_label("Type", exact=True).select_option(rtype)
    page.get_by_label("Records").fill(records)
    page.get_by_role("button", name="Save record set").click()


def test_edit_records_then_find_them_in_activity(new_tab, ui_server):
    user = ui_server.account("rec")
    realm = _realm(ui_server, user)
    www = f"www.{realm}"
    tab = new_tab()
    tab.login(user)
    page = tab.page
    page.get_by_role("link", name=realm).click()
    page.wait_for_url(re.compile(r"/ui/realms/\d+$"))
    assert page.get_by_text("No records in this realm yet.").is_visible()

    _save(tab, "www", "A", "192.0.2.10")
    page.get_by_text("The record set is saved.").wait_for()
    records = page.locator("section[aria-labelledby=records-h]")  # not the history's rows
    row = records.get_by_role("row").filter(has_text=www)
    assert "192.0.2.10" in row.inner_text()

    page.get_by_role("link", name=f"Edit {www} A").click()
    assert page.get_by_label("Records").input_value() == "192.0.2.10"
    page.get_by_label("Records").fill("192.0.2.11\n192.0.2.12")
    page.get_by_role("button", name="Save record set").click()
    page.get_by_text("The record set is saved.").wait_for()
    assert "192.0.2.12" in records.get_by_role("row").filter(has_text=www).inner_text()

    _save(tab, "mail", "A", "not-an-address")
    error = page.locator("#records-error")
    assert "invalid A record" in error.inner_text()
    assert page.get_by_label("Name (optional)").input_value() == "mail"
    assert page.get_by_label("Records").get_attribute("aria-invalid") == "true"
    tab.shoot("realm-page-error")

    page.get_by_role("button", name=f"Delete {www} A").click()
    page.get_by_text("The record set is deleted.").wait_for()
    assert records.get_by_role("row").filter(has_text=www).count() == 0
    history = page.locator("section#history")
    assert history.get_by_role("row").filter(has_text=www).count() == 3  # made, changed, deleted
    tab.shoot("realm-page")

    page.get_by_role("link", name="Activity").click()
    page.wait_for_url(re.compile(r"/ui/activity$"))
    table = page.get_by_role("table").inner_text()
    for action in ("rrset.create", "rrset.update", "rrset.delete"):
        assert action in table
    page.get_by_label("Action").fill("rrset.delete")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r"action=rrset.delete"))
    assert "rrset.update" not in page.get_by_role("table").inner_text()
    tab.shoot("activity")
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text())))
    assert [(r["action"], r["name"], r["surface"]) for r in rows] == [
        ("rrset.delete", www, "web")]
    tab.go("/ui/")
    chart = page.get_by_role("img", name=re.compile("Updates and denials per day"))
    assert "3 updates" in chart.get_attribute("aria-label")
    tab.shoot("dashboard-activity")
    _no_script_or_csp_errors(tab)


def test_admin_reads_overview_and_audit_log(new_tab, ui_server):
    user = ui_server.account("rec")
    realm = _realm(ui_server, user)
    own = new_tab()
    own.login(user)
    own.page.get_by_role("link", name=realm).click()
    _save(own, "audited", "TXT", "seen by the admin")
    own.page.get_by_text("The record set is saved.").wait_for()
    tab = new_tab()
    tab.login(ui_server.admin)
    page = tab.page
    page.get_by_role("link", name="Overview").click()
    page.wait_for_url(re.compile(r"/ui/admin/$"))
    assert page.get_by_role("img", name=re.compile("Requests per day by surface")).count() == 1
    assert page.get_by_role("heading", name="Backend health").is_visible()
    tab.shoot("admin-overview")
    page.get_by_role("link", name="Audit log").click()
    page.get_by_label("Account").fill(user)
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r"account="))
    table = page.get_by_role("table").inner_text()
    assert "rrset.create" in table and f"audited.{realm}" in table
    tab.shoot("admin-audit")
    _no_script_or_csp_errors(tab)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_record_and_audit_pages_have_no_serious_violations(new_tab, ui_server, scheme):
    user = ui_server.account("a11yrec")
    _realm(ui_server, user)
    found: dict[str, list[str]] = {}
    tab = new_tab(bypass_csp=True, color_scheme=scheme)
    tab.login(user)
    found["dashboard"] = violations(tab)
    tab.page.get_by_role("link", name=re.compile(r"^rec-")).click()
    _save(tab, "www", "A", "192.0.2.20")
    tab.page.get_by_text("The record set is saved.").wait_for()
    found["realm"] = violations(tab)
    _save(tab, "www", "A", "bad")
    found["realm with errors"] = violations(tab)
    tab.go("/ui/activity")
    found["activity"] = violations(tab)
    tab.go("/ui/activity?since=nope")
    found["activity with errors"] = violations(tab)
    admin = new_tab(bypass_csp=True, color_scheme=scheme)
    admin.login(ui_server.admin)
    admin.go("/ui/admin/")
    found["overview"] = violations(admin)
    admin.go("/ui/admin/audit")
    found["audit log"] = violations(admin)
    assert {page: v for page, v in found.items() if v} == {}
