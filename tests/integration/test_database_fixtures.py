"""``database_url`` and ``migrated_database_url`` give fresh databases of the chosen backend."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect, text


def test_database_url_is_fresh_and_of_the_chosen_backend(
    database_url: str, database_backend: str
) -> None:
    engine = create_engine(database_url)
    try:
        assert (
            engine.dialect.name == {"sqlite": "sqlite", "postgres": "postgresql"}[database_backend]
        )
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
        assert inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def test_migrated_database_url_has_the_schema(migrated_database_url: str) -> None:
    engine = create_engine(migrated_database_url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert "alembic_version" in tables
        assert "accounts" in tables
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    finally:
        engine.dispose()


@pytest.mark.parametrize("run", [1, 2])
def test_each_test_gets_its_own_database(migrated_database_url: str, run: int) -> None:
    # Were the database shared, the second run would find the table already there.
    engine = create_engine(migrated_database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE scratch (x integer)"))
    finally:
        engine.dispose()
