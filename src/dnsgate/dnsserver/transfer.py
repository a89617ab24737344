"""Zone transfers (AXFR; IXFR answered with a full AXFR) and who may ask for them."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import dns.flags
import dns.message
import dns.name
import dns.rrset

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
    in as few messages as fit.

    A TSIG-signed request gets every message signed, chained per RFC 8945.
    """
    rrsets = [*snapshot, snapshot[0]]
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
