"""Passwords: argon2id hashes (people choose passwords, so they get a slow hash).

A hash or a check takes ~0.17 s of one core and 64 MiB (argon2-cffi's
defaults: time cost 3, 64 MiB, measured here), so request handlers never run
one on the event loop: they await :func:`off_loop`, and the other requests
go on meanwhile.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from typing import ParamSpec, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

P = ParamSpec("P")
T = TypeVar("T")

_hasher = PasswordHasher()
# Verified against when an account does not exist, so timing does not tell.
_DUMMY = _hasher.hash("dnsgate-dummy-password")
#: Hashes at once in one process: no more than cores, since each keeps a core
#: busy. A burst of sign-ins queues here, not in memory (64 MiB each) nor in
#: Starlette's thread pool, which every sync endpoint shares.
_HASHING = CapacityLimiter(os.cpu_count() or 1)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Constant-effort check: a missing hash costs as much as a wrong password."""
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def off_loop(function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """``function(*args, **kwargs)``, a step that hashes or checks a password,
    on a worker thread (argon2 lets go of the GIL while it works)."""
    return await anyio.to_thread.run_sync(partial(function, *args, **kwargs), limiter=_HASHING)
