"""dnsgate.domain.tokens: dg_<id>_<secret> credentials, stored as HMAC-SHA256."""

from __future__ import annotations

import base64
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.examples import examples

from dnsgate.domain.tokens import (
    API_KEY_PREFIX,
    TOKEN_PREFIX,
    hash_secret,
    issue,
    parse,
    verify_secret,
)

# The issue asks 10,000 examples for names and decide(); these properties are
# cheaper to trust, so they get fewer and the suite stays fast.
MANY = settings(max_examples=examples(2_000), deadline=None)
B32 = "abcdefghijklmnopqrstuvwxyz234567"
TOKEN_FORMAT = re.compile(r"dg_([a-z2-7]{16})_([a-z2-7]{52})\Z")
SAMPLES = 400


def _b32decode(text: str) -> bytes:
    return base64.b32decode(text.upper() + "=" * (-len(text) % 8))


def _valid_text(prefix: str = TOKEN_PREFIX) -> str:
    return f"{prefix}_{'a' * 16}_{'b' * 52}"


# -- issue ----------------------------------------------------------------


def test_issued_token_has_the_documented_format() -> None:
    minted = issue()
    match = TOKEN_FORMAT.match(minted.text)
    assert match is not None, minted.text
    assert match.groups() == (minted.id, minted.secret)
    assert minted.prefix == TOKEN_PREFIX == "dg"
    assert len(minted.id) >= 12


def test_api_keys_use_their_own_prefix() -> None:
    minted = issue(API_KEY_PREFIX)
    assert minted.text.startswith("dgk_")
    assert parse(minted.text, API_KEY_PREFIX) == (minted.id, minted.secret)
    assert parse(minted.text) is None  # an API key is not a realm token
    assert parse(issue().text, API_KEY_PREFIX) is None


def test_secret_and_id_decode_to_the_documented_sizes() -> None:
    minted = issue()
    assert len(_b32decode(minted.secret)) == 32  # 256 bits
    assert len(_b32decode(minted.id)) == 10  # 80 bits
    assert _b32decode(minted.secret) != _b32decode(minted.id)


def _varying_bits(values: list[bytes]) -> int:
    """How many bit positions take both values across ``values``."""
    ones = zeros = 0
    for value in values:
        number = int.from_bytes(value, "big")
        ones |= number
        zeros |= ~number
    width = 8 * len(values[0])
    return bin(ones & zeros & ((1 << width) - 1)).count("1")


def test_every_secret_bit_is_random() -> None:
    # 256 bits of entropy: across 400 secrets every one of the 256 bit
    # positions takes both values (a fixed bit survives this with p = 2**-399).
    minted = [issue() for _ in range(SAMPLES)]
    secrets = [_b32decode(m.secret) for m in minted]
    assert _varying_bits(secrets) == 256
    assert _varying_bits([_b32decode(m.id) for m in minted]) == 80
    assert len({m.secret for m in minted}) == SAMPLES
    assert len({m.id for m in minted}) == SAMPLES


def test_issued_text_round_trips_through_parse() -> None:
    for _ in range(SAMPLES):
        minted = issue()
        assert parse(minted.text) == (minted.id, minted.secret)
        assert parse(f"  {minted.text}\n") == (minted.id, minted.secret)


# -- parse ----------------------------------------------------------------


def test_parse_accepts_the_format() -> None:
    assert parse(_valid_text()) == ("a" * 16, "b" * 52)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "dg",
        "dg__",
        f"dg_{'a' * 16}",
        f"dg_{'a' * 16}_",
        f"dg__{'b' * 52}",
        f"dg_{'a' * 15}_{'b' * 52}",
        f"dg_{'a' * 17}_{'b' * 52}",
        f"dg_{'a' * 16}_{'b' * 51}",
        f"dg_{'a' * 16}_{'b' * 53}",
        f"DG_{'a' * 16}_{'b' * 52}",
        f"dg_{'A' * 16}_{'b' * 52}",  # base32 here is lower case
        f"dg_{'a' * 16}_{'B' * 52}",
        f"dg_{'a' * 15}1_{'b' * 52}",  # 0, 1, 8, 9 are not base32 digits
        f"dg_{'a' * 16}_{'b' * 51}8",
        f"dg_{'a' * 16}_{'b' * 51}=",
        f"dg_{'a' * 16}_{'b' * 52}_extra",
        f"dgk_{'a' * 16}_{'b' * 52}",
        f"xdg_{'a' * 16}_{'b' * 52}",
        f"dg-{'a' * 16}-{'b' * 52}",
        f"dg_{'a' * 16}_{'b' * 26} {'b' * 25}",
        f"Bearer dg_{'a' * 16}_{'b' * 52}",
        f"dg_{'a' * 16}_{'b' * 51}\u00e9",
    ],
)
def test_parse_rejects_malformed(text: str) -> None:
    assert parse(text) is None


def _near_token(prefix: str, token_id: str, secret: str, char: str, at: int) -> str:
    """A token text, with one character replaced by ``char`` (if any)."""
    text = f"{prefix}_{token_id}_{secret}"
    return text[:at] + char + text[at + 1:] if char else text


_NEAR_TOKENS = st.builds(
    _near_token,
    st.sampled_from(["dg", "dg", "dg", "dgk", "DG", "d"]),
    st.sampled_from([16, 16, 16, 15, 17]).flatmap(
        lambda n: st.text(alphabet=B32, min_size=n, max_size=n)),
    st.sampled_from([52, 52, 52, 51, 53]).flatmap(
        lambda n: st.text(alphabet=B32, min_size=n, max_size=n)),
    st.sampled_from(["", "", "", "", "", "", "1", "8", "A", "=", "_", " ", "\u00e9", "\n"]),
    st.integers(0, 75),
)


@MANY
@given(st.one_of(st.text(max_size=90), _NEAR_TOKENS))
def test_parse_accepts_exactly_the_format(text: str) -> None:
    result = parse(text)
    match = TOKEN_FORMAT.match(text.strip())
    if match is None:
        assert result is None
    else:
        assert result == match.groups()


# -- hashing --------------------------------------------------------------


def test_hash_secret_is_hmac_sha256_hex() -> None:
    # RFC 4231, test case 2.
    assert hash_secret(b"Jefe", "what do ya want for nothing?") == (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


def test_hash_verify_round_trip() -> None:
    key = b"k" * 32
    minted = issue()
    stored = hash_secret(key, minted.secret)
    assert re.fullmatch(r"[0-9a-f]{64}", stored)
    assert minted.secret not in stored
    assert verify_secret(key, minted.secret, stored)


def test_verify_fails_for_a_wrong_key_secret_or_hash() -> None:
    key, other_key = b"k" * 32, b"K" * 32
    minted = issue()
    stored = hash_secret(key, minted.secret)
    assert not verify_secret(other_key, minted.secret, stored)
    assert not verify_secret(key, issue().secret, stored)
    one_off = minted.secret[:-1] + ("b" if minted.secret[-1] != "b" else "c")
    assert not verify_secret(key, one_off, stored)
    assert not verify_secret(key, minted.secret, stored.upper())
    assert not verify_secret(key, minted.secret, stored[:-1])
    assert not verify_secret(key, minted.secret, "")


_SECRET = st.text(alphabet=B32, min_size=1, max_size=60)
# Server keys are 32 random bytes. (HMAC pads short keys with zeros, so b"k" and
# b"k\0" would be the same key; that is HMAC, not a flaw of the token format.)
_KEY = st.binary(min_size=32, max_size=32)


@MANY
@given(_KEY, _KEY, _SECRET, _SECRET)
def test_hashes_verify_only_their_own_key_and_secret(
    key: bytes, other_key: bytes, secret: str, other_secret: str
) -> None:
    stored = hash_secret(key, secret)
    assert verify_secret(key, secret, stored)
    if other_key != key:
        assert not verify_secret(other_key, secret, stored)
    if other_secret != secret:
        assert not verify_secret(key, other_secret, stored)
