"""Cloudflare records <-> dnsgate RRsets, apart from the adapter that calls the API.

Cloudflare keeps records, not RRsets: each record has an id, and an RRset is
the records sharing (name, type). This module groups them into RRsets and
works out the batch (deletes, patches, posts) that turns a name's records
into the wanted RRset, reusing records wherever one can be kept or patched.

Mapping: owner names are full names without the trailing dot (as Cloudflare
stores them); names inside rdata lose their trailing dot on the way up and get
it back on the way down. MX keeps its preference in ``priority``; SRV, CAA, DS,
SSHFP, TLSA, NAPTR, HTTPS and SVCB travel as Cloudflare's ``data`` components.
TXT ``content`` is written as quoted RFC 1035 character-strings (each at most
255 octets), which Cloudflare serves as written; unquoted content found
upstream is read as one string, split at 255 octets, as Cloudflare serves it.

Cloudflare's TTL 1 means "automatic" (300 s today); it is read as 300
(``AUTO_TTL``). Proxied records always report TTL 1 and are served with
Cloudflare's addresses: dnsgate reads and writes their origin content.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT

from dnsgate.domain import names
from dnsgate.domain.errors import InvalidName, InvalidRecord
from dnsgate.domain.records import Change, Delete, RRset, canonical_rdata

# The adapter's logger: what is skipped here is skipped by its read().
log = logging.getLogger("dnsgate.backends.cloudflare")

#: What Cloudflare's "automatic" TTL (``ttl: 1``) is reported as.
AUTO_TTL = 300
_PROXIABLE = frozenset({"A", "AAAA", "CNAME"})
_HOST_CONTENT = frozenset({"CNAME", "NS", "PTR"})

Json = dict[str, Any]


class Batch:
    """The operations of one ``POST dns_records/batch``."""

    def __init__(self) -> None:
        self.deletes: list[Json] = []
        self.patches: list[Json] = []
        self.posts: list[Json] = []

    @property
    def size(self) -> int:
        return len(self.deletes) + len(self.patches) + len(self.posts)

    def body(self) -> Json:
        return {key: ops for key, ops in (("deletes", self.deletes), ("patches", self.patches),
                                          ("posts", self.posts)) if ops}

    def replace(self, rrset: RRset, existing: list[Json]) -> None:
        """Make the records of ``existing`` hold ``rrset``, reusing records (and
        their proxied flag, comment, tags) wherever one can be kept or patched."""
        kept: set[str] = set()
        missing: list[str] = []
        for text in rrset.records:
            hit = next((r for r in existing if r["id"] not in kept and _canonical(r) == text),
                       None)
            if hit is None:
                missing.append(text)
                continue
            kept.add(hit["id"])
            if not hit.get("proxied") and hit.get("ttl") != rrset.ttl:
                self.patches.append({"id": hit["id"], "ttl": rrset.ttl})
        stale = [r for r in existing if r["id"] not in kept]
        for record, text in zip(stale, missing, strict=False):
            patch = {"id": record["id"], **_fields(rrset.type, text)}
            if not record.get("proxied"):  # proxied records keep Cloudflare's automatic TTL
                patch["ttl"] = rrset.ttl
            self.patches.append(patch)
        self.deletes += [{"id": r["id"]} for r in stale[len(missing):]]
        proxied = (rrset.type in _PROXIABLE and bool(existing)
                   and all(r.get("proxied") for r in existing))
        for text in missing[len(stale):]:
            post = {"name": rrset.name, "type": rrset.type, "ttl": rrset.ttl,
                    **_fields(rrset.type, text)}
            if proxied:  # a record joining a proxied RRset is proxied like the others
                post["proxied"] = True
            self.posts.append(post)


def change_batch(final: Mapping[tuple[str, str], Change], current: Iterable[Json]) -> Batch:
    """The batch that brings each (name, type) of ``final`` to its end state,
    given the records ``current`` holds at those names."""
    by_key: dict[tuple[str, str], list[Json]] = {}
    for record in current:
        key = _key(record)
        if key is not None:
            by_key.setdefault(key, []).append(record)
    batch = Batch()
    for key, change in final.items():
        existing = by_key.get(key, [])
        if isinstance(change, Delete):
            batch.deletes += [{"id": r["id"]} for r in existing]
        else:
            batch.replace(change.rrset, existing)
    return batch


def record_owner(record: Json) -> str | None:
    """A record's owner name, normalized; None if dnsgate cannot represent it."""
    try:
        return names.normalize(str(record.get("name")))
    except InvalidName:
        return None


def _key(record: Json) -> tuple[str, str] | None:
    owner = record_owner(record)
    return None if owner is None else (owner, str(record.get("type")))


def to_rrsets(zone: str, records: list[Json]) -> list[RRset]:
    """Records grouped into RRsets; those outside ``zone`` or unreadable are skipped."""
    grouped: dict[tuple[str, str], tuple[list[int], list[str]]] = {}
    for record in records:
        key = _key(record)
        if key is None or not names.is_at_or_below(key[0], zone):
            log.warning("cloudflare: skipped a record with the name %r", record.get("name"))
            continue
        text = _canonical(record)
        if text is None:
            log.warning("cloudflare: skipped an unreadable %s record at %s", key[1], key[0])
            continue
        ttl = record.get("ttl")
        ttls, texts = grouped.setdefault(key, ([], []))
        ttls.append(AUTO_TTL if ttl == 1 or not isinstance(ttl, int) else ttl)
        if text not in texts:
            texts.append(text)
    # Cloudflare keeps a TTL per record; an RRset has one, and resolvers use the lowest.
    return [RRset(name, rtype, min(ttls), tuple(texts))
            for (name, rtype), (ttls, texts) in sorted(grouped.items())]


def _canonical(record: Json) -> str | None:
    """The canonical rdata of a Cloudflare record, or None if it cannot be read."""
    rtype = str(record.get("type"))
    try:
        text = _presentation(rtype, record)
        return canonical_rdata(rtype, text)
    except (InvalidRecord, KeyError, TypeError, ValueError):
        if rtype == "TXT" and isinstance(record.get("content"), str):
            return _raw_txt(record["content"])
        return None


def _presentation(rtype: str, record: Json) -> str:
    content = record.get("content")
    data = record.get("data")
    if rtype == "MX":
        return f"{_num(record['priority'])} {_absolute(content)}"
    if rtype in _HOST_CONTENT:
        return _absolute(content)
    if isinstance(data, dict) and rtype in _DATA_TEXT:
        return str(_DATA_TEXT[rtype](data))
    if not isinstance(content, str):
        raise ValueError("no content")
    return content


def _raw_txt(content: str) -> str:
    """Unquoted TXT content as Cloudflare serves it: one string, split at 255 octets."""
    raw = content.encode()
    chunks = [raw[i:i + 255] for i in range(0, len(raw), 255)] or [b""]
    rdata = dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, chunks)
    return str(rdata.to_text())


def _num(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError("not a number")
    number = float(value)
    if not number.is_integer():
        raise ValueError("not an integer")
    return int(number)


def _absolute(name: Any) -> str:
    if not isinstance(name, str) or not name:
        raise ValueError("no name")
    return name if name.endswith(".") else name + "."


def _bare(name: dns.name.Name) -> str:
    text = str(name.to_text())
    return text if text == "." else text.rstrip(".")


def _quote(value: Any) -> str:
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def _svcb_text(d: Json) -> str:
    return f"{_num(d['priority'])} {_absolute(d['target'])} {d.get('value') or ''}".strip()


_DATA_TEXT: dict[str, Callable[[Json], str]] = {
    "SRV": lambda d: (f"{_num(d['priority'])} {_num(d['weight'])} {_num(d['port'])} "
                      f"{_absolute(d['target'])}"),
    "CAA": lambda d: f"{_num(d['flags'])} {d['tag']} {_quote(d['value'])}",
    "DS": lambda d: (f"{_num(d['key_tag'])} {_num(d['algorithm'])} {_num(d['digest_type'])} "
                     f"{d['digest']}"),
    "SSHFP": lambda d: f"{_num(d['algorithm'])} {_num(d['type'])} {d['fingerprint']}",
    "TLSA": lambda d: (f"{_num(d['usage'])} {_num(d['selector'])} {_num(d['matching_type'])} "
                       f"{d['certificate']}"),
    "NAPTR": lambda d: (f"{_num(d['order'])} {_num(d['preference'])} {_quote(d['flags'])} "
                        f"{_quote(d['service'])} {_quote(d['regex'])} "
                        f"{_absolute(d['replacement'])}"),
    "HTTPS": _svcb_text,
    "SVCB": _svcb_text,
}


def _fields(rtype: str, text: str) -> Json:
    """Cloudflare's fields (``content``/``priority`` or ``data``) for canonical rdata."""
    try:
        rd: Any = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rtype), text,
                                      origin=dns.name.root, relativize=False)
    except dns.exception.DNSException as exc:
        raise InvalidRecord(f"invalid {rtype} record {text!r}: {exc}") from exc
    if rtype in ("A", "AAAA", "TXT"):
        return {"content": text}
    if rtype in _HOST_CONTENT:
        return {"content": _bare(rd.target)}
    if rtype == "MX":
        return {"content": _bare(rd.exchange), "priority": rd.preference}
    if rtype == "SRV":
        return {"data": {"priority": rd.priority, "weight": rd.weight, "port": rd.port,
                         "target": _bare(rd.target)}}
    if rtype == "CAA":
        try:
            value = rd.value.decode()
        except UnicodeDecodeError:
            raise InvalidRecord("cloudflare keeps CAA values as UTF-8 text") from None
        return {"data": {"flags": rd.flags, "tag": rd.tag.decode(), "value": value}}
    if rtype == "DS":
        return {"data": {"key_tag": rd.key_tag, "algorithm": int(rd.algorithm),
                         "digest_type": int(rd.digest_type), "digest": rd.digest.hex().upper()}}
    if rtype == "SSHFP":
        return {"data": {"algorithm": rd.algorithm, "type": rd.fp_type,
                         "fingerprint": rd.fingerprint.hex()}}
    if rtype == "TLSA":
        return {"data": {"usage": rd.usage, "selector": rd.selector,
                         "matching_type": rd.mtype, "certificate": rd.cert.hex()}}
    if rtype == "NAPTR":
        return {"data": {"order": rd.order, "preference": rd.preference,
                         "flags": rd.flags.decode(), "service": rd.service.decode(),
                         "regex": rd.regexp.decode(), "replacement": _bare(rd.replacement)}}
    if rtype in ("HTTPS", "SVCB"):
        params = text.split(" ", 2)  # "priority target params..." as dnspython prints it
        return {"data": {"priority": rd.priority, "target": _bare(rd.target),
                         "value": params[2] if len(params) > 2 else ""}}
    raise InvalidRecord(f"cloudflare does not take {rtype} records here")
