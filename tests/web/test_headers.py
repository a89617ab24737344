"""Security headers on every UI response, and no inline script anywhere."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from tests.web.conftest import PASSWORD

EXPECTED = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


def check(response, *, https: bool = False) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (response.url, name)
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "camera=()" in response.headers["permissions-policy"]
    assert ("strict-transport-security" in response.headers) is https


@pytest.fixture
async def admin_browser(browser, world, zone):
    root = world.account("root", admin=True, password=PASSWORD)
    world.token(world.realm(root, zone, "home"))
    async with browser() as b:
        await b.login("root")
        yield b


PAGES = ["/ui/", "/ui/tokens", "/ui/realms/request", "/ui/realms/preview?zone=example.test&name=a",
         "/ui/admin/approvals", "/ui/admin/accounts", "/ui/static/app.css",
         "/ui/static/htmx.min.js", "/ui/no-such-page", "/ui/tokens/x/revoke"]


async def test_every_page_signed_in(admin_browser):
    for path in PAGES:
        check(await admin_browser.get(path))
    check(await admin_browser.submit("/ui/tokens", {}))  # a re-rendered form
    check(await admin_browser.submit("/ui/tokens", {}, csrf="x"))  # the CSRF refusal


async def test_every_page_anonymous(browser):
    async with browser() as b:
        for path in ["/ui/login", *PAGES]:
            check(await b.get(path))


async def test_hsts_only_over_https(browser):
    async with browser(base="https://dnsgate.test") as b:
        check(await b.get("/ui/login"), https=True)
        check(await b.get("/ui/static/app.css"), https=True)


async def test_pages_are_not_cached_but_static_files_may_be(admin_browser):
    assert (await admin_browser.get("/ui/tokens")).headers["cache-control"] == "no-store"
    assert "no-store" not in (await admin_browser.get("/ui/static/app.css")).headers.get(
        "cache-control", "")


async def test_the_api_keeps_its_own_headers(client):
    response = await client.get("/api/v1/whoami")
    assert response.headers["content-type"] == "application/problem+json"
    assert "content-security-policy" not in response.headers


def test_templates_have_no_inline_script_or_handlers():
    """What the CSP forbids must not be in the templates in the first place."""
    root = resources.files("dnsgate.web") / "templates"
    files = [p for p in _walk(root) if p.name.endswith(".html")]
    assert len(files) >= 10
    for path in files:
        text = path.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), path.name
        assert not re.search(r"\son[a-z]+\s*=", text), path.name
        assert "style=" not in text, path.name
        assert "javascript:" not in text.lower(), path.name
        assert "hx-on" not in text, path.name


def _walk(node):
    for child in node.iterdir():
        if child.is_dir():
            yield from _walk(child)
        else:
            yield child
