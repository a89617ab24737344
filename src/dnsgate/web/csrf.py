"""CSRF: a synchronizer token bound to the session, checked in one place
(``deps.guard``) for every state-changing request.

The token is an HMAC of the session's stored id under the server key, so it
needs no storage, changes whenever the session does (at login), and is
worthless with any other session. Before login it is bound to a random
pre-session cookie instead, so the login form is protected too. Forms send
it as the ``csrf_token`` field, htmx as the ``X-CSRF-Token`` header.
"""

from __future__ import annotations

from dnsgate.security import signing

FIELD = "csrf_token"
HEADER = "x-csrf-token"


def token_for(key: bytes, binding: str) -> str:
    """The token of one session (or pre-session)."""
    return signing.mac(key, "csrf", binding)


def valid(key: bytes, binding: str | None, presented: str) -> bool:
    """Constant-time check; no binding (no cookie at all) never passes."""
    if not binding or not presented:
        return False
    return signing.verify(key, "csrf", binding, presented)
