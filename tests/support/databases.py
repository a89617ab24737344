"""A migrated database of the selected backend for a stack a test module or
session starts (a real ``dnsgate serve`` and its tools), from the per-worker
templates of ``tests/conftest.py``."""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import TEMPLATE_DB


@contextlib.contextmanager
def stack_database(request: pytest.FixtureRequest, database_backend: str,
                   workdir: Path) -> Iterator[str]:
    """The URL of a fresh copy of the migrated template (SQLite file in
    ``workdir``, or a PostgreSQL database dropped afterwards)."""
    if database_backend == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        path = workdir / "dnsgate.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    server = request.getfixturevalue("postgres_server")
    request.getfixturevalue("_postgres_template")
    name = f"stack_{uuid.uuid4().hex[:12]}"
    url = server.create_database(name, template=TEMPLATE_DB)
    try:
        yield url
    finally:
        server.drop_database(name)
