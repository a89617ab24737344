"""axe-core (vendored, tests/e2e/vendor) on the main pages, light and dark:
no serious or critical violations."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import ZONE, Tab

AXE = Path(__file__).parent / "vendor" / "axe.min.js"


def violations(tab: Tab) -> list[str]:
    tab.page.add_script_tag(path=str(AXE))  # the context bypasses the CSP for this only
    result = tab.page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ["violations"]});
        return r.violations.filter(v => v.impact === "serious" || v.impact === "critical")
            .map(v => v.id + " (" + v.impact + "): "
                      + v.nodes.map(n => n.target.join(" ")).join(", "));
    }""")
    return list(result)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_main_pages_have_no_serious_violations(new_tab, ui_server, scheme):
    user = ui_server.account("a11y")
    account = _account_id(ui_server, user)
    ui_server.world.realm(account, ZONE, f"a11y-{user}", kind="subtree")
    _pending_request(ui_server, account, f"wait-{user}")  # the approvals page has a card
    found: dict[str, list[str]] = {}

    anonymous = new_tab(bypass_csp=True, color_scheme=scheme)
    anonymous.go("/ui/login")
    found["login"] = violations(anonymous)

    tab = new_tab(bypass_csp=True, color_scheme=scheme)
    tab.login(user)
    found["dashboard"] = violations(tab)
    tab.go("/ui/tokens")
    found["tokens"] = violations(tab)
    tab.page.get_by_label("Expires after (days)").fill("never")
    tab.page.get_by_role("button", name="Create token").click()
    found["tokens with errors"] = violations(tab)
    tab.page.get_by_label("Expires after (days)").fill("")
    tab.page.get_by_role("button", name="Create token").click()
    found["token created"] = violations(tab)
    tab.go("/ui/realms/request")
    found["realm request"] = violations(tab)

    admin = new_tab(bypass_csp=True, color_scheme=scheme)
    admin.login(ui_server.admin)
    admin.go("/ui/admin/approvals")
    assert admin.page.get_by_role("button", name="Reject").count() >= 1
    found["approvals"] = violations(admin)
    reject = admin.page.get_by_role("button", name="Reject").first
    reject.click()  # no reason: the field error
    found["approvals with errors"] = violations(admin)
    admin.go("/ui/admin/accounts")
    found["accounts"] = violations(admin)
    assert {page: v for page, v in found.items() if v} == {}


def _pending_request(server, account: int, label: str) -> None:
    from dnsgate.services import realms
    from dnsgate.services.context import RequestContext

    realms.request_realm(server.world.env, RequestContext(),
                         caller=server.world.caller(account), zone=ZONE, name=label,
                         kind="host")


def _account_id(server, name: str) -> int:
    from dnsgate.services import accounts

    with server.world.env.db.read() as session:
        return accounts.find_account(session, name).id
