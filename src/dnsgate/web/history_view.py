"""The change history as the realm and admin zone pages show it: each change as
a diff of its records, a page of changes, and an undo's refusal in words.

What a caller may see or undo is decided by ``services/history.py``; this only
lays out what it returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from dnsgate.api.params import INT64_MAX
from dnsgate.db import journal
from dnsgate.domain.errors import Conflict, Denied, DnsgateError, NotFound
from dnsgate.domain.records import RRset
from dnsgate.security.text import digits

#: Changes shown per page.
PAGE_SIZE = 25

Mark = Literal["-", "+", ""]


@dataclass(frozen=True, slots=True)
class Line:
    """One record of a diff: removed ("-"), added ("+") or kept ("")."""

    mark: Mark
    text: str


@dataclass(frozen=True, slots=True)
class Change:
    """A journal entry laid out for a page."""

    entry: journal.Entry
    #: "created", "deleted", "changed", or "not recorded" (the state before is unknown)
    kind: str
    lines: tuple[Line, ...]
    #: "300", or "300 → 60" when the TTL changed; "" when there is no RRset on either side
    ttl: str
    #: False when the state before is unknown: there is nothing to write back
    undoable: bool


@dataclass(frozen=True, slots=True)
class Page:
    """The changes shown, and the id to page back from when there are older ones."""

    changes: list[Change]
    older: int | None
    #: Whether this is not the newest page (a link back to the newest then helps).
    paged: bool


def diff(old: RRset | None, new: RRset | None) -> tuple[Line, ...]:
    """The records before against after: kept ones first (as context), then the
    removed, then the added. An RRset is a set, so order does not count."""
    before = old.records if old is not None else ()
    after = new.records if new is not None else ()
    gone, came = set(before) - set(after), set(after) - set(before)
    kept = [Line("", r) for r in after if r not in came]
    return (*kept, *(Line("-", r) for r in before if r in gone),
            *(Line("+", r) for r in after if r in came))


def _ttl(old: RRset | None, new: RRset | None) -> str:
    if old is not None and new is not None and old.ttl != new.ttl:
        return f"{old.ttl} → {new.ttl}"
    either = new or old
    return "" if either is None else str(either.ttl)


def change(entry: journal.Entry) -> Change:
    """One entry as a diff. An unknown state before shows the state after
    unmarked: marking it "added" would claim to know what was there."""
    if not entry.old_known:
        lines = tuple(Line("", r) for r in (entry.new.records if entry.new else ()))
        return Change(entry, "not recorded", lines, _ttl(None, entry.new), False)
    kind = ("created" if entry.old is None else "deleted" if entry.new is None
            else "changed")
    return Change(entry, kind, diff(entry.old, entry.new), _ttl(entry.old, entry.new), True)


def read_limit() -> int:
    """How many entries a page reads: one more than it shows says there are older ones."""
    return PAGE_SIZE + 1


def page(entries: Sequence[journal.Entry], *, before: int | None) -> Page:
    """The first ``PAGE_SIZE`` of the ``read_limit()`` entries read, newest first."""
    shown = [change(e) for e in entries[:PAGE_SIZE]]
    older = shown[-1].entry.id if len(entries) > PAGE_SIZE and shown else None
    return Page(shown, older, before is not None)


def before_of(text: str) -> int | None:
    """The ``before`` query parameter: an entry id, or None (a bad one is ignored:
    the newest page is the honest answer to a link that makes no sense)."""
    value = digits(text, maximum=INT64_MAX)
    return value or None


#: An undo's conflicts in words, by code (``services/history.py``).
_CONFLICTS = {
    "changed_since": "This record set changed again since; undo the newer change first.",
    "old_unknown": "This change was written without reading the record set first, so "
                   "what it replaced is not known and it cannot be undone.",
}
NOT_FOUND = ("That change is not in this history (it may be too old and removed "
             "already). Nothing was changed.")


def refusal(exc: DnsgateError) -> tuple[int, str]:
    """An undo's refusal as the status and the sentence the page shows."""
    if isinstance(exc, Conflict):
        return 409, _CONFLICTS.get(exc.code, _sentence(exc.message))
    if isinstance(exc, NotFound):
        return 404, NOT_FOUND
    if isinstance(exc, Denied):
        return 422, f"The change was not undone: refused ({exc.code})."
    return 422, f"The change was not undone: {_sentence(exc.message)}"


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")
