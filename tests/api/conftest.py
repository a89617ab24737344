"""Fixtures of the HTTP API tests, on top of tests/conftest.py.

- ``clock``: the services' clock (real time plus an offset a test can move
  forward), so expiry, idle time and audit time ranges are tested without
  sleeping. ``env`` is the shared environment with this clock.
- ``admin``: the API key of an admin account.
- ``make_settings`` / ``make_client``: a second application on the same database
  with other settings (a tiny rate limit, trusted proxies).
- Password hashes are argon2id with minimal cost here: the tests create many
  accounts, and the hash's strength is not what they are about.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher


class FakeClock:
    """Real time plus an offset that a test moves forward with :meth:`advance`."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    from dnsgate.security import passwords

    monkeypatch.setattr(passwords, "_hasher",
                        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def env(env, clock):  # extends the fixture of tests/conftest.py
    return dataclasses.replace(env, clock=clock)


@pytest.fixture
def make_settings(settings) -> Callable[..., Any]:
    """The test settings (same database and key) with some values changed."""
    from dnsgate.config import Settings

    def build(**changes: Any) -> Settings:
        return Settings(**{**settings.model_dump(), **changes})

    return build


@pytest.fixture
def make_client(env) -> Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]:
    """``async with make_client(app, peer="10.0.0.1") as c``: a client of another app."""

    @asynccontextmanager
    async def open_client(app: Any, *, peer: str = "127.0.0.1",
                          raise_app_exceptions: bool = True
                          ) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=app, client=(peer, 40000),
                                        raise_app_exceptions=raise_app_exceptions)
        async with httpx.AsyncClient(transport=transport,
                                     base_url="http://dnsgate.test") as c:
            yield c

    return open_client


@pytest.fixture
async def zone(world) -> str:
    """The zone ``example.test`` (public, auto-approve)."""
    return await world.zone("example.test")


@pytest.fixture
def alice(world) -> int:
    return world.account("alice")
