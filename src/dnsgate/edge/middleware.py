"""ASGI middleware at the edge: request id, client address, URL text, body size limit.

Plain ASGI (not BaseHTTPMiddleware) because it runs on every request and
must stay cheap.

A URL whose path or query holds a NUL character, or a path that is not
valid Unicode (lone surrogates), is refused here with 422 on every surface:
no handler, and no database, ever sees such text. (Bytes that are not UTF-8
reach the handlers as U+FFFD, which the servers decode them to.)
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException

from dnsgate.security.client_ip import Network, ProxyHeader, client_ip

ASGIApp = Any
#: ``on_refused(scope, status, code)``: a refusal the edge answered itself.
OnRefused = Callable[[dict[str, Any], int, str], None]
_GOOD_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass(frozen=True, slots=True)
class Edge:
    """What the edge learned about a request; handlers read it from the scope."""

    request_id: str
    client_ip: str | None


def clean_url(scope: dict[str, Any]) -> bool:
    """No NUL in the path or the query, and a path that encodes as UTF-8."""
    path: str = scope.get("path", "")
    if "\x00" in path or b"%00" in scope.get("query_string", b""):
        return False
    if not path.isascii():
        try:
            path.encode("utf-8")
        except UnicodeEncodeError:
            return False
    return True


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, *, proxies: Sequence[Network], max_body: int,
                 proxy_header: ProxyHeader = "x-forwarded-for",
                 on_refused: OnRefused | None = None) -> None:
        self.app = app
        self.proxies = tuple(proxies)
        self.max_body = max_body
        self.proxy_header = proxy_header
        # The one proxy header read, and only with trusted proxies configured.
        self._list_header = proxy_header.encode() if self.proxies else None
        self._wanted = frozenset({b"x-request-id", b"content-length"}
                                 | ({self._list_header} if self._list_header else set()))
        self.on_refused = on_refused

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: dict[bytes, str] = {}
        for raw_key, raw_value in scope.get("headers", ()):
            if raw_key not in self._wanted:  # ASGI header names are lowercase already
                continue
            value = raw_value.decode("latin-1")
            # A repeated proxy header is one list (RFC 9110 5.3); others: the last wins.
            if raw_key == self._list_header and raw_key in headers:
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
            forwarded = headers.get(self._list_header) if self._list_header else None
            ip = client_ip(peer, forwarded, self.proxies, header=self.proxy_header)
        scope["dnsgate"] = Edge(request_id, ip)
        raw_id = request_id.encode()

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                out = list(message.get("headers", ()))
                if not any(k.lower() == b"x-request-id" for k, _ in out):
                    out.append((b"x-request-id", raw_id))
                message["headers"] = out
            await send(message)

        if not clean_url(scope):
            if self.on_refused is not None:
                self.on_refused(scope, 422, "invalid_request")
            await _problem(send_with_id, request_id, 422, "invalid_request",
                           "the URL holds a NUL character or text that is not Unicode")
            return
        length = headers.get(b"content-length")
        if length is not None and (not (length.isascii() and length.isdigit())
                                   or int(length) > self.max_body):
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
    await _problem(send, request_id, 413, "body_too_large",
                   f"request bodies are limited to {limit} bytes", title="Body too large")


async def _problem(send: Any, request_id: str, status: int, code: str, detail: str, *,
                   title: str | None = None) -> None:
    """A problem document sent from here, before any app could answer."""
    body = json.dumps({
        "type": f"urn:dnsgate:problem:{code}",
        "title": title or code.replace("_", " ").capitalize(),
        "status": status, "code": code, "detail": detail, "request_id": request_id,
    }).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
