"""Route 53 record sets <-> dnsgate RRsets, apart from the adapter that calls the API.

Route 53 speaks presentation format with two twists handled here: names and
values escape bytes as ``\\ooo`` in OCTAL (``*`` comes back as ``\\052``),
where dnspython writes ``\\ddd`` in decimal; and a name may hold alias or
routing-policy record sets (weighted, latency, geo, failover, multivalue:
those with a ``SetIdentifier``), which are not plain RRsets. ``to_rrset()``
leaves them out and ``change_batch()`` refuses to touch their name and type
rather than clobber them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from dnsgate.domain import names
from dnsgate.domain.errors import DnsgateError, InvalidName, InvalidRecord
from dnsgate.domain.records import Change, RRset, Upsert, canonical_rdata

# The adapter's logger: what is skipped here is skipped by its read().
log = logging.getLogger("dnsgate.backends.route53")

#: Keys that make a record set something other than a plain RRset.
_NOT_PLAIN: Final = ("AliasTarget", "SetIdentifier", "TrafficPolicyInstanceId")


@dataclass(frozen=True, slots=True)
class RecordSet:
    """A record set as Route 53 lists it, with its owner name decoded."""

    name: str
    type: str
    raw: dict[str, Any]

    @property
    def plain(self) -> bool:
        return not any(key in self.raw for key in _NOT_PLAIN)

    def as_change(self) -> dict[str, Any]:
        """The set as a DELETE must repeat it: Route 53's own name, TTL and values."""
        return {key: self.raw[key] for key in ("Name", "Type", "TTL", "ResourceRecords")
                if key in self.raw}


def to_rrset(item: RecordSet) -> RRset | None:
    """A plain RRset, or None (logged) for what dnsgate cannot represent."""
    if not item.plain:
        log.debug("route53: skipped %s %s: alias or routing-policy record set",
                  item.name, item.type)
        return None
    try:
        ttl = int(item.raw["TTL"])
        values = [str(record["Value"]) for record in item.raw["ResourceRecords"]]
        records = tuple(dict.fromkeys(canonical_rdata(item.type, from_route53(value))
                                      for value in values))
    except (KeyError, TypeError, ValueError, DnsgateError) as exc:
        log.warning("route53: skipped %s %s that dnsgate cannot parse: %s",
                    item.name, item.type, exc)
        return None
    if not records:
        return None
    return RRset(item.name, item.type, ttl, records)


def plain_set(rrset: RRset) -> dict[str, Any]:
    """An RRset as Route 53 takes it in an UPSERT."""
    return {"Name": fqdn(rrset.name), "Type": rrset.type, "TTL": rrset.ttl,
            "ResourceRecords": [{"Value": to_route53(record)} for record in rrset.records]}


def change_batch(final: Mapping[tuple[str, str], Change],
                 current: Iterable[RecordSet]) -> list[dict[str, Any]]:
    """The UPSERT and DELETE actions that bring each (name, type) of ``final``
    to its end state; a DELETE repeats the set as ``current`` holds it."""
    sets: dict[tuple[str, str], list[RecordSet]] = {}
    for item in current:
        sets.setdefault((item.name, item.type), []).append(item)
    batch: list[dict[str, Any]] = []
    for (name, rtype), change in final.items():
        existing = sets.get((name, rtype), [])
        if any(not item.plain for item in existing):
            raise InvalidRecord(
                f"{rtype} at {name} is an alias or routing-policy record set in "
                "Route 53; dnsgate does not change it")
        if isinstance(change, Upsert):
            batch.append({"Action": "UPSERT", "ResourceRecordSet": plain_set(change.rrset)})
        elif existing:  # a DELETE names the set exactly as it is; absent is done
            batch.append({"Action": "DELETE", "ResourceRecordSet": existing[0].as_change()})
    return batch


def fqdn(name: str) -> str:
    # Normalized names hold only a-z 0-9 - _ and a leading '*', all of which
    # Route 53 takes literally.
    return name + "."


_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")
_DECIMAL_OR_OTHER = re.compile(r"\\(\d{3}|.)", re.DOTALL)
_OCTAL_OR_OTHER = re.compile(r"\\([0-7]{3}|.)", re.DOTALL)


def decode_name(text: str) -> str | None:
    """A name as Route 53 writes it (``\\052.example.com.``), normalized; None
    if it cannot be an owner name in dnsgate (an escaped dot, a space, ...)."""
    labels: list[bytes] = []
    label = bytearray()
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\":
            octal = _OCTAL_ESCAPE.match(text, i)
            if octal is not None:
                label.append(int(octal.group(1), 8))
                i += 4
                continue
            if i + 1 >= len(text):
                return None
            label.extend(text[i + 1].encode("utf-8"))
            i += 2
            continue
        if char == ".":
            labels.append(bytes(label))
            label = bytearray()
        else:
            label.extend(char.encode("utf-8"))
        i += 1
    if label:
        labels.append(bytes(label))
    try:
        decoded = [part.decode("utf-8") for part in labels]
        if any("." in part for part in decoded):
            return None
        return names.normalize(".".join(decoded))
    except (UnicodeDecodeError, InvalidName):
        return None


def to_route53(rdata: str) -> str:
    """dnspython's presentation form with its decimal ``\\ddd`` escapes made octal."""
    return _DECIMAL_OR_OTHER.sub(
        lambda m: f"\\{int(m[1]):03o}" if len(m[1]) == 3 else m[0], rdata)


def from_route53(value: str) -> str:
    """Route 53's presentation form with its octal ``\\ooo`` escapes made decimal."""
    return _OCTAL_OR_OTHER.sub(
        lambda m: f"\\{int(m[1], 8):03d}" if len(m[1]) == 3 else m[0], value)
