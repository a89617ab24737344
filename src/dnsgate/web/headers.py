"""Security headers on every response of the web UI, and whether a request came over https.

Plain ASGI so pages, static files and error pages alike get them. The CSP
allows no inline script or style at all: every script is a file under
``/ui/static`` and htmx is configured through a ``<meta>`` tag.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from dnsgate.security.client_ip import Network, ProxyHeader

CSP = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "font-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
))
HSTS = "max-age=31536000"
HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"permissions-policy",
     b"camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


def is_https(scope: Mapping[str, Any], proxies: Sequence[Network],
             header: ProxyHeader = "x-forwarded-for") -> bool:
    """Whether the browser talks https to us: the socket's scheme, or -- only
    from a trusted proxy -- what the proxy's own header family says:
    ``X-Forwarded-Proto`` beside ``X-Forwarded-For``, ``Forwarded: proto=``
    with ``Forwarded`` (``DNSGATE_PROXY_HEADER``; the other is the client's)."""
    if scope.get("scheme") == "https":
        return True
    if not _from_trusted_proxy(scope, proxies):
        return False
    for key, value in scope.get("headers", ()):
        if key == b"x-forwarded-proto" and header == "x-forwarded-for":
            return bool(value.decode("latin-1").split(",")[-1].strip().lower() == "https")
        if key == b"forwarded" and header == "forwarded":
            last = value.decode("latin-1").split(",")[-1]
            for part in last.split(";"):
                name, _, val = part.strip().partition("=")
                if name.lower() == "proto":
                    return bool(val.strip('"').lower() == "https")
    return False


def _from_trusted_proxy(scope: Mapping[str, Any], proxies: Sequence[Network]) -> bool:
    client = scope.get("client")
    if not client or not proxies:
        return False
    try:
        peer = ipaddress.ip_address(client[0])
    except ValueError:
        return False
    if isinstance(peer, ipaddress.IPv6Address) and peer.ipv4_mapped is not None:
        peer = peer.ipv4_mapped
    return any(peer in net for net in proxies)


class SecurityHeaders:
    """Adds :data:`HEADERS` (and HSTS over https) to every response; no-store on pages."""

    def __init__(self, app: Any, *, proxies: Sequence[Network],
                 proxy_header: ProxyHeader = "x-forwarded-for") -> None:
        self.app = app
        self.proxies = tuple(proxies)
        self.proxy_header = proxy_header

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = is_https(scope, self.proxies, self.proxy_header)
        static = "/static/" in scope.get("path", "")

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                out = [(k, v) for k, v in message.get("headers", ())
                       if k.lower() not in _OURS]
                out.extend(HEADERS)
                if https:
                    out.append((b"strict-transport-security", HSTS.encode()))
                if not static:  # pages may show secrets: never from a cache
                    out.append((b"cache-control", b"no-store"))
                message["headers"] = out
            await send(message)

        await self.app(scope, receive, send_with_headers)


_OURS = frozenset({k for k, _ in HEADERS} | {b"strict-transport-security"})
