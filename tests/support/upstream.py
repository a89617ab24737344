"""A tiny HTTP upstream on 127.0.0.1, in the test's own event loop.

It counts every connection it accepts and records every request, so a test
can prove that a refused connection never reached it; ``answer`` decides
each response: ``(status, body)``, ``(status, body, headers)``, or ``STALL``
(read the request, never answer). ``tls`` serves HTTPS with a self-signed
certificate for ``localhost`` and records the SNI each client sent.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STALL = "stall"
Answer = tuple[int, Any] | tuple[int, Any, dict[str, str]] | str


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


def pdns_like(request: Request) -> Answer:
    """What a PowerDNS API answers (enough for check, zones, read and PATCH)."""
    if request.path.endswith("/servers/localhost"):
        return 200, {"id": "localhost", "version": "4.9-SECRET-BANNER"}
    if request.path.endswith("/zones"):
        return 200, [{"name": "own.test."}]
    if request.method == "PATCH":
        return 204, b""
    return 200, {"name": "own.test.", "rrsets": []}


@dataclass
class Upstream:
    answer: Callable[[Request], Answer] = pdns_like
    connections: int = 0
    requests: list[Request] = field(default_factory=list)
    server_names: list[str | None] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _stalled: list[asyncio.StreamWriter] = field(default_factory=list)
    _open: dict[asyncio.Task[None], asyncio.StreamWriter] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, *, tls_dir: Path | None = None, host: str = "127.0.0.1") -> Upstream:
        context = _tls_context(tls_dir, self.server_names) if tls_dir else None
        self._server = await asyncio.start_server(self._handle, host, 0, ssl=context)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Close every connection and let its handler end (a handler still
        running when the loop closes would be cancelled, which asyncio logs)."""
        if self._server is not None:
            self._server.close()
        for writer in [*self._stalled, *self._open.values()]:
            writer.close()
        if self._open:
            await asyncio.wait(list(self._open), timeout=5)
        if self._server is not None:
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._open[task] = writer
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                method, path, _ = line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    key, _, value = header.decode("latin-1").partition(":")
                    headers[key.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                request = Request(method, path, headers, body)
                self.requests.append(request)
                answer = self.answer(request)
                if answer == STALL:
                    self._stalled.append(writer)
                    return
                writer.write(_response(answer))
                await writer.drain()
        except (ConnectionError, ValueError, asyncio.IncompleteReadError, ssl.SSLError,
                asyncio.CancelledError):
            pass
        finally:
            self._open.pop(task, None)
            if writer not in self._stalled:
                writer.close()


def _response(answer: Answer) -> bytes:
    assert not isinstance(answer, str)
    status, body, *rest = answer
    headers = dict(rest[0]) if rest else {}
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    if not isinstance(body, bytes):
        headers.setdefault("Content-Type", "application/json")
    lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(data)}",
             *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


def _tls_context(directory: Path, server_names: list[str | None]) -> ssl.SSLContext:
    """A self-signed certificate for ``localhost`` (no client trusts it)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    def seen(_sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        server_names.append(name)

    context.sni_callback = seen
    return context
