"""The check on the realm page and the token page: decide()'s answer with its
row, in place through htmx, or as a page of its own without JavaScript."""

from __future__ import annotations

import inspect
import re
from typing import Any

import pytest

HX = {"HX-Request": "true"}


async def made(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def answer(html: str) -> tuple[str, str, int]:
    """(allowed|denied, code, row) shown in a fragment or page."""
    verdict = re.search(r'status-(allowed|denied)', html)
    code = re.search(r"<code data-code>([a-z_]+)</code>", html)
    row = re.search(r"<strong data-row>(\d+)</strong>", html)
    assert verdict and code and row, html
    return verdict.group(1), code.group(1), int(row.group(1))


@pytest.fixture
async def realm_id(world, zone, alice_id) -> int:
    return int(await made(world.realm(alice_id, zone, "home", kind="subtree", types=["A"])))


async def test_the_realm_page_offers_the_check(alice_browser, realm_id):
    page = await alice_browser.get(f"/ui/realms/{realm_id}")
    assert page.status_code == 200
    assert f'hx-get="/ui/realms/{realm_id}/explain"' in page.text
    assert 'id="explain-result"' in page.text


async def test_the_realm_check_answers_in_place(alice_browser, realm_id):
    url = f"/ui/realms/{realm_id}/explain"
    allowed = await alice_browser.get(url, params={"name": "www", "type": "A",
                                                   "operation": "update"}, headers=HX)
    assert allowed.status_code == 200
    assert "<html" not in allowed.text  # a fragment
    assert answer(allowed.text) == ("allowed", "ok", 15)
    assert "home.example.test" in allowed.text
    denied = await alice_browser.get(url, params={"name": "@", "type": "txt",
                                                  "operation": "create"}, headers=HX)
    assert answer(denied.text) == ("denied", "type_not_allowed", 11)
    outside = await alice_browser.get(url, params={"name": "elsewhere.example.test.",
                                                   "type": "A", "operation": "read"},
                                      headers=HX)
    assert answer(outside.text) == ("denied", "name_outside_realm", 8)


async def test_the_realm_check_without_javascript_is_a_page(alice_browser, realm_id):
    page = await alice_browser.get(f"/ui/realms/{realm_id}/explain",
                                   params={"name": "www", "type": "A", "operation": "delete"})
    assert page.status_code == 200
    assert "<html" in page.text and "Check for realm home.example.test" in page.text
    assert answer(page.text) == ("allowed", "ok", 15)
    assert f'href="/ui/realms/{realm_id}#explain"' in page.text


async def test_a_bad_question_is_422_with_words(alice_browser, realm_id):
    url = f"/ui/realms/{realm_id}/explain"
    for params in ({"name": "a..b", "type": "A", "operation": "read"},
                   {"name": "www", "type": "NOPE", "operation": "read"},
                   {"name": "www", "type": "A", "operation": "write"}):
        response = await alice_browser.get(url, params=params, headers=HX)
        assert response.status_code == 422, params
        assert 'role="alert"' in response.text


async def test_another_accounts_realm_is_not_found(browser, world, realm_id):
    world.account("bob", password="correct horse battery")
    async with browser() as bob:
        await bob.login("bob")
        response = await bob.get(f"/ui/realms/{realm_id}/explain",
                                 params={"name": "www", "type": "A", "operation": "read"})
        assert response.status_code == 404


async def test_the_token_page_checks_a_token(alice_browser, world, realm_id):
    wide = world.token(realm_id)
    narrow = world.token(realm_id, cidrs=["198.51.100.0/24"], operations=["read"])
    page = await alice_browser.get("/ui/tokens")
    assert 'hx-get="/ui/tokens/explain"' in page.text
    assert f'value="{narrow.id}"' in page.text

    async def check(token: str, **params: str) -> tuple[str, str, int]:
        response = await alice_browser.get("/ui/tokens/explain", headers=HX, params={
            "token": token, "type": "A", "operation": "update", **params})
        assert response.status_code == 200, response.text
        return answer(response.text)

    assert await check(wide.id, name="www.home") == ("allowed", "ok", 15)
    # from this browser's address the narrow token is refused; from its network it reads
    assert await check(narrow.id, name="www.home") == ("denied", "ip_not_allowed", 4)
    assert await check(narrow.id, name="www.home", ip="198.51.100.7") == (
        "denied", "operation_not_allowed", 12)
    assert await check(narrow.id, name="www.home", ip="198.51.100.7", operation="read") == (
        "allowed", "ok", 15)
    bad = await alice_browser.get("/ui/tokens/explain", headers=HX, params={
        "token": wide.id, "name": "www.home", "type": "A", "operation": "read", "ip": "x"})
    assert bad.status_code == 422


async def test_another_accounts_token_is_not_found(browser, world, zone, realm_id):
    bob = world.account("bob", password="correct horse battery")
    bobs = world.token(int(await made(world.realm(bob, zone, "bob"))))
    async with browser() as b:
        await b.login("alice")
        response = await b.get("/ui/tokens/explain", params={
            "token": bobs.id, "name": "bob", "type": "A", "operation": "read"})
        assert response.status_code == 404
