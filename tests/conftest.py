"""Fixtures shared by every test: which database to run against, and fresh databases.

``DNSGATE_TEST_DATABASE`` chooses the backend for ``database_url`` and
``migrated_database_url``: ``sqlite`` (the default) or ``postgres``. With
``postgres`` each pytest(-xdist) worker starts its own throwaway PostgreSQL 15
server (see ``tests/support/postgres.py``) the first time a test asks for one.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import tests.support.examples  # noqa: F401  (loads the hypothesis profile)
from tests.support.postgres import PostgresServer
from tests.support.postgres import postgres_server as _postgres_server

DATABASE_ENV = "DNSGATE_TEST_DATABASE"
BACKENDS = ("sqlite", "postgres")
TEMPLATE_DB = "dnsgate_template"
#: A test that asks for one of these touches dnsgate's database: marked ``database``.
DATABASE_FIXTURES = frozenset({"database_url", "migrated_database_url"})

_db_numbers = itertools.count(1)


def selected_backend() -> str:
    value = os.environ.get(DATABASE_ENV, "").strip().lower() or "sqlite"
    if value not in BACKENDS:
        raise pytest.UsageError(f"{DATABASE_ENV}={value!r}: expected one of {', '.join(BACKENDS)}")
    return value


def pytest_configure(config: pytest.Config) -> None:
    selected_backend()  # fail at once on a typo, not in the first database test


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests about SQLite itself are deselected (not skipped) on PostgreSQL, and
    tests that need PostgreSQL whatever the pass (``postgres_only``: several
    nodes on one database) are deselected on SQLite, so they run once."""
    for item in items:  # ``database``: what the PostgreSQL pass selects (scripts/test)
        if DATABASE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.database)
    unwanted = "sqlite_only" if selected_backend() == "postgres" else "postgres_only"
    kept = [item for item in items if item.get_closest_marker(unwanted) is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept


def pytest_report_header(config: pytest.Config) -> str:
    return f"database backend: {selected_backend()} (${DATABASE_ENV})"


@pytest.fixture(scope="session")
def database_backend() -> str:
    """``"sqlite"`` or ``"postgres"``, from ``$DNSGATE_TEST_DATABASE``."""
    return selected_backend()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """This worker's throwaway PostgreSQL server (started on first use)."""
    with _postgres_server() as server:
        yield server


@pytest.fixture
def database_url(
    database_backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[str]:
    """The URL of a fresh, empty database of the selected backend."""
    if database_backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'dnsgate.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    yield from _postgres_database(server, template=None)


@pytest.fixture
def migrated_database_url(
    database_backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[str]:
    """The URL of a fresh database with the schema at the newest migration.

    Migrations run once per worker into a template; each test gets a copy.
    """
    if database_backend == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        shutil.copyfile(template, tmp_path / "dnsgate.db")
        yield f"sqlite:///{tmp_path / 'dnsgate.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    request.getfixturevalue("_postgres_template")
    yield from _postgres_database(server, template=TEMPLATE_DB)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "dnsgate.db"
    _migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def _postgres_template(postgres_server: PostgresServer) -> str:
    url = postgres_server.create_database(TEMPLATE_DB)
    _migrate(url)
    return url


def _postgres_database(server: PostgresServer, template: str | None) -> Iterator[str]:
    name = f"test_{next(_db_numbers)}"
    url = server.create_database(name, template=template)
    try:
        yield url
    finally:
        server.drop_database(name)


def _migrate(url: str) -> None:
    from dnsgate.db.engine import Database
    from dnsgate.db.migrate import upgrade

    db = Database(url)
    try:
        upgrade(db)
    finally:
        db.dispose()  # a template must have no open connections when it is copied


# --- the application, on a fresh migrated database per test -----------------

TEST_SECRET_KEY = "test-secret-key-0123456789abcdef0123456789"


@pytest.fixture
def settings(migrated_database_url: str, tmp_path: Path):
    from dnsgate.config import Settings

    return Settings(
        data_dir=tmp_path / "data",
        database_url=migrated_database_url,
        secret_key=TEST_SECRET_KEY,
        write_rate_limit="1000/second",
        dns_port=0,
    )


@pytest.fixture
def env(settings) -> Iterator:
    """The services' environment on a fresh database with the builtin backend."""
    from dnsgate.app import build_env
    from dnsgate.services.setup import ensure_builtin_backend

    environment = build_env(settings)
    ensure_builtin_backend(environment)
    yield environment
    environment.db.dispose()


@pytest.fixture
def app(settings, env):
    from dnsgate.app import create_app

    return create_app(settings, env=env, migrate_on_start=False)


@pytest.fixture
async def client(app):
    """An HTTP client speaking to the app in-process (ASGI), as 127.0.0.1."""
    import httpx

    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://dnsgate.test") as c:
        yield c


@pytest.fixture
def world(env):
    """Factories for accounts, zones, realms, tokens and API keys (see tests/support)."""
    from tests.support.factories import World

    return World(env)


@pytest.fixture
def admin(world) -> str:
    """The API key of an admin account named ``root``."""
    return world.api_key(world.account("root", admin=True))
