"""The throwaway PostgreSQL server of tests/support/postgres.py works as promised."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.support.postgres import (
    BINDIR_ENV,
    PostgresServer,
    PostgresUnavailable,
    create_database,
    find_bindir,
)

pytestmark = pytest.mark.postgres


def _scalar(url: str, query: str) -> object:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(query)).scalar_one()
    finally:
        engine.dispose()


def test_server_is_postgresql_15_on_loopback(postgres_server: PostgresServer) -> None:
    url = postgres_server.url()
    assert url.startswith(f"postgresql+psycopg://postgres@127.0.0.1:{postgres_server.port}/")

    version = _scalar(url, "SELECT version()")
    assert isinstance(version, str)
    assert "PostgreSQL 15" in version
    assert _scalar(url, "SHOW listen_addresses") == "127.0.0.1"
    assert _scalar(url, "SHOW fsync") == "off"
    assert _scalar(url, "SHOW unix_socket_directories") == str(postgres_server.socket_dir)


def test_create_database_copies_a_template(postgres_server: PostgresServer) -> None:
    template_url = postgres_server.create_database("fixture_template")
    engine = create_engine(template_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x integer)"))
            conn.execute(text("INSERT INTO t VALUES (42)"))
    finally:
        engine.dispose()  # a template must have no connections when it is copied

    copy_url = postgres_server.create_database("fixture_copy", template="fixture_template")
    try:
        assert make_url(copy_url).database == "fixture_copy"
        assert _scalar(copy_url, "SELECT x FROM t") == 42
    finally:
        postgres_server.drop_database("fixture_copy")
        postgres_server.drop_database("fixture_template")


def test_create_database_from_any_url_of_the_server(postgres_server: PostgresServer) -> None:
    url = create_database(postgres_server.url(), "fixture_plain")
    try:
        assert url == postgres_server.url("fixture_plain")
        assert _scalar(url, "SELECT current_database()") == "fixture_plain"
    finally:
        postgres_server.drop_database("fixture_plain")


def test_database_names_are_checked(postgres_server: PostgresServer) -> None:
    with pytest.raises(ValueError, match="database name"):
        postgres_server.create_database('x"; DROP DATABASE postgres; --')


def test_missing_binaries_fail_loudly(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(BINDIR_ENV, str(tmp_path))
    with pytest.raises(PostgresUnavailable, match="apt-get install postgresql-15"):
        find_bindir()
