"""Lexicon records <-> dnsgate RRsets, apart from the adapter that runs lexicon.

Lexicon speaks single records, so this module groups listed records into
RRsets, and turns one change of an RRset into the record deletes and creates
(:class:`Step`) that the adapter runs and, on a failure, undoes.

Lexicon's record content is provider-flavoured (TXT quoting, CNAME targets
without trailing dot, MX priority outside the content for most providers),
so a provider's record types and TXT form come from :data:`_DIALECTS`; an
unlisted provider gets the portable set (A, AAAA, CNAME, TXT).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable
from typing import Any

import dns.exception
import dns.rdata
import dns.rdataclass
import dns.rdatatype

from dnsgate.domain import names
from dnsgate.domain.errors import DnsgateError, InvalidName, InvalidRecord
from dnsgate.domain.records import Change, RRset, Upsert, canonical_rdata


@dataclasses.dataclass(frozen=True, slots=True)
class Dialect:
    """How one lexicon provider writes record content."""

    record_types: frozenset[str]
    #: TXT content is presentation text (quoted strings) minus the outer quotes.
    txt_presentation: bool = False
    #: The provider appends the zone to CNAME targets outside it (lexicon's
    #: powerdns ``_fqdn_name``), so only in-zone targets are safe to write.
    cname_in_zone_only: bool = False


PORTABLE = Dialect(frozenset({"A", "AAAA", "CNAME", "TXT"}))
_DIALECTS = {
    # Content goes to PowerDNS verbatim (presentation format), except TXT/CNAME.
    "powerdns": Dialect(frozenset({"A", "AAAA", "CAA", "CNAME", "MX", "NS", "PTR", "SRV",
                                   "SSHFP", "TLSA", "TXT"}),
                        txt_presentation=True, cname_in_zone_only=True),
}
ALL_TYPES = frozenset().union(PORTABLE.record_types,
                              *(d.record_types for d in _DIALECTS.values()))


def dialect(provider_name: str) -> Dialect:
    return _DIALECTS.get(provider_name, PORTABLE)


@dataclasses.dataclass(frozen=True, slots=True)
class ListedRecord:
    canonical: str
    content: str  # as lexicon listed it: what its delete wants back
    ttl: int


@dataclasses.dataclass(frozen=True, slots=True)
class Step:
    """One record-level lexicon call of an apply, kept so it can be undone."""

    action: str  # "create" or "delete"
    rtype: str
    name: str
    content: str
    ttl: int

    def call(self, session: Any) -> Callable[[], Any]:
        if self.action == "create":
            return functools.partial(session.create_record, self.rtype, self.name, self.content)
        return functools.partial(session.delete_record, None, self.rtype, self.name,
                                 self.content)

    def reverse(self) -> Step:
        return dataclasses.replace(self, action="delete" if self.action == "create" else "create")


def to_rrsets(listed: Iterable[tuple[tuple[str, str], ListedRecord]], name: str | None,
              rtype: str | None) -> list[RRset]:
    """Parsed records grouped into RRsets, optionally of one name and/or type."""
    grouped: dict[tuple[str, str], list[ListedRecord]] = {}
    for key, record in listed:
        if (name is None or key[0] == name) and (rtype is None or key[1] == rtype):
            grouped.setdefault(key, []).append(record)
    return [RRset(owner, kind, min(r.ttl for r in records),
                  tuple(dict.fromkeys(r.canonical for r in records)))
            for (owner, kind), records in sorted(grouped.items())]


def change_steps(change: Change, ttl: int, current: list[ListedRecord],
                 wanted: dict[str, str]) -> list[Step]:
    """The record deletes and creates that give ``change``'s RRset its end
    state, given its ``current`` records, in the order they are to run."""
    name, rtype = change.key
    have = {rec.canonical for rec in current}
    new_ttl = isinstance(change, Upsert) and any(rec.ttl != ttl for rec in current)
    if new_ttl:  # lexicon sets a TTL on create only: rewrite the whole RRset
        deletes, creates = current, list(wanted.values())
    else:
        deletes = [rec for rec in current if rec.canonical not in wanted]
        creates = [content for canonical, content in wanted.items() if canonical not in have]
    # Creating first keeps the name answering; but a CNAME has one record,
    # and a new TTL needs an emptied RRset, so those delete first.
    delete_steps = [Step("delete", rtype, name, rec.content, rec.ttl) for rec in deletes]
    create_steps = [Step("create", rtype, name, content, ttl) for content in creates]
    return (delete_steps + create_steps if rtype == "CNAME" or new_ttl
            else create_steps + delete_steps)


def wanted_contents(dialect: Dialect, provider_name: str, zone: str,
                    rrset: RRset) -> dict[str, str]:
    """canonical record -> the content lexicon is given for it."""
    out = {}
    for record in rrset.records:
        if rrset.type == "CNAME" and dialect.cname_in_zone_only:
            target = record.rstrip(".")
            if not names.is_at_or_below(target, zone):
                raise InvalidRecord(f"lexicon's {provider_name} provider "
                                    "cannot write a CNAME to a name outside the zone")
        out[record] = record_content(dialect, rrset.type, record)
    return out


def record_content(dialect: Dialect, rtype: str, canonical: str) -> str:
    """The content lexicon is given for one canonical record."""
    if rtype == "TXT":
        if dialect.txt_presentation:
            return canonical
        rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, canonical)
        try:
            return b"".join(rdata.strings).decode("utf-8")  # type: ignore[attr-defined]
        except UnicodeDecodeError:
            raise InvalidRecord("this provider takes TXT values as UTF-8 text") from None
    if rtype == "CNAME":
        return canonical.rstrip(".")  # lexicon's convention: full name, no trailing dot
    return canonical


def parse_record(dialect: Dialect, zone: str,
                 item: Any) -> tuple[tuple[str, str], ListedRecord] | None:
    """A listed lexicon record as ((owner, type), record); None if unusable."""
    if not isinstance(item, dict):
        return None
    try:
        rtype = str(item["type"]).upper()
        owner = _owner(str(item["name"]), zone)
        content = str(item["content"])
        ttl = int(item.get("ttl") or 0)
        text = content
        if rtype == "TXT" and dialect.txt_presentation:
            text = _requote(content)
        canonical = canonical_rdata(rtype, text)
    except (KeyError, TypeError, ValueError, DnsgateError, dns.exception.DNSException):
        return None
    return (owner, rtype), ListedRecord(canonical, content, ttl)


def _owner(name: str, zone: str) -> str:
    """Lexicon names come full with or without a trailing dot, or relative."""
    text = name.strip()
    if text in ("", "@"):
        return zone
    owner = names.normalize(text)
    if names.is_at_or_below(owner, zone):
        return owner
    if text.endswith("."):
        raise InvalidName(f"{owner} is outside {zone}")
    return names.normalize(f"{owner}.{zone}")


def _requote(content: str) -> str:
    """Undo lexicon's ``content.strip('"')`` of a TXT presentation value."""
    text = content
    trailing = len(text) - len(text.rstrip("\\"))
    if trailing % 2:  # the strip also took the quote this backslash escaped
        text += '"'
    return f'"{text}"'
