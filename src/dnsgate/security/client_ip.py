"""The client's address: the socket peer, unless that peer is a trusted proxy.

``X-Forwarded-For`` and ``Forwarded`` are read only when the direct peer is
listed in ``DNSGATE_TRUSTED_PROXIES``; then the rightmost address that is not
itself a trusted proxy is the client (addresses further left are whatever
the client chose to send).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_FOR = re.compile(r'for="?\[?([^\]";,]+)\]?(?::\d+)?"?', re.IGNORECASE)


def _parse(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address; IPv4-mapped IPv6 (a dual-stack socket's view) as plain IPv4."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _without_port(hop: str) -> str:
    """``192.0.2.43:47011`` -> ``192.0.2.43`` (RFC 7239 quotes IPv4 with a port so;
    IPv6 addresses keep their colons: their ports come in brackets)."""
    host, sep, port = hop.strip().rpartition(":")
    if sep and "." in host and ":" not in host and port.isdigit():
        return host
    return hop


def _trusted(addr: ipaddress.IPv4Address | ipaddress.IPv6Address,
             proxies: Sequence[Network]) -> bool:
    return any(addr in net for net in proxies)


def client_ip(peer: str | None, forwarded_for: str | None, forwarded: str | None,
              proxies: Sequence[Network]) -> str | None:
    """The address to authorize and audit a request under."""
    peer_addr = _parse(peer) if peer else None
    if peer_addr is None or not proxies or not _trusted(peer_addr, proxies):
        return str(peer_addr) if peer_addr else peer
    hops: list[str] = []
    if forwarded:
        hops = _FOR.findall(forwarded)
    elif forwarded_for:
        hops = [h for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        addr = _parse(_without_port(hop))
        if addr is None:
            break  # a garbled hop: trust nothing left of it
        if not _trusted(addr, proxies):
            return str(addr)
    return str(peer_addr)
