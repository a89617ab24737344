"""The one status people see for anything that can be revoked or expire
(tokens, API keys, grants)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Revocable(Protocol):
    @property
    def revoked_at(self) -> datetime | None: ...

    @property
    def expires_at(self) -> datetime | None: ...


def status_of(item: Revocable, now: datetime) -> str:
    """revoked, expired or active (revocation wins: it was a decision)."""
    if item.revoked_at is not None:
        return "revoked"
    if item.expires_at is not None and item.expires_at <= now:
        return "expired"
    return "active"
