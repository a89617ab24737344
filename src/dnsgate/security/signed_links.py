"""Signed, expiring links for mails: ``<account id>.<expiry>.<mac>``.

The MAC is HMAC-SHA256 under the server key over the purpose, the account,
the expiry and a *binding* -- a value that changes when the link must die:
the e-mail address for a verification link, a fingerprint of the current
password hash for a reset link (so a reset link is void once it was used, or
once the password changed any other way). The purpose is inside the MAC, not
the text, so a verification link can never serve as a reset link. Nothing is
stored; checks are constant-time.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime

from dnsgate.security import signing
from dnsgate.security.text import digits

#: Numbers a link may carry: an account id (a 32-bit column) and an expiry that
#: is still a date (``datetime`` ends with 9999); anything beyond is no link.
MAX_ACCOUNT_ID = 2**31 - 1
MAX_EXPIRES = 253402300799  # 9999-12-31T23:59:59Z
VERIFY_EMAIL = "verify-email"
RESET_PASSWORD = "reset-password"  # noqa: S105 - a purpose, not a secret
MAX_LENGTH = 200


@dataclass(frozen=True, slots=True)
class LinkClaim:
    """What a link's text claims, before its MAC is checked against the database."""

    account_id: int
    expires: int  # unix seconds


def _mac(key: bytes, purpose: str, account_id: int, expires: int, binding: str) -> str:
    return signing.mac(key, "link", f"{purpose}|{account_id}|{expires}|{binding}")


def sign(key: bytes, purpose: str, *, account_id: int, expires_at: datetime,
         binding: str) -> str:
    """The link token for one account and purpose, valid until ``expires_at``."""
    expires = int(expires_at.timestamp())
    return f"{account_id}.{expires}.{_mac(key, purpose, account_id, expires, binding)}"


def claim(token: str) -> LinkClaim | None:
    """Parse a token's account and expiry (None: not a link token at all)."""
    parts = token.strip().split(".")
    if len(token) > MAX_LENGTH or len(parts) != 3:
        return None
    account_id = digits(parts[0], maximum=MAX_ACCOUNT_ID)
    expires = digits(parts[1], maximum=MAX_EXPIRES)
    if account_id is None or expires is None or len(parts[2]) != 64:
        return None
    return LinkClaim(account_id, expires)


def check(key: bytes, purpose: str, token: str, *, binding: str, now: datetime) -> str:
    """``"ok"``; ``"expired"`` for an authentic link past its time (the person
    may ask for a new one); ``"invalid"`` for anything else -- tampered, another
    purpose, another binding (already used), or not a link at all."""
    parsed = claim(token)
    if parsed is None:
        return "invalid"
    expected = sign(key, purpose, account_id=parsed.account_id,
                    expires_at=datetime.fromtimestamp(parsed.expires, now.tzinfo),
                    binding=binding)
    if not hmac.compare_digest(expected, token.strip()):
        return "invalid"
    return "ok" if now.timestamp() < parsed.expires else "expired"


def fingerprint(key: bytes, value: str | None) -> str:
    """A binding derived from a secret (a password hash) without revealing it."""
    return signing.mac(key, "bind", value or "")[:32]
