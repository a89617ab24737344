"""Provider secrets sealed at rest (AES-256-GCM under a key derived from the server key).

A copy of the database alone does not reveal the master credentials of the
DNS providers dnsgate fronts. Only ``SecretStr`` values are sealed, so the
rest of a configuration stays readable (and searchable) in the database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel, SecretStr

PREFIX = "sealed:v1:"
_CONTEXT = b"dnsgate backend config v1"


def _aead(server_key: bytes) -> AESGCM:
    return AESGCM(hmac.new(server_key, _CONTEXT, hashlib.sha256).digest())


def seal(server_key: bytes, plaintext: str) -> str:
    nonce = os.urandom(12)
    sealed = _aead(server_key).encrypt(nonce, plaintext.encode(), _CONTEXT)
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(server_key: bytes, value: str) -> str:
    """The plaintext of a sealed value; ValueError if it was sealed under another key."""
    blob = base64.urlsafe_b64decode(value[len(PREFIX):])
    try:
        return _aead(server_key).decrypt(blob[:12], blob[12:], _CONTEXT).decode()
    except InvalidTag:
        raise ValueError("a backend secret was sealed under another server key") from None


def sealed_dump(server_key: bytes, config: BaseModel) -> dict[str, Any]:
    """A configuration for the database: JSON-able, every secret sealed."""
    dumped: dict[str, Any] = _walk(
        config.model_dump(mode="python"),
        lambda value: seal(server_key, value.get_secret_value())
        if isinstance(value, SecretStr) else value)
    return dumped


def unsealed(server_key: bytes, stored: Mapping[str, Any]) -> dict[str, Any]:
    """A stored configuration with its secrets in the clear, ready to validate."""
    clear: dict[str, Any] = _walk(
        dict(stored), lambda value: unseal(server_key, value)
        if isinstance(value, str) and value.startswith(PREFIX) else value)
    return clear


def _walk(value: Any, leaf: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _walk(item, leaf) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_walk(item, leaf) for item in value]
    return leaf(value)
