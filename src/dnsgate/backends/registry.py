"""Providers by name, and one live adapter per configured backend."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from dnsgate.backends.base import Backend
from dnsgate.backends.builtin import BuiltinBackend
from dnsgate.db.engine import Database
from dnsgate.db.models import Backend as BackendRow
from dnsgate.domain.errors import InvalidInput, NotFound

BUILTIN = "builtin"
Factory = Callable[[Database, dict[str, Any]], Backend]

PROVIDERS: dict[str, Factory] = {
    BUILTIN: lambda db, _config: BuiltinBackend(db),
}


def check_provider(provider: str) -> None:
    """Raise InvalidInput unless ``provider`` names a known provider."""
    if provider not in PROVIDERS:
        raise InvalidInput(f"unknown provider {provider!r}; known: {', '.join(sorted(PROVIDERS))}")


class BackendRegistry:
    """Opens each configured backend once (adapters keep sessions and caches)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._open: dict[int, Backend] = {}

    def get(self, backend_id: int) -> Backend:
        backend = self._open.get(backend_id)
        if backend is None:
            with self.db.read() as session:
                row = session.execute(
                    select(BackendRow.provider, BackendRow.config).where(
                        BackendRow.id == backend_id)).one_or_none()
            if row is None:
                raise NotFound(f"backend {backend_id} not found")
            check_provider(row.provider)
            backend = PROVIDERS[row.provider](self.db, dict(row.config or {}))
            self._open[backend_id] = backend
        return backend

    def builtin(self) -> BuiltinBackend:
        """The adapter of the built-in store (there is one per database)."""
        return BuiltinBackend(self.db)

    def forget(self, backend_id: int) -> None:
        """Drop a cached adapter after its configuration changed."""
        self._open.pop(backend_id, None)
