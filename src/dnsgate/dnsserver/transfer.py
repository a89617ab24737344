"""Zone transfers (AXFR, and IXFR from the change journal) and who may ask for them.

IXFR (RFC 1995): a secondary at a serial the journal still reaches back to
gets only the differences, condensed into one (a record changed and changed
back is not sent at all); a secondary already current gets the SOA alone;
any other gets the whole zone.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import dns.flags
import dns.message
import dns.name
import dns.rdata
import dns.rdatatype
import dns.rrset

from dnsgate.db.journal import Entry
from dnsgate.dnsserver.zoneview import to_rrset
from dnsgate.domain.records import RRset

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MESSAGE_BUDGET = 60_000  # bytes of records per message, below the 65,535 limit


@dataclass(frozen=True, slots=True)
class TransferPolicy:
    """A zone's transfer ACL: a listed source address OR a listed TSIG key."""

    networks: tuple[Network, ...] = ()
    keys: frozenset[dns.name.Name] = frozenset()

    def allows(self, peer: str | None, keyname: dns.name.Name | None) -> bool:
        if keyname is not None and keyname in self.keys:
            return True
        if peer is None or not self.networks:
            return False
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address in net for net in self.networks)


def transfer_messages(query: dns.message.Message,
                      snapshot: list[dns.rrset.RRset]) -> list[bytes]:
    """The whole zone (``ZoneView.snapshot()``, SOA first), SOA first and last,
    in as few messages as fit."""
    return _messages(query, [*snapshot, snapshot[0]])


def ixfr_rrsets(soa: dns.rrset.RRset, since: int,
                entries: list[Entry]) -> list[dns.rrset.RRset] | None:
    """The IXFR answer from serial ``since`` to ``soa``'s, condensed into one
    difference (RFC 1995 6): the current SOA, the SOA at ``since``, what was
    deleted since, the current SOA, what was added since, the current SOA.
    None when ``entries`` (the journal after the change that made ``since``)
    do not end at the current serial."""
    current = int(soa[0].serial)
    if not entries or any(entry.serial is None for entry in entries) \
            or entries[-1].serial != current:
        return None
    before: dict[tuple[str, str], RRset | None] = {}
    after: dict[tuple[str, str], RRset | None] = {}
    for entry in entries:
        before.setdefault((entry.name, entry.rtype), entry.old)
        after[(entry.name, entry.rtype)] = entry.new
    deleted: list[dns.rrset.RRset] = []
    added: list[dns.rrset.RRset] = []
    for key, then in before.items():
        old = to_rrset(then) if then is not None else None
        now = after[key]
        new = to_rrset(now) if now is not None else None
        if old is not None and new is not None and old.ttl == new.ttl:
            gone = [rd for rd in old if rd not in new]
            came = [rd for rd in new if rd not in old]
            if gone:
                deleted.append(dns.rrset.from_rdata_list(old.name, old.ttl, gone))
            if came:
                added.append(dns.rrset.from_rdata_list(new.name, new.ttl, came))
            continue
        if old is not None:
            deleted.append(old)
        if new is not None:
            added.append(new)
    return [soa, _soa_at(soa, since), *deleted, soa, *added, soa]


def ixfr_messages(query: dns.message.Message, rrsets: list[dns.rrset.RRset]) -> list[bytes]:
    """An IXFR answer (``ixfr_rrsets``, or the current SOA alone) in messages."""
    return _messages(query, rrsets)


def _soa_at(soa: dns.rrset.RRset, serial: int) -> dns.rrset.RRset:
    return dns.rrset.from_rdata(soa.name, soa.ttl, soa[0].replace(serial=serial))


def _messages(query: dns.message.Message, rrsets: list[dns.rrset.RRset]) -> list[bytes]:
    """``rrsets`` in order, in as few messages as fit.

    A TSIG-signed request gets every message signed, chained per RFC 8945.
    """
    batches: list[list[dns.rrset.RRset]] = [[]]
    size = 0
    for rrset in rrsets:
        estimate = sum(len(rd.to_wire() or b"") + len(rrset.name) + 12 for rd in rrset)
        if batches[-1] and size + estimate > MESSAGE_BUDGET:
            batches.append([])
            size = 0
        batches[-1].append(rrset)
        size += estimate
    out: list[bytes] = []
    tsig_ctx = None
    for batch in batches:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        response.answer.extend(batch)
        # max_size: not the EDNS payload of the request, which is for UDP.
        wire = response.to_wire(max_size=65535, multi=query.had_tsig, tsig_ctx=tsig_ctx)
        tsig_ctx = response.tsig_ctx
        out.append(bytes(wire))
    return out
