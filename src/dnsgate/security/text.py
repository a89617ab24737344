"""Text and numbers from outside, checked once where they enter.

No string dnsgate keeps or passes on may hold a lone surrogate (U+D800 to
U+DFFF: not a Unicode scalar value, so it has no UTF-8 form and every
database driver and JSON encoder fails on it) or NUL (PostgreSQL's text
cannot hold it). JSON bodies (``api.schemas.Strict`` and the facades),
URLs (``edge.middleware``) and forms (``web.forms``) are checked against
:func:`is_clean`.

A number typed as text is ASCII digits within a bound (:func:`digits`):
``str.isdigit`` also accepts superscript and non-Latin digits, which ``int`` then
refuses or reads, and an unbounded number overflows the database's integers.
"""

from __future__ import annotations

import json
import re
from typing import Any

_UNCLEAN = re.compile("[\x00\ud800-\udfff]")
#: How deep :func:`is_clean_tree` looks into nested JSON (deeper is refused).
MAX_DEPTH = 64


def is_clean(text: str) -> bool:
    """No NUL and no lone surrogate."""
    return _UNCLEAN.search(text) is None


def is_clean_tree(value: object, depth: int = 0) -> bool:
    """:func:`is_clean` for every string in a parsed JSON value, keys included."""
    if isinstance(value, str):
        return is_clean(value)
    if depth > MAX_DEPTH:
        return False
    if isinstance(value, dict):
        return all(is_clean_tree(k, depth + 1) and is_clean_tree(v, depth + 1)
                   for k, v in value.items())
    if isinstance(value, list | tuple):
        return all(is_clean_tree(item, depth + 1) for item in value)
    return True


def load_json(body: bytes | str) -> Any:
    """``json.loads``, but a body nested too deep for it is a ValueError too (not
    a RecursionError), as every other body that is not JSON is."""
    try:
        return json.loads(body)
    except RecursionError:
        raise ValueError("the body is nested too deep") from None


def scrub(text: str) -> str:
    """``text`` with NUL and lone surrogates as U+FFFD, to echo input in a message."""
    return _UNCLEAN.sub("\ufffd", text)


def digits(text: str, *, maximum: int) -> int | None:
    """The value of a number of ASCII digits up to ``maximum``; None otherwise."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(maximum)):
        return None
    value = int(text)
    return value if value <= maximum else None
