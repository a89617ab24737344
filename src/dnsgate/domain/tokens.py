"""Machine credentials: ``dg_<id>_<secret>`` realm tokens and ``dgk_<id>_<secret>``
account API keys.

The id is public and indexed; the secret (256 bits) is stored only as
HMAC-SHA256 under the server key. A keyed fast hash is the right tool for
long random secrets: there is nothing to brute-force, so argon2/bcrypt would
only add milliseconds to every request (passwords, which people choose, do
use argon2id).
"""

from __future__ import annotations

import base64
import hmac
import secrets
from dataclasses import dataclass
from typing import Final

TOKEN_PREFIX: Final = "dg"  # noqa: S105 - a prefix, not a secret
API_KEY_PREFIX: Final = "dgk"
ID_BYTES: Final = 10  # 16 base32 characters
SECRET_BYTES: Final = 32  # 256 bits, 52 base32 characters
_ID_LEN: Final = 16
_SECRET_LEN: Final = 52
_ALPHABET: Final = frozenset("abcdefghijklmnopqrstuvwxyz234567")


def _b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode("ascii").rstrip("=").lower()


@dataclass(frozen=True, slots=True)
class IssuedSecret:
    """A freshly minted credential: the full text is shown once, never stored."""

    id: str
    secret: str
    prefix: str

    @property
    def text(self) -> str:
        return f"{self.prefix}_{self.id}_{self.secret}"


def issue(prefix: str = TOKEN_PREFIX) -> IssuedSecret:
    """Mint a new credential with a random public id and a 256-bit secret."""
    return IssuedSecret(
        id=_b32(secrets.token_bytes(ID_BYTES)),
        secret=_b32(secrets.token_bytes(SECRET_BYTES)),
        prefix=prefix,
    )


def parse(text: str, prefix: str = TOKEN_PREFIX) -> tuple[str, str] | None:
    """Split ``<prefix>_<id>_<secret>`` into (id, secret); None if malformed."""
    parts = text.strip().split("_")
    if len(parts) != 3 or parts[0] != prefix:
        return None
    token_id, secret = parts[1], parts[2]
    if len(token_id) != _ID_LEN or len(secret) != _SECRET_LEN:
        return None
    if not (set(token_id) <= _ALPHABET and set(secret) <= _ALPHABET):
        return None
    return token_id, secret


def hash_secret(key: bytes, secret: str) -> str:
    """The stored form of a secret: hex HMAC-SHA256 under the server key."""
    return hmac.digest(key, secret.encode("ascii"), "sha256").hex()


def verify_secret(key: bytes, secret: str, stored_hash: str) -> bool:
    """Constant-time check of a presented secret against its stored hash."""
    return hmac.compare_digest(hash_secret(key, secret), stored_hash)
