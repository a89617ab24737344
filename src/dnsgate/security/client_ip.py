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
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


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
        addr = _parse(hop)
        if addr is None:
            break  # a garbled hop: trust nothing left of it
        if not _trusted(addr, proxies):
            return str(addr)
    return str(peer_addr)
