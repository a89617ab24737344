"""The one way dnsgate signs what it hands out and checks it back: HMAC-SHA256
under the server key, with the purpose in front of the message.

CSRF tokens, mail links, password fingerprints and the half-done login's
cookie all sign with it. Each has its own purpose, so a value signed for one
can never pass as another; checks are constant-time.
"""

from __future__ import annotations

import hashlib
import hmac


def mac(key: bytes, purpose: str, message: str) -> str:
    """The hex MAC of ``message`` for ``purpose``."""
    return hmac.new(key, f"{purpose}|{message}".encode(), hashlib.sha256).hexdigest()


def verify(key: bytes, purpose: str, message: str, presented: str) -> bool:
    """Whether ``presented`` is the MAC of ``message`` for ``purpose``."""
    return hmac.compare_digest(mac(key, purpose, message), presented)
