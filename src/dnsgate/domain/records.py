"""RRsets and record data: validated and put in canonical form by dnspython.

An RRset is (name, type, ttl, records). ``name`` is a normalized owner name
(see ``names``); each record is presentation-format rdata as dnspython
prints it, with absolute domain names (trailing dot) inside the rdata.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.IN.A
import dns.rdtypes.IN.AAAA
import dns.tokenizer

from dnsgate.domain.errors import InvalidRecord

#: Types users may write through dnsgate. SOA is managed by the backend.
WRITABLE_TYPES: Final = frozenset({
    "A", "AAAA", "CAA", "CNAME", "DS", "HTTPS", "MX", "NAPTR", "NS", "PTR",
    "SRV", "SSHFP", "SVCB", "TLSA", "TXT",
})
MAX_RECORDS_PER_RRSET: Final = 100
#: Types whose canonical form lowercases the names inside them (RFC 4034 6.2).
_EMBEDS_NAMES: Final = frozenset({
    dns.rdatatype.CNAME, dns.rdatatype.MX, dns.rdatatype.NAPTR, dns.rdatatype.NS,
    dns.rdatatype.PTR, dns.rdatatype.SRV})
MAX_TTL: Final = 2_147_483_647
_TXT_CHUNK: Final = 255
# An address with nothing else in it is one token to dnspython's parser, which
# would hand it to the same constructor (it validates): skip the tokenizer.
_BARE_ADDRESS: Final = {
    "A": (re.compile(r"[0-9.]+"), dns.rdtypes.IN.A.A, dns.rdatatype.A),
    "AAAA": (re.compile(r"[0-9A-Fa-f:.]+"), dns.rdtypes.IN.AAAA.AAAA, dns.rdatatype.AAAA),
}


@dataclass(frozen=True, slots=True)
class RRset:
    """``rdatas``, when present, are ``records`` already parsed (by ``parsed_rrset``),
    so the DNS server's view does not parse them a second time."""

    name: str
    type: str
    ttl: int
    records: tuple[str, ...]
    rdatas: tuple[dns.rdata.Rdata, ...] | None = field(default=None, compare=False,
                                                       repr=False)

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "type": self.type, "ttl": self.ttl,
                "records": list(self.records)}


@dataclass(frozen=True, slots=True)
class Upsert:
    """Replace the RRset (name, type) with ``rrset``."""

    rrset: RRset

    @property
    def key(self) -> tuple[str, str]:
        return (self.rrset.name, self.rrset.type)


@dataclass(frozen=True, slots=True)
class Delete:
    """Remove the RRset (name, type); a missing RRset is not an error."""

    name: str
    type: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.type)


Change = Upsert | Delete


def normalize_type(text: str) -> str:
    """Upper-case a type mnemonic and check it is one users may write."""
    if not isinstance(text, str):
        raise InvalidRecord("type must be a string")
    rtype = text.strip().upper()
    if rtype not in WRITABLE_TYPES:
        raise InvalidRecord(f"unsupported record type {text!r}", code="invalid_record")
    return rtype


def parsed_rrset(name: str, rtype: str, ttl: int, records: Sequence[str]) -> RRset:
    """An RRset of canonical, de-duplicated records, each parsed once by dnspython."""
    if not isinstance(records, (list, tuple)) or not records:
        raise InvalidRecord("records must be a non-empty list")
    if len(records) > MAX_RECORDS_PER_RRSET:
        raise InvalidRecord(f"at most {MAX_RECORDS_PER_RRSET} records per rrset")
    parsed: dict[str, dns.rdata.Rdata] = {}
    for text in records:
        rdata = parse_rdata(rtype, text)
        parsed.setdefault(str(rdata.to_text()), rdata)
    if rtype == "CNAME" and len(parsed) > 1:
        raise InvalidRecord("a CNAME rrset has exactly one record")
    return RRset(name, rtype, ttl, tuple(parsed), tuple(parsed.values()))


def canonical_records(rtype: str, records: Sequence[str]) -> tuple[str, ...]:
    """Parse each record with dnspython; return canonical, de-duplicated text."""
    return parsed_rrset("", rtype, 0, records).records


def canonical_rdata(rtype: str, text: str) -> str:
    """One record in canonical presentation form, or InvalidRecord."""
    return str(parse_rdata(rtype, text).to_text())


def parse_rdata(rtype: str, text: str) -> dns.rdata.Rdata:
    """One record, parsed and in canonical form, or InvalidRecord."""
    if not isinstance(text, str):
        raise InvalidRecord("each record must be a string")
    bare = _BARE_ADDRESS.get(rtype)
    if bare is not None and bare[0].fullmatch(text):
        try:
            return bare[1](dns.rdataclass.IN, bare[2], text)  # type: ignore[no-untyped-call]
        except (dns.exception.DNSException, ValueError) as exc:
            raise InvalidRecord(f"invalid {rtype} record {text!r}: {exc}") from exc
    if rtype == "TXT":
        text = _txt_presentation(text)
    try:
        tok = dns.tokenizer.Tokenizer(text)
        rdata = dns.rdata.from_text(
            dns.rdataclass.IN, dns.rdatatype.from_text(rtype), tok,
            origin=dns.name.root, relativize=False,
        )
        rest = tok.get(want_comment=True)
        while rest.is_eol():
            rest = tok.get(want_comment=True)
    except (dns.exception.DNSException, ValueError, TypeError) as exc:
        raise InvalidRecord(f"invalid {rtype} record {text!r}: {exc}") from exc
    # dnspython stops after the first line and drops a ';' comment; what it
    # would silently ignore (a second record, the rest of a mis-quoted TXT
    # value) is an error here, never a truncated record.
    if rdata.rdcomment is not None or not rest.is_eof():
        raise InvalidRecord(f"invalid {rtype} record {text!r}: unexpected text after the record")
    if rdata.rdtype not in _EMBEDS_NAMES:
        return rdata
    # The DNSSEC canonical wire form lowercases embedded names (RFC 4034 6.2), so
    # "Mail.Example.TEST." and "mail.example.test." are one record, not two.
    digest = rdata.to_digestable(dns.name.root)
    return dns.rdata.from_wire(rdata.rdclass, rdata.rdtype, digest, 0, len(digest))


def _txt_presentation(value: str) -> str:
    """Quoted presentation text with long strings split; a raw value quoted and split.

    Text longer than 255 octets becomes several character-strings, which is
    how DNS carries long TXT values such as DKIM keys: a raw value, and each
    quoted string of a presentation value (as PowerDNS does), on every surface.
    """
    stripped = value.strip()
    if stripped.startswith('"'):
        return _QUOTED_OR_ESCAPE.sub(_split_quoted, stripped)
    return _quoted_chunks(value.encode("utf-8"))


#: An escape outside quotes (skipped: ``\"`` opens no string), or a quoted string.
_QUOTED_OR_ESCAPE: Final = re.compile(r'\\.|"((?:[^"\\]|\\.)*)"', re.DOTALL)


def _split_quoted(match: re.Match[str]) -> str:
    body = match.group(1)
    if body is None or len(body.encode("utf-8")) <= _TXT_CHUNK:
        return match.group(0)
    try:
        raw = dns.tokenizer.Token(dns.tokenizer.QUOTED_STRING, body).unescape_to_bytes().value
    except dns.exception.DNSException:
        return match.group(0)  # a broken escape: dnspython says what is wrong
    return match.group(0) if len(raw) <= _TXT_CHUNK else _quoted_chunks(raw)


def _quoted_chunks(raw: bytes) -> str:
    if not raw:
        return '""'
    chunks = [raw[i:i + _TXT_CHUNK] for i in range(0, len(raw), _TXT_CHUNK)]
    return " ".join(_quote(chunk) for chunk in chunks)


def _quote(chunk: bytes) -> str:
    out = []
    for byte in chunk:
        if byte in (0x22, 0x5C):  # " and \
            out.append("\\" + chr(byte))
        elif 0x20 <= byte < 0x7F:
            out.append(chr(byte))
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def check_ttl(ttl: object, *, minimum: int, maximum: int) -> int:
    """A TTL inside the zone's bounds, or InvalidRecord."""
    if isinstance(ttl, bool) or not isinstance(ttl, int):
        raise InvalidRecord("ttl must be an integer")
    if not minimum <= ttl <= min(maximum, MAX_TTL):
        raise InvalidRecord(f"ttl must be between {minimum} and {maximum}")
    return ttl


def check_cname_exclusive(rtype: str, other_types_at_name: Iterable[str]) -> None:
    """A CNAME shares its owner name with no other data (RFC 1034 3.6.2)."""
    others = {t for t in other_types_at_name if t != rtype and t not in ("RRSIG", "NSEC")}
    if not others:
        return
    if rtype == "CNAME":
        raise InvalidRecord("a CNAME cannot coexist with other records at the same name")
    if "CNAME" in others:
        raise InvalidRecord("the name already holds a CNAME; no other records may be added")
