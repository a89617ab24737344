"""Real-browser tests: Debian's chromium, driven by Playwright, against a real
``dnsgate serve`` process.

- ``ui_server`` (session scope, one per xdist worker): the server on a free
  loopback port, on a migrated database of the selected backend, with zone
  ``e2e.test`` (public, admin approval) and an admin account. Tests make
  their own accounts (``ui_server.account()``, unique names), so they never
  share state.
- ``chromium`` (module scope, see there): one browser process; each test opens
  its own context (``new_tab``), so cookies never leak between tests.
- Screenshots go to ``tests/e2e/artifacts/`` (git-ignored).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TEST_SECRET_KEY
from tests.support.databases import stack_database
from tests.support.factories import World
from tests.support.server import cli_env, running
from tests.support.smtp import SmtpSink, smtp_sink

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent / "artifacts"
PASSWORD = "correct horse battery staple"
ZONE = "e2e.test"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
_names = itertools.count(1)


@dataclass
class UiServer:
    base: str
    world: World
    admin: str
    worker: str
    created: list[str] = field(default_factory=list)
    mail: SmtpSink | None = None  # where the server's mail goes

    def account(self, prefix: str = "user", *, admin: bool = False) -> str:
        name = f"{prefix}{next(_names)}-{self.worker}"
        self.world.account(name, admin=admin, password=PASSWORD)
        return name


@pytest.fixture(scope="session")
def _e2e_database_url(database_backend: str, request: pytest.FixtureRequest,
                      tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with stack_database(request, database_backend,
                        tmp_path_factory.mktemp("e2e-db")) as url:
        yield url


@pytest.fixture(scope="session")
def _e2e_mail() -> Iterator[SmtpSink]:
    with smtp_sink() as sink:
        yield sink


@pytest.fixture(scope="session")
def ui_server(_e2e_database_url: str, tmp_path_factory: pytest.TempPathFactory,
              worker_id: str, _e2e_mail: SmtpSink) -> Iterator[UiServer]:
    from dnsgate.app import build_env
    from dnsgate.config import Settings
    from dnsgate.services.setup import ensure_builtin_backend

    work = tmp_path_factory.mktemp("e2e-server")
    settings = Settings(data_dir=work / "data", database_url=_e2e_database_url,
                        secret_key=TEST_SECRET_KEY, dns_port=0)
    env = build_env(settings)
    ensure_builtin_backend(env)
    world = World(env)

    async def add_zone() -> None:
        try:
            await world.zone(ZONE, approval="admin")
        finally:
            await env.backends.aclose()

    # a thread of its own: Playwright's sync API keeps an event loop in this one
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, add_zone()).result()
    admin = f"root-{worker_id}"
    world.account(admin, admin=True, password=PASSWORD)
    process_env = cli_env(settings.data_dir, _e2e_database_url,
                          DNSGATE_SECRET_KEY=TEST_SECRET_KEY,
                          DNSGATE_SMTP_HOST="127.0.0.1", DNSGATE_SMTP_PORT=str(_e2e_mail.port),
                          DNSGATE_SMTP_SECURITY="none", DNSGATE_SMTP_FROM="dnsgate@e2e.test",
                          DNSGATE_PUBLIC_URL="http://dnsgate.e2e.test",
                          # test_byod.py: the accounts' own PowerDNS runs on loopback
                          DNSGATE_BYOD_ALLOW_NETWORKS="127.0.0.0/8,::1")
    try:
        with running("serve", process_env) as server:
            yield UiServer(server.base, world, admin, worker_id, mail=_e2e_mail)
    finally:
        env.db.dispose()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Module scope, not session: while Playwright's sync API is open it keeps an
    event loop marked running in this thread, and the async tests that xdist
    runs next on the same worker could not start theirs."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Tab:
    """One browser context and page, with the CSP and console errors it saw."""

    page: Any
    base: str
    problems: list[str]

    def go(self, path: str) -> Any:
        return self.page.goto(self.base + path)

    def login(self, name: str, password: str = PASSWORD) -> None:
        self.go("/ui/login")
        self.page.get_by_label("Username").fill(name)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url(self.base + "/ui/")

    def shoot(self, name: str) -> None:
        """Screenshots of this page at desktop and phone width."""
        ARTIFACTS.mkdir(exist_ok=True)
        for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
            self.page.set_viewport_size(size)
            self.page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True)
        self.page.set_viewport_size(DESKTOP)


@pytest.fixture
def new_tab(ui_server, chromium) -> Iterator[Callable[..., Tab]]:
    contexts: list[Any] = []

    def open_tab(**options: Any) -> Tab:
        context = chromium.new_context(viewport=DESKTOP, base_url=ui_server.base, **options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        return Tab(page, ui_server.base, problems)

    yield open_tab
    for context in contexts:
        context.close()
