"""Where a backend an account brought may connect: public unicast addresses only.

An account's own backend (bring your own DNS) is a URL or a host the account
chose. Unchecked, dnsgate would connect wherever it points on the account's
behalf: loopback, the LAN, a cloud metadata service. So such a backend reaches
only addresses :func:`is_allowed` accepts, unless the operator opened more
(``DNSGATE_BYOD_ALLOW_NETWORKS``). Platform backends (an admin's) are not
limited.

The address checked is the address connected to: a name is resolved once,
every address it resolves to is checked (one refused address refuses them
all), and the connection goes to a checked address, never to the name again,
so a DNS answer that changes in between (rebinding) cannot slip past. TLS
still verifies the host name of the URL. Adapters follow no redirects.

- :func:`is_allowed`: the pure policy (the table below).
- :class:`Egress`: the policy with the operator's networks, and the helpers:
  :meth:`Egress.resolve` for clients handed an address (dnspython),
  :meth:`Egress.connector` for aiohttp (a resolver that checks what it
  returns, and a socket factory that checks each address a socket connects
  to, which also covers IP literals: aiohttp does not resolve those).

Refused, whatever the form the address takes (IPv4-mapped ``::ffff:a.b.c.d``,
NAT64 ``64:ff9b::/96`` and 6to4 ``2002::/16`` are judged by the IPv4 address
they carry):

    range                          why
    0.0.0.0/8, ::/8 (rest)         this host, unspecified, IPv4-compatible
    127.0.0.0/8, ::1               loopback
    10/8, 172.16/12, 192.168/16    private (RFC 1918)
    fc00::/7                       unique local (ULA)
    169.254/16, fe80::/10          link-local (169.254.169.254: cloud metadata)
    fec0::/10                      site-local (deprecated)
    100.64.0.0/10                  shared address space (CGNAT)
    224.0.0.0/4, ff00::/8          multicast
    240.0.0.0/4                    reserved, and 255.255.255.255 broadcast
    192.0.0.0/24, 2001::/23        IETF protocol assignments (Teredo among them)
    192.0.2/24, 198.51.100/24,     documentation
      203.0.113/24, 2001:db8::/32,
      3fff::/20
    198.18.0.0/15                  benchmarking
    192.88.99.0/24                 6to4 relay anycast (deprecated)
    100::/64                       discard
    64:ff9b:1::/48                 local-use NAT64
    outside 2000::/3               not IPv6 global unicast
    what ``ipaddress`` does not call global
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from dnsgate.domain.errors import BackendUnavailable

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

REFUSED = "cannot connect: the provider's address is not open to account-owned backends"
UNRESOLVED = "cannot connect: the provider's host name does not resolve"

_V4 = tuple(ipaddress.IPv4Network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
    "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4"))
_V6 = tuple(ipaddress.IPv6Network(n) for n in (
    "::/8", "100::/64", "2001::/23", "2001:db8::/32", "3fff::/20", "fc00::/7", "fe80::/10",
    "fec0::/10", "ff00::/8"))
_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class EgressRefused(BackendUnavailable):
    """An account's own backend would connect to an address it may not reach.

    ``field``: the configuration field that names the address, when known;
    ``reason``: why, for the person who typed it."""

    def __init__(self, address: str, *, field: str | None = None,
                 reason: str = "not a public address; an account's own backend reaches "
                               "public addresses only") -> None:
        super().__init__(REFUSED, detail=f"refused address {address}")
        self.address = address
        self.field = field
        self.reason = reason


def parse(address: str | Address) -> Address | None:
    """An address from text (a zone id such as ``%eth0`` dropped); None if it is none."""
    if isinstance(address, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return address
    try:
        return ipaddress.ip_address(address.split("%", 1)[0].strip("[]"))
    except ValueError:
        return None


def embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, NAT64, 6to4), if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def is_allowed(address: str | Address, extra_networks: Iterable[Network] = ()) -> bool:
    """May an account's own backend connect to ``address``?

    Public unicast addresses only (the module's table), plus the operator's
    ``extra_networks``. Anything that is not an IP address is refused.
    """
    parsed = parse(address)
    if parsed is None:
        return False
    inner = embedded_ipv4(parsed)
    extra = tuple(extra_networks)
    if any(a.version == n.version and a in n for a in (parsed, inner) if a is not None
           for n in extra):
        return True
    if isinstance(parsed, ipaddress.IPv4Address):
        return _public_v4(parsed)
    if inner is None:
        return _public_v6(parsed)
    if parsed.ipv4_mapped is not None or parsed in _NAT64:
        return _public_v4(inner)  # the IPv4 address is where the packets go
    return _public_v6(parsed) and _public_v4(inner)  # 6to4: the relay and the host


def _public_v4(address: ipaddress.IPv4Address) -> bool:
    return address.is_global and not any(address in n for n in _V4)


def _public_v6(address: ipaddress.IPv6Address) -> bool:
    return (address in _GLOBAL_UNICAST and address.is_global
            and not any(address in n for n in _V6))


def networks(text: str) -> tuple[Network, ...]:
    """Comma-separated CIDRs (``DNSGATE_BYOD_ALLOW_NETWORKS``); ValueError on a bad one."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False)
                 for part in text.split(",") if part.strip())


@dataclass(frozen=True, slots=True)
class Egress:
    """The policy for account-owned backends, with the operator's extra networks."""

    extra_networks: tuple[Network, ...] = ()

    def allows(self, address: str | Address) -> bool:
        return is_allowed(address, self.extra_networks)

    def require(self, address: str, *, field: str | None = None) -> str:
        """``address`` itself, or EgressRefused."""
        if not self.allows(address):
            raise EgressRefused(address, field=field)
        return address

    def require_literal(self, host: str | None, *, field: str | None = None) -> None:
        """Refuse ``host`` now if it is an IP address that is not allowed (a name
        is resolved and checked at each connection)."""
        if host and parse(host) is not None:
            self.require(host, field=field)

    async def resolve(self, host: str, port: int) -> list[str]:
        """The addresses of ``host``, resolved once, every one checked: connect to
        one of these, never to ``host`` again."""
        if parse(host) is not None:
            return [self.require(host)]
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM)
        except OSError as exc:  # gaierror: the name does not resolve
            raise BackendUnavailable(UNRESOLVED, detail=f"cannot resolve {host}: {exc}"
                                     ) from exc
        found = list(dict.fromkeys(str(info[4][0]) for info in infos))
        for address in found:
            self.require(address)
        return found

    def connector(self) -> aiohttp.TCPConnector:
        """An aiohttp connector that connects to checked addresses only.

        Call it inside the running event loop (as aiohttp sessions are made).
        """
        return aiohttp.TCPConnector(resolver=_CheckingResolver(self),
                                    socket_factory=self._socket)

    def _socket(self, addr_info: Any) -> socket.socket:
        # The last word: the very address this socket is about to connect to.
        family, type_, proto, _, sockaddr = addr_info
        self.require(str(sockaddr[0]))
        return socket.socket(family=family, type=type_, proto=proto)


class _CheckingResolver(AbstractResolver):
    """The system resolver (in a thread, like aiohttp's default), with every
    address checked before aiohttp may connect to one; aiohttp then connects
    to these addresses and verifies TLS against the URL's host name."""

    def __init__(self, egress: Egress) -> None:
        self._egress = egress
        self._inner = aiohttp.ThreadedResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        for info in found:
            self._egress.require(info["host"])
        return found

    async def close(self) -> None:
        await self._inner.close()
