"""The client's address: the socket peer, unless that peer is a trusted proxy.

From a peer listed in ``DNSGATE_TRUSTED_PROXIES`` exactly one header is read:
the one the proxy sets, named by ``DNSGATE_PROXY_HEADER`` --
``X-Forwarded-For`` (the default) or ``Forwarded`` (RFC 7239). The other is
ignored whatever it says: a proxy that appends to X-Forwarded-For passes a
client's own ``Forwarded`` through untouched, so reading both would let the
client choose its address. Within the header the rightmost address that is
not itself a trusted proxy is the client (addresses further left are
whatever the client chose to send).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from typing import Literal

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
ProxyHeader = Literal["x-forwarded-for", "forwarded"]
PROXY_HEADERS: tuple[ProxyHeader, ...] = ("x-forwarded-for", "forwarded")
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


def hops(header: ProxyHeader, value: str | None) -> list[str]:
    """The addresses a proxy header lists, leftmost (farthest) first, unparsed."""
    if not value:
        return []
    if header == "forwarded":
        return [str(hop) for hop in _FOR.findall(value)]
    return [hop for hop in value.split(",") if hop.strip()]


def client_ip(peer: str | None, forwarded: str | None, proxies: Sequence[Network], *,
              header: ProxyHeader = "x-forwarded-for") -> str | None:
    """The address to authorize and audit a request under.

    ``forwarded``: the value of the one proxy header (``header``) as received,
    repeated fields joined with commas."""
    peer_addr = _parse(peer) if peer else None
    if peer_addr is None or not proxies or not _trusted(peer_addr, proxies):
        return str(peer_addr) if peer_addr else peer
    for hop in reversed(hops(header, forwarded)):
        addr = _parse(_without_port(hop))
        if addr is None:
            break  # a garbled hop: trust nothing left of it
        if not _trusted(addr, proxies):
            return str(addr)
    return str(peer_addr)
