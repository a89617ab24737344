"""TXT character-strings longer than 255 bytes (domain/records.py): a raw
value and each quoted string of a presentation value are split into 255-byte
strings, as PowerDNS does; everything else parses as before."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dnsgate.domain.errors import InvalidRecord
from dnsgate.domain.records import canonical_rdata, parse_rdata


def strings(text: str) -> list[bytes]:
    return list(parse_rdata("TXT", text).strings)


def test_a_long_quoted_string_becomes_several():
    assert strings('"' + "x" * 600 + '"') == [b"x" * 255, b"x" * 255, b"x" * 90]


def test_only_the_long_strings_are_split_and_the_order_stays():
    assert strings('"a" "' + "b" * 300 + '" c') == [b"a", b"b" * 255, b"b" * 45, b"c"]


def test_the_split_counts_bytes_after_escapes():
    # \065 is one byte ("A"), \" one byte; 300 escaped bytes, 1,200+ characters
    assert strings('"' + "\\065" * 299 + '\\""') == [b"A" * 255, b"A" * 44 + b'"']
    # 200 two-byte characters: 400 bytes, split between the bytes of one character
    assert [len(s) for s in strings('"' + "é" * 200 + '"')] == [255, 145]


def test_a_raw_value_is_split_as_before():
    assert strings("y" * 300) == [b"y" * 255, b"y" * 45]


def test_exactly_255_bytes_stay_one_string():
    assert strings('"' + "z" * 255 + '"') == [b"z" * 255]


@pytest.mark.parametrize("text", [
    '"' + "x" * 300,  # unterminated
    '"' + "x" * 300 + '" ; comment',
    '"ok" ' + "u" * 300,  # an unquoted word over 255 bytes is not split
    '"' + "\\06" + "x" * 300 + '"',  # a broken escape
])
def test_what_was_invalid_stays_invalid(text):
    with pytest.raises(InvalidRecord):
        parse_rdata("TXT", text)


@given(st.binary(min_size=0, max_size=1500))
def test_any_quoted_value_round_trips_split(raw):
    quoted = '"' + "".join(
        chr(b) if 0x20 <= b < 0x7F and b not in (0x22, 0x5C) else f"\\{b:03d}" for b in raw) + '"'
    parsed = strings(quoted)
    assert b"".join(parsed) == raw
    assert all(len(s) <= 255 for s in parsed)
    assert all(len(s) == 255 for s in parsed[:-1])
    assert canonical_rdata("TXT", canonical_rdata("TXT", quoted)) == canonical_rdata("TXT", quoted)
