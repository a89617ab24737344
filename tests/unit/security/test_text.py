"""dnsgate.security.text: text and numbers from outside, checked where they enter."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dnsgate.security.text import MAX_DEPTH, digits, is_clean, is_clean_tree, scrub


@pytest.mark.parametrize(("text", "clean"), [
    ("", True), ("example.test", True), ("bücher.example", True), ("\U0001f600", True),
    ("a\x00b", False), ("\ud800", False), ("x\udfff", False), ("\ud83d\ude00", False),
])
def test_is_clean(text, clean):
    assert is_clean(text) is clean


def test_is_clean_tree_looks_everywhere():
    assert is_clean_tree({"a": [1, "b", {"c": None}], "d": True})
    assert not is_clean_tree({"a": ["ok", {"c": "\ud800"}]})
    assert not is_clean_tree({"\x00": 1})
    assert not is_clean_tree([[[]]] * 2 + ["\udc00"])
    deep: object = "x"
    for _ in range(MAX_DEPTH + 2):
        deep = [deep]
    assert not is_clean_tree(deep)  # deeper than any body dnsgate takes


@given(st.text())
def test_scrubbed_text_is_clean_and_encodes(text):
    out = scrub(text)
    assert is_clean(out) and len(out) == len(text)
    out.encode("utf-8")


@pytest.mark.parametrize(("text", "maximum", "value"), [
    ("0", 10, 0), (" 42 ", 100, 42), ("2147483647", 2**31 - 1, 2**31 - 1),
    ("2147483648", 2**31 - 1, None), ("99999999999999999999999", 2**63 - 1, None),
    ("²", 10, None), ("\u0661\u0662", 100, None), ("-1", 10, None), ("1e3", 10**4, None),
    ("", 1, None),
    ("0001", 1, None),  # longer than the bound's digits: no number dnsgate wrote
])
def test_digits(text, maximum, value):
    assert digits(text, maximum=maximum) == value
