"""The half-done login between a correct password and the second factor.

No session exists yet: the browser holds a short-lived cookie naming the
account, the expiry and where to go next, with an HMAC under the server key
(its own purpose, so no other signed value of dnsgate can stand in for it).
It lets the holder *try* a code for that account -- throttled -- and
nothing else; the session is started only once the code is right.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import timedelta

from fastapi import Request
from fastapi.responses import Response

from dnsgate.security import signing
from dnsgate.services import audit
from dnsgate.services.context import Caller
from dnsgate.web import deps
from dnsgate.web.render import redirect, set_cookie

PENDING_COOKIE = "dnsgate_2fa"
LIFETIME = timedelta(minutes=5)
_PURPOSE = "dnsgate 2fa pending login v1"


@dataclass(frozen=True, slots=True)
class Pending:
    """A password-checked login waiting for its code."""

    account_id: int
    username: str
    next: str


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _unb64(text: str) -> str:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()


def seal_pending(key: bytes, pending: Pending, expires: int) -> str:
    payload = f"{pending.account_id}.{expires}.{_b64(pending.username)}.{_b64(pending.next)}"
    return f"{payload}.{signing.mac(key, _PURPOSE, payload)}"


def open_pending(key: bytes, value: str, now: int) -> Pending | None:
    """The pending login of a cookie value; None if forged, malformed or expired."""
    payload, _, mac = value.rpartition(".")
    if not payload or not signing.verify(key, _PURPOSE, payload, mac):
        return None
    try:
        account, expires, username, next_ = payload.split(".")
        if now >= int(expires):
            return None
        return Pending(int(account), _unb64(username), _unb64(next_))
    except (ValueError, UnicodeDecodeError):
        return None


def pending(request: Request) -> Pending | None:
    env = deps.ui(request).env
    return open_pending(env.key, request.cookies.get(PENDING_COOKIE, ""),
                        int(env.clock().timestamp()))


def ask(request: Request, *, caller: Caller, username: str, next_: str) -> Response:
    """The password was right and the account has 2FA: no session yet, ask for a code."""
    env, ctx = deps.ui(request).env, deps.context(request)
    now = env.clock()
    with env.db.write() as session:
        audit.record(session, ctx, caller=caller, action="auth.password", when=now,
                     target=f"account:{caller.account_id}",
                     details={"username": username, "second_factor": "required"})
    value = seal_pending(env.key, Pending(caller.account_id, username, next_),
                         int((now + LIFETIME).timestamp()))
    moved = redirect(request, "/ui/login/2fa")
    set_cookie(request, moved, PENDING_COOKIE, value,
               max_age=int(LIFETIME.total_seconds()))
    return moved
