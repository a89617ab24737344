"""netcup records <-> dnsgate RRsets, apart from the adapter that calls the API.

netcup's API speaks records with ids, not RRsets: this module groups them into
RRsets, and works out which records an ``updateDnsRecords`` must send so that
a zone's record list holds the wanted RRsets.

Mapping: ``hostname`` is relative to the zone (``@`` for the apex); names
in a destination are fully qualified (netcup accepts them with or without
the trailing dot; they are sent without it, like other clients do). MX
carries its preference in ``priority``; an SRV destination holds all four
fields. A TXT destination is the text netcup puts between the quotes it
adds itself, with ``\\"``, ``\\\\`` and ``\\DDD`` escapes; netcup splits it
into 255-octet strings, so a TXT record split elsewhere cannot be stored
(InvalidRecord rather than a silent change). netcup manages the apex NS
records itself, so they cannot be written.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import dns.exception
import dns.rdataclass
import dns.rdatatype
import dns.tokenizer
from dns.rdtypes.ANY.TXT import TXT

from dnsgate.domain import names
from dnsgate.domain.errors import InvalidName, InvalidRecord
from dnsgate.domain.records import WRITABLE_TYPES, Change, RRset, Upsert, canonical_rdata

# The adapter's logger: what is skipped here is skipped by its read().
log = logging.getLogger("dnsgate.backends.netcup")

#: Record types netcup's DNS API knows.
NETCUP_TYPES = frozenset({"A", "AAAA", "MX", "CNAME", "CAA", "SRV", "TXT", "TLSA", "NS", "DS",
                          "SSHFP", "OPENPGPKEY", "SMIMEA"})
RECORD_TYPES = NETCUP_TYPES & WRITABLE_TYPES
_TXT_CHUNK = 255

Key = tuple[str, str]
Wanted = dict[Key, list[tuple[str, dict[str, str]]] | None]


def to_rrsets(zone: str, records: list[dict[str, Any]], ttl: int, name: str | None,
              rtype: str | None) -> list[RRset]:
    """netcup records grouped into RRsets, optionally of one name and/or type."""
    grouped: dict[Key, list[str]] = {}
    for rec in records:
        key = _key(zone, rec)
        rdata = _rdata(zone, rec) if key is not None else None
        if key is None or rdata is None:
            log.warning("netcup zone %s: skipping a record dnsgate cannot read (id %s)",
                        zone, rec.get("id"))
            continue
        if (name is None or key[0] == name) and (rtype is None or key[1] == rtype):
            grouped.setdefault(key, [])
            if rdata not in grouped[key]:
                grouped[key].append(rdata)
    return [RRset(owner, kind, ttl, tuple(sorted(rdatas)))
            for (owner, kind), rdatas in sorted(grouped.items())]


def _owner(zone: str, hostname: str) -> str | None:
    hostname = hostname.strip()
    if hostname in ("@", ""):
        return zone
    try:
        return names.normalize(f"{hostname}.{zone}")
    except InvalidName:
        return None


def _key(zone: str, rec: dict[str, Any]) -> Key | None:
    """(owner, type) of a netcup record, or None if its hostname is unreadable."""
    owner = _owner(zone, str(rec.get("hostname") or ""))
    rtype = str(rec.get("type") or "").upper()
    return (owner, rtype) if owner is not None and rtype else None


def _rdata(zone: str, rec: dict[str, Any]) -> str | None:
    """The canonical rdata of a netcup record, or None if it cannot be read."""
    rtype = str(rec.get("type") or "").upper()
    dest = str(rec.get("destination") or "").strip()
    try:
        if rtype == "MX":
            text = f"{rec.get('priority') or 0} {_absolute(zone, dest)}"
        elif rtype in ("CNAME", "NS"):
            text = _absolute(zone, dest)
        elif rtype == "SRV":
            parts = dest.split()
            if len(parts) == 3:  # weight port target, with the priority in its own field
                parts = [str(rec.get("priority") or 0), *parts]
            text = " ".join([*parts[:-1], _absolute(zone, parts[-1])]) if parts else ""
        elif rtype == "TXT":
            text = _txt_rdata(dest)
        else:
            text = dest
        return canonical_rdata(rtype, text)
    except (InvalidRecord, dns.exception.DNSException, ValueError):
        return None


def wanted_records(zone: str, changes: Sequence[Change]) -> Wanted:
    """Per (owner, type): the wanted records with their netcup fields, or None to delete."""
    wanted: Wanted = {}
    for change in changes:
        if not isinstance(change, Upsert):
            wanted[change.key] = None
            continue
        rr = change.rrset
        if rr.type not in RECORD_TYPES:
            raise InvalidRecord(f"netcup does not support {rr.type} records")
        if not names.is_at_or_below(rr.name, zone):
            raise InvalidRecord(f"{rr.name} is not in zone {zone}")
        if rr.type == "NS" and rr.name == zone:
            raise InvalidRecord("netcup manages the NS records at the zone apex")
        hostname = "@" if rr.name == zone else rr.name[: -len(zone) - 1]
        wanted[change.key] = [(rdata, _fields(hostname, rr.type, rdata))
                              for rdata in (canonical_rdata(rr.type, r) for r in rr.records)]
    return wanted


def _fields(hostname: str, rtype: str, rdata: str) -> dict[str, str]:
    """netcup's hostname/type/priority/destination for one canonical record."""
    fields = {"hostname": hostname, "type": rtype}
    if rtype == "MX":
        preference, exchange = rdata.split(" ", 1)
        return {**fields, "priority": preference, "destination": _bare(exchange)}
    if rtype in ("CNAME", "NS"):
        return {**fields, "destination": _bare(rdata)}
    if rtype == "SRV":
        *numbers, target = rdata.split()
        return {**fields, "destination": " ".join([*numbers, _bare(target)])}
    if rtype == "TXT":
        destination = _txt_destination(rdata)
        if not destination:
            raise InvalidRecord("netcup cannot store an empty TXT record")
        if _txt_rdata(destination) != rdata:
            raise InvalidRecord("netcup stores a TXT record as one text that it splits into "
                                "255-octet strings; this record is split elsewhere")
        return {**fields, "destination": destination}
    return {**fields, "destination": rdata}


def diff(zone: str, records: Iterable[dict[str, Any]], wanted: Wanted) -> list[dict[str, Any]]:
    """The records to send so that each wanted RRset is exactly as wanted."""
    current: dict[Key, list[tuple[dict[str, Any], str | None]]] = {}
    for rec in records:
        key = _key(zone, rec)
        if key is not None and key in wanted:
            current.setdefault(key, []).append((rec, _rdata(zone, rec)))
    ops: list[dict[str, Any]] = []
    for key, desired in wanted.items():
        remaining = current.get(key, [])
        creates: list[dict[str, str]] = []
        for rdata, fields in desired or ():
            match = next((i for i, (_, have) in enumerate(remaining) if have == rdata), None)
            if match is None:
                creates.append(fields)
            else:
                remaining.pop(match)  # already right: not sent, keeps its id
        for fields in creates:  # a record that goes lends its id to one that comes
            if remaining:
                rec, _ = remaining.pop(0)
                ops.append({"id": str(rec.get("id")), **fields, "deleterecord": False})
            else:
                ops.append({**fields, "deleterecord": False})
        ops.extend({"id": str(rec.get("id")), "hostname": rec.get("hostname"),
                    "type": rec.get("type"), "priority": str(rec.get("priority") or "0"),
                    "destination": rec.get("destination"), "deleterecord": True}
                   for rec, _ in remaining)
    return ops


def satisfied(zone: str, records: Iterable[dict[str, Any]], wanted: Wanted) -> bool:
    """Whether ``records`` hold each wanted RRset exactly (and no deleted one)."""
    have: dict[Key, set[str | None]] = {}
    for rec in records:
        key = _key(zone, rec)
        if key is not None and key in wanted:
            have.setdefault(key, set()).add(_rdata(zone, rec))
    return all(have.get(key, set()) == {rdata for rdata, _ in desired or ()}
               for key, desired in wanted.items())


def _absolute(zone: str, name: str) -> str:
    if name == "@":
        return f"{zone}."
    return name if name.endswith(".") else f"{name}."


def _bare(name: str) -> str:
    return name[:-1] if name.endswith(".") and name != "." else name


def _txt_destination(rdata: str) -> str:
    """The text between netcup's quotes: the record's strings joined, escapes kept."""
    tokenizer = dns.tokenizer.Tokenizer(rdata)
    parts = []
    while not (token := tokenizer.get()).is_eol_or_eof():
        parts.append(token.value)
    return "".join(parts)


def _txt_rdata(destination: str) -> str:
    """What netcup serves for a TXT destination: 255-octet strings, canonical."""
    tokenizer = dns.tokenizer.Tokenizer(f'"{destination}"')
    data = tokenizer.get().unescape_to_bytes().value
    if not tokenizer.get().is_eol_or_eof():
        raise ValueError("unbalanced quotes in a TXT destination")
    chunks = [data[i:i + _TXT_CHUNK] for i in range(0, len(data), _TXT_CHUNK)] or [b""]
    text = TXT(dns.rdataclass.IN, dns.rdatatype.TXT, chunks).to_text()
    return canonical_rdata("TXT", text)
