"""The embedded authoritative DNS server: UDP and TCP on asyncio.

Hot path: a query whose bytes (ID and name case aside) were answered before
is served from a wire cache by splicing its ID and question name into the
cached response; every zone change clears the cache. Anything else goes
through dnspython and ``answer.answer``. Nothing a client sends can crash the
server: malformed input gets FORMERR (or is dropped when not even the header
is there), unsupported opcodes NOTIMP, foreign zones REFUSED.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsig

from dnsgate.dnsserver.answer import answer, find_zone
from dnsgate.dnsserver.store import ZoneStore
from dnsgate.dnsserver.transfer import (
    TransferPolicy,
    ixfr_messages,
    ixfr_rrsets,
    transfer_messages,
)
from dnsgate.dnsserver.zoneview import Name, ZoneView
from dnsgate.observability import metrics

log = logging.getLogger("dnsgate.dns")

CACHE_BYTES = 16 * 1024 * 1024  # keys + answers; cleared whole when full
TCP_IDLE_SECONDS = 10.0
MAX_TCP_CLIENTS = 256
OUR_PAYLOAD = 1232
#: A UDP answer is never truncated below this, nor below the size the query's
#: EDNS offers up to OUR_PAYLOAD (the DNS Flag Day 2020 size, free of IP
#: fragmentation): the amplification cap applies only above that floor.
UDP_FLOOR = 512
#: No real query (a question, OPT with cookie/padding, TSIG) comes near this;
#: a larger one is answered FORMERR unparsed and never becomes a cache key.
MAX_QUERY_SIZE = 4096
Views = Mapping[Name, ZoneView]
_NOT_ASKABLE = {dns.rdatatype.OPT, dns.rdatatype.TSIG, dns.rdatatype.TKEY}


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 5353
    #: UDP answers to unauthenticated queries above the floor (512 bytes, or
    #: the EDNS size the query offers up to OUR_PAYLOAD) are at most this many
    #: times the query's size (anti-amplification); larger answers are
    #: truncated (TC=1) and the client retries over TCP. 0 turns the cap off.
    amplification: int = 4
    #: Open TCP connections one source address may hold (of MAX_TCP_CLIENTS);
    #: more are closed at once, so one client cannot take them all.
    tcp_per_client: int = 8


def _question_name_end(wire: bytes) -> int:
    """Offset just past the first question's name, or -1 if it is not plain labels."""
    pos = 12
    end = len(wire)
    while pos < end:
        length = wire[pos]
        if length == 0:
            return pos + 1
        if length > 63:  # a compression pointer or reserved bits: take the slow path
            return -1
        pos += length + 1
    return -1


def _render_within(response: dns.message.Message, limit: int) -> bytes | None:
    """The response's wire form if it fits in ``limit`` bytes, else None."""
    try:
        out = bytes(response.to_wire(max_size=limit))
    except dns.exception.TooBig:
        return None
    return out if len(out) <= limit else None


def _header_error(wire: bytes, rcode: int) -> bytes | None:
    """A bare response (no sections) for a query too broken to parse."""
    if len(wire) < 12:
        return None
    flags = (wire[2] & 0x79) | 0x80  # keep opcode and RD, set QR
    return wire[:2] + bytes([flags, rcode & 0x0F]) + b"\x00" * 8


def _tsig_error(wire: bytes, exc: Exception) -> bytes | None:
    """RFC 8945 5.2: NOTAUTH with the question and an unsigned TSIG carrying the
    error (BADKEY, BADSIG, BADTIME), so the client can tell what went wrong."""
    try:
        query = dns.message.from_wire(wire, keyring=False)  # parse, do not verify
    except Exception:
        return _header_error(wire, dns.rcode.NOTAUTH)
    if query.tsig is None or len(query.question) > 1:
        return _header_error(wire, dns.rcode.NOTAUTH)
    if isinstance(exc, dns.message.UnknownTSIGKey):
        error = dns.rcode.BADKEY
    elif isinstance(exc, dns.tsig.BadTime):
        error = dns.rcode.BADTIME
    else:
        error = dns.rcode.BADSIG
    response = dns.message.make_response(query, our_payload=OUR_PAYLOAD, pad=0)
    response.set_rcode(dns.rcode.NOTAUTH)
    rdata = query.tsig[0].replace(mac=b"", error=error, other=b"")
    response.tsig = dns.rrset.from_rdata(query.tsig.name, 0, rdata)
    return bytes(response.to_wire(max_size=65535))


class DnsServer:
    """Answers for the zones of a ZoneStore."""

    def __init__(self, store: ZoneStore, config: ServerConfig,
                 policy: Callable[[str], TransferPolicy | None] | None = None) -> None:
        self.store = store
        self.config = config
        self.transfer_policy = policy or (lambda _zone: None)
        self.keyring: dict[dns.name.Name, dns.tsig.Key] = {}
        self._cache: dict[tuple[Any, ...], bytes] = {}
        self._cache_bytes = 0
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._tcp_clients: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        self._tcp_per_peer: dict[str | None, int] = {}
        store.on_change(lambda _zone: self.clear_cache())

    # --- lifecycle -------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        # Port 0 picks a free UDP port, which TCP may have in use: then try another.
        for attempt in range(1 if self.config.port else 20):
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _UdpProtocol(self), local_addr=(self.config.host, self.config.port))
            try:
                self._tcp = await asyncio.start_server(
                    self._serve_tcp, self.config.host, transport.get_extra_info("sockname")[1])
            except OSError:
                transport.close()
                if self.config.port or attempt == 19:
                    raise
                continue
            self._udp = transport
            return

    @property
    def port(self) -> int:
        assert self._udp is not None
        return int(self._udp.get_extra_info("sockname")[1])

    async def stop(self) -> None:
        """Close the sockets and every open TCP connection, and wait for their
        handlers: a connection left open keeps the event loop from closing."""
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()
        for writer in list(self._tcp_clients.values()):
            writer.close()
        if self._tcp_clients:
            await asyncio.wait(list(self._tcp_clients), timeout=TCP_IDLE_SECONDS)

    def clear_cache(self) -> None:
        self._cache.clear()
        self._cache_bytes = 0

    # --- one message -----------------------------------------------------

    def handle(self, wire: bytes, *, tcp: bool, peer: str | None) -> bytes | None:
        """The response to one query message (None: drop it)."""
        if len(wire) < 12 or wire[2] & 0x80:  # no header, or a response: drop
            return None
        self.store.sync()  # committed changes first: the cache must not answer for them
        if len(wire) > MAX_QUERY_SIZE:
            return _header_error(wire, dns.rcode.FORMERR)
        name_end = _question_name_end(wire) if wire[4:6] == b"\x00\x01" else -1
        key: tuple[Any, ...] | None = None
        if name_end > 0:
            key = (tcp, wire[2:12], wire[12:name_end].lower(), wire[name_end:])
            cached = self._cache.get(key)
            if cached is not None:
                return wire[:2] + cached[2:12] + wire[12:name_end] + cached[name_end:]
        # Under the store's lock: a change applied meanwhile (which clears the
        # cache) cannot slip between this answer and its cache entry.
        with self.store.reading() as views:
            try:
                out, cacheable = self._respond(wire, views, tcp=tcp, peer=peer)
            except Exception:  # never let one packet take the server down
                log.exception("error answering a DNS query")
                return _header_error(wire, dns.rcode.SERVFAIL)
            if out is not None and cacheable and key is not None:
                size = len(wire) + len(out)
                if self._cache_bytes + size > CACHE_BYTES:
                    self.clear_cache()
                self._cache[key] = out
                self._cache_bytes += size
        return out

    def _respond(self, wire: bytes, views: Views, *, tcp: bool, peer: str | None
                 ) -> tuple[bytes | None, bool]:
        try:
            query = dns.message.from_wire(wire, keyring=self.keyring or None)
        except (dns.message.UnknownTSIGKey, dns.tsig.BadSignature, dns.tsig.BadTime,
                dns.tsig.PeerError) as exc:
            return _tsig_error(wire, exc), False
        except Exception:
            # An opcode we do not implement (UPDATE's sections parse differently)
            # is NOTIMP whether or not it parses as a query.
            opcode = dns.opcode.from_flags(int.from_bytes(wire[2:4], "big"))
            rcode = dns.rcode.FORMERR if opcode == dns.opcode.QUERY else dns.rcode.NOTIMP
            return _header_error(wire, rcode), False
        # No RFC 8467 padding: it is for encrypted transports, and 468-byte
        # blocks would defeat the amplification cap.
        response = dns.message.make_response(query, our_payload=OUR_PAYLOAD, pad=0)
        if query.opcode() != dns.opcode.QUERY:
            response.set_rcode(dns.rcode.NOTIMP)
            return self._render(response, query, wire, tcp), False
        if len(query.question) != 1 or query.answer or (
                query.authority and query.question[0].rdtype != dns.rdatatype.IXFR):
            return _header_error(wire, dns.rcode.FORMERR), False  # IXFR carries a SOA
        if query.edns > 0:
            response.set_rcode(dns.rcode.BADVERS)
            return self._render(response, query, wire, tcp), False
        question = query.question[0]
        if question.rdclass != dns.rdataclass.IN:
            response.set_rcode(dns.rcode.REFUSED)
            return self._render(response, query, wire, tcp), not query.had_tsig
        if question.rdtype in _NOT_ASKABLE:
            response.set_rcode(dns.rcode.FORMERR)
            return self._render(response, query, wire, tcp), False
        if question.rdtype in (dns.rdatatype.AXFR, dns.rdatatype.IXFR):
            return self._transfer_over_udp(query, response, wire, views, peer), False
        answer(views, query, response)
        return self._render(response, query, wire, tcp), not query.had_tsig

    def _render(self, response: dns.message.Message, query: dns.message.Message,
                wire: bytes, tcp: bool) -> bytes:
        limit = 65535
        if not tcp:
            limit = udp_limit(query, len(wire), self.config.amplification)
        # dnspython may render more than max_size asks: the limit is checked
        # here, on the result.
        out = _render_within(response, limit)
        if out is not None:
            return out
        response.answer.clear()
        response.authority.clear()
        response.additional.clear()
        response.flags |= dns.flags.TC
        out = _render_within(response, limit)
        if out is not None:
            return out
        response.question.clear()
        return bytes(response.to_wire(max_size=max(limit, 512)))

    # --- zone transfers --------------------------------------------------

    def _transfer_policy(self, query: dns.message.Message, views: Views, peer: str | None
                         ) -> tuple[bool, Any]:
        qname = query.question[0].name
        view = views.get(qname)
        if view is None or find_zone(views, qname) is not view:
            return False, None
        policy = self.transfer_policy(qname.to_text(omit_final_dot=True))
        if policy is None or not policy.allows(peer, query.keyname if query.had_tsig else None):
            return False, view
        return True, view

    def _transfer_over_udp(self, query: dns.message.Message, response: dns.message.Message,
                           wire: bytes, views: Views, peer: str | None) -> bytes:
        allowed, view = self._transfer_policy(query, views, peer)
        if not allowed or query.question[0].rdtype == dns.rdatatype.AXFR:
            # AXFR needs TCP (RFC 5936); a refused IXFR is refused either way.
            response.set_rcode(dns.rcode.REFUSED if not allowed else dns.rcode.FORMERR)
            return self._render(response, query, wire, tcp=False)
        response.flags |= dns.flags.AA
        response.answer.append(view.soa)  # "only the SOA": retry over TCP (RFC 1995)
        return self._render(response, query, wire, tcp=False)

    def _incremental(self, query: dns.message.Message, soa: dns.rrset.RRset
                     ) -> list[dns.rrset.RRset] | None:
        """The IXFR answer for a secondary the journal can bring up to ``soa``
        (the SOA alone when it is current); None: send the whole zone."""
        since = _ixfr_serial(query)
        if since is None:
            return None
        current = int(soa[0].serial)
        if since == current:
            return [soa]
        entries = self.store.journal_since(soa.name.to_text(omit_final_dot=True), since)
        if entries is None:
            return None
        # Entries committed after the view was read belong to a later SOA.
        return ixfr_rrsets(soa, since, [e for e in entries
                                        if e.serial is not None and e.serial <= current])

    async def _serve_tcp(self, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        peername = writer.get_extra_info("peername")
        peer = peername[0] if peername else None
        per_peer = self._tcp_per_peer
        if (len(self._tcp_clients) >= MAX_TCP_CLIENTS
                or per_peer.get(peer, 0) >= self.config.tcp_per_client):
            writer.close()
            return
        task = asyncio.current_task()
        assert task is not None
        self._tcp_clients[task] = writer
        per_peer[peer] = per_peer.get(peer, 0) + 1
        try:
            while True:
                header = await asyncio.wait_for(reader.readexactly(2), TCP_IDLE_SECONDS)
                size = int.from_bytes(header, "big")
                wire = await asyncio.wait_for(reader.readexactly(size), TCP_IDLE_SECONDS)
                outs = self._tcp_responses(wire, peer)
                metrics.count_dns_query(outs[0] if outs else None, "tcp")  # a transfer once
                for out in outs:
                    writer.write(len(out).to_bytes(2, "big") + out)
                    await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError, OSError):
            pass
        finally:
            self._tcp_clients.pop(task, None)
            left = per_peer[peer] - 1
            if left:
                per_peer[peer] = left
            else:
                del per_peer[peer]
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _tcp_responses(self, wire: bytes, peer: str | None) -> list[bytes]:
        if len(wire) <= MAX_QUERY_SIZE and _is_transfer(wire):
            try:
                query = dns.message.from_wire(wire, keyring=self.keyring or None)
            except Exception:
                query = None
            if (query is not None and query.opcode() == dns.opcode.QUERY
                    and not query.flags & dns.flags.QR  # a response: handle() drops it
                    and len(query.question) == 1
                    and query.question[0].rdclass == dns.rdataclass.IN
                    and query.question[0].rdtype in (dns.rdatatype.AXFR, dns.rdatatype.IXFR)):
                try:
                    self.store.sync()
                    with self.store.reading() as views:
                        allowed, view = self._transfer_policy(query, views, peer)
                        soa = view.soa if allowed else None
                    if allowed and soa is not None:
                        incremental = self._incremental(query, soa)
                        if incremental is not None:
                            return ixfr_messages(query, incremental)
                        with self.store.reading():
                            rrsets = view.snapshot()
                        return transfer_messages(query, rrsets)
                    response = dns.message.make_response(query)
                    response.set_rcode(dns.rcode.REFUSED)
                    return [bytes(response.to_wire(max_size=65535))]
                except Exception:  # as in handle(): one request must not end the server
                    log.exception("error answering a zone transfer request")
                    failed = _header_error(wire, dns.rcode.SERVFAIL)
                    return [failed] if failed is not None else []
        out = self.handle(wire, tcp=True, peer=peer)
        return [out] if out is not None else []


def _ixfr_serial(query: dns.message.Message) -> int | None:
    """The serial an IXFR request says the secondary has (None: not an IXFR)."""
    if query.question[0].rdtype != dns.rdatatype.IXFR or not query.authority:
        return None
    rrset = query.authority[0]
    if rrset.rdtype != dns.rdatatype.SOA or not len(rrset):
        return None
    return int(rrset[0].serial)


def udp_limit(query: dns.message.Message, query_size: int, amplification: int) -> int:
    """The most bytes a UDP answer to ``query`` may have.

    What the client can take (512, or its EDNS size); never less than the
    floor (512, or the EDNS size up to OUR_PAYLOAD), and between the floor and
    what it can take at most ``amplification`` times the query (unless the
    query is TSIG-signed, or the cap is 0).
    """
    offered = max(UDP_FLOOR, query.payload) if query.edns >= 0 else UDP_FLOOR
    if not amplification or query.had_tsig:
        return offered
    floor = min(offered, OUR_PAYLOAD)
    return min(offered, max(floor, query_size * amplification))


def _is_transfer(wire: bytes) -> bool:
    end = _question_name_end(wire)
    if end < 0 or end + 2 > len(wire):
        return end < 0 and len(wire) > 12  # compressed/odd names: parse to be sure
    qtype = int.from_bytes(wire[end:end + 2], "big")
    return qtype in (dns.rdatatype.AXFR, dns.rdatatype.IXFR)


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        out = self.server.handle(data, tcp=False, peer=addr[0])
        metrics.count_dns_query(out, "udp")
        if out is not None and self.transport is not None:
            self.transport.sendto(out, addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("udp error: %s", exc)

