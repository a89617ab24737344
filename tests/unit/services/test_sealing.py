"""Provider secrets at rest: sealed under the server key, readable only with it."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr

from dnsgate.backends.base import ProviderConfig
from dnsgate.backends.sealing import PREFIX, seal, sealed_dump, unseal, unsealed

KEY = b"k" * 32


class Example(ProviderConfig):
    url: str
    api_key: SecretStr
    extra: dict[str, SecretStr] = {}


def test_secrets_are_sealed_and_the_rest_stays_readable() -> None:
    config = Example(url="http://127.0.0.1:8081", api_key=SecretStr("hunter2-master-key"),
                     extra={"password": SecretStr("pa55word-xyz")})
    stored = sealed_dump(KEY, config)
    text = json.dumps(stored)
    assert "hunter2-master-key" not in text and "pa55word-xyz" not in text
    assert stored["url"] == "http://127.0.0.1:8081"
    assert stored["api_key"].startswith(PREFIX)
    assert stored["extra"]["password"].startswith(PREFIX)
    back = Example.model_validate(unsealed(KEY, stored))
    assert back.api_key.get_secret_value() == "hunter2-master-key"
    assert back.extra["password"].get_secret_value() == "pa55word-xyz"


def test_each_seal_is_different() -> None:
    assert seal(KEY, "same") != seal(KEY, "same")


def test_another_key_cannot_unseal() -> None:
    sealed = seal(KEY, "secret")
    with pytest.raises(ValueError, match="another server key"):
        unseal(b"x" * 32, sealed)
    assert unseal(KEY, sealed) == "secret"
