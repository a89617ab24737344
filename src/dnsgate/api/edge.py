"""ASGI middleware at the edge: request id, client address, body size limit.

Plain ASGI (not BaseHTTPMiddleware) because it runs on every request and
must stay cheap.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException

from dnsgate.security.client_ip import Network, client_ip

ASGIApp = Any
_LIST_HEADERS = frozenset({b"x-forwarded-for", b"forwarded"})
_WANTED = frozenset({b"x-request-id", b"content-length", *_LIST_HEADERS})
_GOOD_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass(frozen=True, slots=True)
class Edge:
    """What the edge learned about a request; handlers read it from the scope."""

    request_id: str
    client_ip: str | None


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, *, proxies: Sequence[Network], max_body: int) -> None:
        self.app = app
        self.proxies = tuple(proxies)
        self.max_body = max_body

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: dict[bytes, str] = {}
        for raw_key, raw_value in scope.get("headers", ()):
            if raw_key not in _WANTED:  # ASGI header names are lowercase already
                continue
            value = raw_value.decode("latin-1")
            # Repeated proxy headers are one list (RFC 9110 5.3); others: the last wins.
            if raw_key in _LIST_HEADERS and raw_key in headers:
                headers[raw_key] = f"{headers[raw_key]},{value}"
            else:
                headers[raw_key] = value
        incoming = headers.get(b"x-request-id", "")
        request_id = incoming if _GOOD_ID.match(incoming) else secrets.token_hex(16)
        client = scope.get("client")
        peer = client[0] if client else None
        if not self.proxies and peer is not None and ":" not in peer:
            ip: str | None = peer  # plain IPv4 from the socket: nothing to normalize
        else:
            ip = client_ip(peer, headers.get(b"x-forwarded-for"), headers.get(b"forwarded"),
                           self.proxies)
        scope["dnsgate"] = Edge(request_id, ip)
        raw_id = request_id.encode()

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                out = list(message.get("headers", ()))
                if not any(k.lower() == b"x-request-id" for k, _ in out):
                    out.append((b"x-request-id", raw_id))
                message["headers"] = out
            await send(message)

        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await _too_large(send_with_id, request_id, self.max_body)
            return
        seen = 0
        limit = self.max_body

        async def limited_receive() -> dict[str, Any]:
            nonlocal seen
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        try:
            await self.app(scope, limited_receive, send_with_id)
        except BodyTooLarge:
            await _too_large(send_with_id, request_id, self.max_body)


class BodyTooLarge(HTTPException):
    """A chunked body grew past the limit; the framework maps it to a 413 problem."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request bodies are limited to {limit} bytes")


async def _too_large(send: Any, request_id: str, limit: int) -> None:
    body = json.dumps({
        "type": "urn:dnsgate:problem:body_too_large", "title": "Body too large",
        "status": 413, "code": "body_too_large",
        "detail": f"request bodies are limited to {limit} bytes", "request_id": request_id,
    }).encode()
    await send({"type": "http.response.start", "status": 413, "headers": [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
