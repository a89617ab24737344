"""No input makes the web UI answer 500: ids beyond the database's integers,
numbers in other digits, NUL in forms and URLs, out-of-range numbers in
signed links. The pages answer 404, or show the form again with its error.
(The REST API and the facades: tests/api/test_hostile_input.py.)
"""

from __future__ import annotations

import pytest

from tests.web.conftest import PASSWORD

HUGE = "99999999999999999999999"
BIG_MAC = "0" * 64


@pytest.fixture
async def root(browser, world):
    world.account("root", admin=True, password=PASSWORD)
    async with browser() as b:
        await b.login("root")
        yield b


@pytest.mark.parametrize("path", [
    f"/ui/realms/{HUGE}", f"/ui/admin/accounts/{HUGE}", f"/ui/admin/backends/{HUGE}",
    f"/ui/backends/{HUGE}", f"/ui/admin/accounts/{2**31}", "/ui/realms/²",
])
async def test_ids_beyond_the_database_are_not_found(root, path):
    response = await root.get(path)
    assert response.status_code == 404, response.text
    assert "text/html" in response.headers["content-type"]


@pytest.mark.parametrize("path", [
    f"/ui/admin/realms/{HUGE}/approve", f"/ui/admin/accounts/{HUGE}/disable",
    f"/ui/admin/grants/{HUGE}/revoke", f"/ui/realms/{HUGE}/rrsets",
])
async def test_posts_with_such_ids_are_not_found(root, path):
    await root.get("/ui/")
    assert (await root.submit(path, {})).status_code == 404


@pytest.mark.parametrize("realm_id", [HUGE, "²", "\u0661"])
async def test_a_token_form_with_such_a_realm_is_shown_again(alice_browser, realm_id):
    await alice_browser.get("/ui/tokens")
    response = await alice_browser.submit("/ui/tokens", {"realm_id": realm_id, "name": "x"})
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("days", ["²", HUGE, "0"])
async def test_day_counts_in_other_digits_are_form_errors(alice_browser, days):
    await alice_browser.get("/ui/security")
    response = await alice_browser.submit("/ui/security/api-keys",
                                          {"key_name": "k", "key_days": days})
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("before", [HUGE, "²", "-1"])
async def test_the_audit_log_pages_by_any_before(root, before):
    assert (await root.get(f"/ui/admin/audit?before={before}")).status_code == 200


async def test_nul_in_a_form_is_no_server_error(alice_browser):
    await alice_browser.get("/ui/security")
    response = await alice_browser.submit("/ui/security/api-keys",
                                          {"key_name": "a\x00b", "key_days": ""})
    assert response.status_code < 500, response.text


@pytest.mark.parametrize("token", [
    f"1.{HUGE}.{BIG_MAC}", f"{HUGE}.1.{BIG_MAC}", f"²².1.{BIG_MAC}", f"1.\u0661.{BIG_MAC}",
    f"{2**31}.4102444800.{BIG_MAC}",
])
async def test_signed_links_with_numbers_out_of_range_are_invalid(browser, token):
    async with browser() as b:
        for path in ("/ui/password/reset", "/ui/verify"):
            response = await b.get(path, params={"token": token})
            assert response.status_code == 400, (path, response.text)


async def test_a_405_page_carries_allow(browser):
    async with browser() as b:
        response = await b.client.put("/ui/login")
    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) == {"GET", "POST"}
