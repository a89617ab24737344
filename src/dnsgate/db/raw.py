"""Hand-written SQL for the hot paths, on the driver connection.

SQLAlchemy adds 50-250 µs of Python per statement; an authorized PUT runs
seven, so the token lookup, the built-in RRset write, the audit insert and
the token's use counter go straight to the driver (sqlite3 or psycopg) in
the Session's or the bare ``Tx``'s transaction. Statements are written once with ``:name``
parameters and translated per driver; values are stored exactly as
SQLAlchemy stores them (UTC timestamps, JSON text), so rows written here
read back through the models and vice versa.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session


class Tx:
    """A hot-path transaction straight on a pooled driver connection (sqlite3 or
    psycopg): no Session, no SQLAlchemy Connection, no events -- ~100 µs less
    per transaction than a Session. ``info`` is read by the commit hooks, as a
    Session's is."""

    def __init__(self, driver: Any, raw: Raw) -> None:
        self.driver = driver
        self.raw = raw
        self.info: dict[Any, Any] = {}


#: What hot-path code runs in: a Session (management paths), or a bare ``Tx``.
Executor = Session | Tx


_NAMED = re.compile(r":(\w+)")


class Raw:
    """The SQL dialect of one database, for hand-written statements."""

    def __init__(self, *, is_sqlite: bool) -> None:
        self.is_sqlite = is_sqlite
        self._translated: dict[str, str] = {}

    @staticmethod
    def of(session: Executor) -> Raw:
        """The dialect of the database a transaction talks to."""
        if isinstance(session, Tx):
            return session.raw
        return _SQLITE if session.connection().dialect.name == "sqlite" else _OTHER

    def sql(self, text: str) -> str:
        """``:name`` parameters in the driver's style (cached)."""
        out = self._translated.get(text)
        if out is None:
            out = text if self.is_sqlite else _NAMED.sub(r"%(\1)s", text)
            self._translated[text] = out
        return out

    def execute(self, session: Executor, text: str, params: dict[str, Any]) -> Any:
        """Run one statement in the transaction; returns the driver's cursor."""
        if isinstance(session, Tx):
            cursor = session.driver.cursor()
        else:
            cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(self.sql(text), params)
        return cursor

    def execute_many(self, session: Executor, text: str, rows: list[dict[str, Any]]) -> None:
        """Run one statement once per parameter set, in the transaction."""
        if isinstance(session, Tx):
            cursor = session.driver.cursor()
        else:
            cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.executemany(self.sql(text), rows)

    def time_in(self, value: datetime | None) -> Any:
        if value is None:
            return None
        value = value.astimezone(UTC)
        if not self.is_sqlite:
            return value
        # SQLAlchemy's SQLite DATETIME text ("%Y-%m-%d %H:%M:%S.%f"), 5x faster than strftime
        return value.replace(tzinfo=None).isoformat(" ", "microseconds")

    def time_out(self, value: Any) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        parsed: datetime = value
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)

    @staticmethod
    def json_in(value: Any) -> str | None:
        return None if value is None else json.dumps(value)

    @staticmethod
    def json_out(value: Any) -> Any:
        return json.loads(value) if isinstance(value, (str, bytes)) else value

    @staticmethod
    def json_set(value: Any) -> frozenset[str] | None:
        """A JSON list of names (types, operations, ...) as a frozenset; None for NULL.

        The same few lists come back on every request (a zone's types, a
        realm's operations), so the decoded sets are cached by their text.
        """
        if value is None:
            return None
        if isinstance(value, str):
            return _decoded_set(value)
        return frozenset(value)


@lru_cache(maxsize=4096)
def _decoded_set(text: str) -> frozenset[str] | None:
    items = json.loads(text)
    return None if items is None else frozenset(items)


_SQLITE = Raw(is_sqlite=True)
_OTHER = Raw(is_sqlite=False)


def dialect(*, is_sqlite: bool) -> Raw:
    """The one Raw of a dialect (it caches translated statements)."""
    return _SQLITE if is_sqlite else _OTHER
