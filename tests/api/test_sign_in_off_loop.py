"""A burst of sign-ins does not stall other requests: argon2 runs off the event loop.

The password hash has its real cost here (~0.2 s of a core per check; the
other API tests use a cheap one). While five sign-ins run at once,
``GET /healthz`` is asked again and again: with the check on the loop, each
probe waited for whole checks (0.2 s and more).
"""

from __future__ import annotations

import asyncio
import statistics

import pytest
from argon2 import PasswordHasher

from tests.support.loop_probe import latencies_while

LOGIN = "/api/v1/auth/api-keys"
PASSWORD = "correct horse battery"
SIGN_INS = 5


@pytest.fixture
def real_password_hashes(monkeypatch):
    from dnsgate.security import passwords

    monkeypatch.setattr(passwords, "_hasher", PasswordHasher())


async def test_a_burst_of_sign_ins_does_not_stall_other_requests(client, world,
                                                                 real_password_hashes):
    world.account("alice", password=PASSWORD)  # hashed at the real cost: checks cost it too

    async def sign_in() -> None:
        response = await client.post(LOGIN, json={"username": "alice", "password": PASSWORD})
        assert response.status_code == 201, response.text

    async def probe() -> None:
        assert (await client.get("/healthz")).status_code == 200

    await probe()
    busy = [asyncio.create_task(sign_in()) for _ in range(SIGN_INS)]
    taken = await latencies_while(busy, probe)
    assert len(taken) >= 3, taken
    assert statistics.median(taken) < 0.05, taken
