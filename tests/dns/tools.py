"""Helpers of the DNS server tests: ``dig`` run without blocking the event loop
(the server under test may live in the same loop), its output parsed, raw UDP
and TCP exchanges, and free ports for both protocols."""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import socket
import struct
from dataclasses import dataclass, field

import dns.message

DIG_TIMEOUT = 15.0


def require_tool(name: str) -> str:
    """The path of a program the tests need; a missing one fails the test loudly."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    assert path, f"{name} is required (scripts/test installs it with its Debian package)"
    return path


def free_dns_port(host: str = "127.0.0.1") -> int:
    """A port free for both UDP and TCP on ``host``."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((host, 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((host, port))
                except OSError:
                    continue
                return port
    raise AssertionError("no port free for both UDP and TCP")


@dataclass
class Record:
    name: str
    ttl: int
    rdclass: str
    type: str
    data: str


@dataclass
class Dig:
    """What dig printed, in pieces."""

    text: str
    status: str = ""
    flags: set[str] = field(default_factory=set)
    question: list[str] = field(default_factory=list)
    answer: list[Record] = field(default_factory=list)
    authority: list[Record] = field(default_factory=list)
    additional: list[Record] = field(default_factory=list)
    edns_udp: int | None = None
    size: int | None = None
    retried_over_tcp: bool = False

    def rdata(self, section: str = "answer", type: str | None = None) -> set[str]:
        records: list[Record] = getattr(self, section)
        return {r.data for r in records if type is None or r.type == type}

    def __str__(self) -> str:
        return self.text


_SECTIONS = {"QUESTION": "question", "ANSWER": "answer", "AUTHORITY": "authority",
             "ADDITIONAL": "additional"}


def parse_dig(text: str) -> Dig:
    out = Dig(text)
    status = re.search(r"status: (\w+)", text)
    assert status, f"dig printed no answer:\n{text}"
    out.status = status.group(1)
    flags = re.search(r";; flags:([a-z ]*);", text)
    assert flags, text
    out.flags = set(flags.group(1).split())
    udp = re.search(r"; EDNS: version: \d+, flags:[a-z ]*; udp: (\d+)", text)
    out.edns_udp = int(udp.group(1)) if udp else None
    size = re.search(r";; MSG SIZE\s+rcvd: (\d+)", text)
    out.size = int(size.group(1)) if size else None
    out.retried_over_tcp = "Truncated, retrying in TCP mode" in text
    section = None
    for line in text.splitlines():
        header = re.match(r";; (\w+) SECTION:", line)
        if header:
            section = _SECTIONS.get(header.group(1))
            continue
        if not line.strip():
            section = None
            continue
        if section == "question":
            out.question.append(line.lstrip(";").split()[0])
        elif section is not None and not line.startswith(";"):
            name, ttl, rdclass, rtype, *data = line.split(None, 4)
            getattr(out, section).append(
                Record(name, int(ttl), rdclass, rtype, data[0].strip() if data else ""))
    return out


def parse_records(text: str) -> list[Record]:
    """The resource records of dig's zone transfer output (one per line)."""
    out = []
    for line in text.splitlines():
        if line.strip() and not line.startswith(";"):
            name, ttl, rdclass, rtype, data = line.split(None, 4)
            out.append(Record(name, int(ttl), rdclass, rtype, data.strip()))
    return out


async def dig_text(port: int, *args: str, server: str = "127.0.0.1") -> str:
    """What ``dig @server -p port ARGS`` prints, run without blocking the loop."""
    exe = require_tool("dig")
    process = await asyncio.create_subprocess_exec(
        exe, f"@{server}", "-p", str(port), "+time=3", "+tries=2", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), DIG_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"dig {' '.join(args)} hung") from None
    text = stdout.decode()
    assert process.returncode == 0, f"dig {' '.join(args)} failed:\n{text}{stderr.decode()}"
    return text


async def dig(port: int, *args: str, server: str = "127.0.0.1") -> Dig:
    """``dig @server -p port ARGS``, parsed."""
    return parse_dig(await dig_text(port, *args, server=server))


class _Receiver(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: object) -> None:
        self.queue.put_nowait(data)


class UdpClient:
    """One UDP socket to the server: send raw bytes, read raw replies."""

    def __init__(self, transport: asyncio.DatagramTransport, receiver: _Receiver) -> None:
        self.transport = transport
        self.receiver = receiver

    @classmethod
    async def open(cls, port: int, host: str = "127.0.0.1",
                   source: str = "127.0.0.1") -> UdpClient:
        loop = asyncio.get_running_loop()
        transport, receiver = await loop.create_datagram_endpoint(
            _Receiver, local_addr=(source, 0), remote_addr=(host, port))
        return cls(transport, receiver)

    def send(self, wire: bytes) -> None:
        self.transport.sendto(wire)

    async def receive(self, wait: float = 2.0) -> bytes | None:
        try:
            return await asyncio.wait_for(self.receiver.queue.get(), wait)
        except TimeoutError:
            return None

    async def exchange(self, wire: bytes, wait: float = 2.0) -> bytes | None:
        """Send one message and wait for one reply (None: nothing came back)."""
        while not self.receiver.queue.empty():
            self.receiver.queue.get_nowait()
        self.send(wire)
        return await self.receive(wait)

    def close(self) -> None:
        self.transport.close()


async def udp_exchange(port: int, wire: bytes, wait: float = 2.0,
                       source: str = "127.0.0.1") -> bytes | None:
    client = await UdpClient.open(port, source=source)
    try:
        return await client.exchange(wire, wait)
    finally:
        client.close()


async def tcp_exchange(port: int, wire: bytes, *, count: int = 1, wait: float = 5.0,
                       more: float = 0.3, source: str = "127.0.0.1") -> list[bytes]:
    """Send one length-prefixed message over TCP and read up to ``count`` replies.

    Fewer come back when the server closes the connection or stays silent for
    ``more`` seconds after the first reply; none when it is silent for ``wait``.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port,
                                                   local_addr=(source, 0))
    replies: list[bytes] = []
    try:
        try:
            writer.write(struct.pack("!H", len(wire)) + wire)
            await writer.drain()
        except ConnectionError:
            return replies
        for _ in range(count):
            try:
                header = await asyncio.wait_for(reader.readexactly(2),
                                                more if replies else wait)
                replies.append(await asyncio.wait_for(
                    reader.readexactly(struct.unpack("!H", header)[0]), wait))
            except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
                break
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return replies


def parse(wire: bytes, **kwargs: object) -> dns.message.Message:
    return dns.message.from_wire(wire, **kwargs)  # type: ignore[arg-type]
