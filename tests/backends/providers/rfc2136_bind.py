"""The RFC 2136 adapter against a real BIND 9 primary with a TSIG key.

Faults are small DNS servers on their own free loopback ports (TCP and UDP,
one thread each): ``down`` is a port nobody listens on, ``slow`` accepts and
never answers, ``error`` answers SERVFAIL (signed with the key, as BIND
would), ``garbage`` answers random bytes.
"""

from __future__ import annotations

import base64
import contextlib
import secrets
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.tsig

from dnsgate.domain.records import canonical_rdata
from tests.backends.harness import FAULT_TIMEOUT, Fault
from tests.dns.tools import free_dns_port
from tests.support.bind import Bind, start_bind


class FaultDNS:
    """A DNS server on 127.0.0.1:<port> (TCP and UDP) that fails in ``mode``."""

    def __init__(self, mode: Fault, key: dns.tsig.Key) -> None:
        self.mode = mode
        self.key = key
        self.port = free_dns_port()
        self._stopping = threading.Event()
        self._tcp = socket.create_server(("127.0.0.1", self.port))
        self._tcp.settimeout(0.1)
        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._udp.bind(("127.0.0.1", self.port))
        self._udp.settimeout(0.1)
        self._threads = [threading.Thread(target=self._accept, daemon=True),
                         threading.Thread(target=self._datagrams, daemon=True)]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(5)
        self._tcp.close()
        self._udp.close()

    def answer(self, wire: bytes) -> bytes | None:
        """The reply to one query in this mode (None: stay silent)."""
        if self.mode == "slow":
            return None
        if self.mode == "garbage":
            # The query's id and the QR bit, so the parser gets past the id check.
            return wire[:2] + bytes([0x80 | secrets.randbits(7)]) + secrets.token_bytes(45)
        try:
            query = dns.message.from_wire(wire, keyring=self.key)
        except dns.exception.DNSException:
            query = dns.message.from_wire(wire, keyring=False)
        response = dns.message.make_response(query)  # signed if the query was
        response.set_rcode(dns.rcode.SERVFAIL)
        return response.to_wire()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._tcp.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(0.1)
        buffer = b""
        with conn:
            while not self._stopping.is_set():
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not data:
                    return
                buffer += data
                while len(buffer) >= 2 and len(buffer) >= 2 + struct.unpack("!H", buffer[:2])[0]:
                    size = struct.unpack("!H", buffer[:2])[0]
                    wire, buffer = buffer[2:2 + size], buffer[2 + size:]
                    reply = self.answer(wire)
                    if reply is None:
                        continue
                    conn.sendall(struct.pack("!H", len(reply)) + reply)
                    if self.mode == "garbage":
                        return

    def _datagrams(self) -> None:
        while not self._stopping.is_set():
            try:
                wire, peer = self._udp.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            reply = self.answer(wire)
            if reply is not None:
                self._udp.sendto(reply, peer)


class BindHarness:
    provider = "rfc2136"

    def __init__(self, bind: Bind) -> None:
        self.bind = bind

    def key(self) -> dns.tsig.Key:
        return dns.tsig.Key(self.bind.key_name, self.bind.key_secret, self.bind.algorithm)

    def config(self) -> dict[str, Any]:
        if not self.bind.handed_out:  # a configuration lists at least one zone
            self.bind.new_zone()
        return {"server": "127.0.0.1", "port": self.bind.port,
                "tsig_key_name": self.bind.key_name, "tsig_secret": self.bind.key_secret,
                "tsig_algorithm": self.bind.algorithm, "zones": list(self.bind.handed_out)}

    def bad_credentials(self) -> dict[str, Any]:
        wrong = secrets.token_bytes(32)
        return {**self.config(), "tsig_secret": base64.b64encode(wrong).decode()}

    def new_zone(self) -> str:
        return self.bind.new_zone()

    @contextlib.contextmanager
    def fault(self, mode: Fault) -> Iterator[dict[str, Any]]:
        config = {**self.config(), "timeout": FAULT_TIMEOUT}
        if mode == "down":
            yield {**config, "port": free_dns_port()}
            return
        server = FaultDNS(mode, self.key())
        try:
            yield {**config, "port": server.port}
        finally:
            server.stop()

    def lookup(self, zone: str, name: str, rtype: str) -> list[str]:
        response = self.bind.query(name, rtype)
        assert response.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN), response
        owner = dns.name.from_text(name)
        wanted = dns.rdatatype.from_text(rtype)
        return sorted(canonical_rdata(rtype, rd.to_text()) for rrset in response.answer
                      if rrset.name == owner and rrset.rdtype == wanted for rd in rrset)

    def stop(self) -> None:
        self.bind.stop()


def start(workdir: Path) -> BindHarness:
    return BindHarness(start_bind(workdir / "bind"))
