"""Fixtures of the web UI tests: a browser-like client (cookie jar) per person.

``browser()`` opens an in-process client of the app; ``await b.login(name)``
signs in through the login form; ``b.csrf`` is the token of the last page
seen, and ``await b.submit(path, data)`` posts a form with it, as a browser
posting a page's form would.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.api.conftest import (  # noqa: F401
    _cheap_password_hashes,
    clock,
    env,
    make_settings,
    zone,
)

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


class Browser:
    """An httpx client that keeps cookies and the last page's CSRF token."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.csrf = ""

    def _seen(self, response: httpx.Response) -> httpx.Response:
        found = _CSRF.search(response.text) if "html" in response.headers.get(
            "content-type", "") else None
        if found:
            self.csrf = found.group(1)
        return response

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return self._seen(await self.client.get(path, **kw))

    async def submit(self, path: str, data: dict[str, Any] | list[tuple[str, str]] | None = None,
                     *, csrf: str | None = None, **kw: Any) -> httpx.Response:
        """POST a form with the last page's CSRF token (or the given one)."""
        token = self.csrf if csrf is None else csrf
        items = list(data.items()) if isinstance(data, dict) else list(data or [])
        body = [(k, v) for k, v in items if v is not None]
        if token:
            body.append(("csrf_token", token))
        headers = {"content-type": "application/x-www-form-urlencoded", **kw.pop("headers", {})}
        return self._seen(await self.client.post(path, content=urlencode(body), headers=headers,
                                                 **kw))

    async def login(self, name: str, password: str = PASSWORD) -> httpx.Response:
        await self.get("/ui/login")
        response = await self.submit("/ui/login", {"username": name, "password": password})
        assert response.status_code == 303, response.text
        await self.get("/ui/")
        return response

    def use_session(self, value: str) -> None:
        """Present this session cookie value (as a copied or planted cookie would be)."""
        self.client.cookies.set("dnsgate_session", value, domain="dnsgate.test", path="/ui")

    @property
    def session_cookie(self) -> str | None:
        return self.client.cookies.get("dnsgate_session")


@pytest.fixture
def browser(app) -> Callable[..., AbstractAsyncContextManager[Browser]]:
    @asynccontextmanager
    async def open_browser(*, peer: str = "127.0.0.1", base: str = "http://dnsgate.test",
                           target: Any = None) -> AsyncIterator[Browser]:
        transport = httpx.ASGITransport(app=target or app, client=(peer, 40000))
        async with httpx.AsyncClient(transport=transport, base_url=base) as c:
            yield Browser(c)

    return open_browser


@pytest.fixture
def alice_id(world) -> int:
    return world.account("alice", password=PASSWORD)


@pytest.fixture
async def alice_browser(browser, alice_id) -> AsyncIterator[Browser]:
    async with browser() as b:
        await b.login("alice")
        yield b
