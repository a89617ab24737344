"""Bad input over real UDP and TCP sockets: FORMERR, NOTIMP, REFUSED or silence,
never a crash or a hang; a good query is answered after each case."""

from __future__ import annotations

import asyncio
import struct

import dns.edns
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from tests.dns.conftest import ZONE
from tests.dns.tools import UdpClient, parse, tcp_exchange, udp_exchange

QUERY_ID = 0x4A5B


def header(*, id: int = QUERY_ID, flags: int = 0x0100, qd: int = 1, an: int = 0, ns: int = 0,
           ar: int = 0) -> bytes:
    return struct.pack("!6H", id, flags, qd, an, ns, ar)


def encode_name(name: str) -> bytes:
    return b"".join(bytes([len(label)]) + label.encode()
                    for label in name.split(".") if label) + b"\x00"


def question(name: str = f"www.{ZONE}", qtype: int = 1, qclass: int = 1) -> bytes:
    return encode_name(name) + struct.pack("!HH", qtype, qclass)


GOOD = header() + question()


async def assert_still_answers(port: int) -> None:
    for exchange in (udp_exchange, tcp_exchange):
        reply = await exchange(port, GOOD)
        wire = reply[0] if isinstance(reply, list) else reply
        assert wire is not None, f"no answer to a good query over {exchange.__name__}"
        response = parse(wire)
        assert response.id == QUERY_ID and response.rcode() == dns.rcode.NOERROR
        assert [rd.to_text() for rd in response.answer[0]] == ["192.0.2.10"]


async def rcode_of(port: int, wire: bytes) -> int | None:
    """The rcode of the UDP reply (from the header alone), None if none came."""
    reply = await udp_exchange(port, wire, wait=0.5)
    if reply is None:
        return None
    assert len(reply) >= 12
    assert reply[:2] == wire[:2], "the reply does not carry the query's ID"
    assert reply[2] & 0x80, "the reply is not a response"
    return reply[3] & 0x0F


async def test_good_query_baseline(server):
    await assert_still_answers(server.port)


@pytest.mark.parametrize("size", [0, 1, 2, 5, 11])
async def test_packets_shorter_than_a_header_are_dropped(server, size):
    assert await rcode_of(server.port, GOOD[:size]) is None
    await assert_still_answers(server.port)


@pytest.mark.parametrize("cut", [12, 13, 17, len(GOOD) - 3, len(GOOD) - 1])
async def test_truncated_questions_get_formerr(server, cut):
    assert await rcode_of(server.port, GOOD[:cut]) == dns.rcode.FORMERR
    await assert_still_answers(server.port)


async def test_responses_are_dropped(server):
    # A reply sent to us (QR=1) gets no reply: no loops between servers.
    for flags in (0x8000, 0x8400, 0x8180, 0x8583):
        assert await rcode_of(server.port, header(flags=flags) + question()) is None
    await assert_still_answers(server.port)


@pytest.mark.parametrize("opcode", [1, 2, 3, 4, 5, 6, 7, 15])
async def test_unknown_or_unsupported_opcodes_get_notimp(server, opcode):
    wire = header(flags=opcode << 11) + question()
    assert await rcode_of(server.port, wire) == dns.rcode.NOTIMP
    await assert_still_answers(server.port)


@pytest.mark.parametrize("qclass", [3, 4, 42, 254, 255, 65280])
async def test_other_classes_get_refused(server, qclass):
    assert await rcode_of(server.port, header() + question(qclass=qclass)) == dns.rcode.REFUSED
    await assert_still_answers(server.port)


@pytest.mark.parametrize(("count", "questions"), [
    (0, 0), (2, 2), (100, 100), (65535, 1), (2, 1)])
async def test_question_counts_other_than_one_get_formerr(server, count, questions):
    wire = header(qd=count) + question() * questions
    assert await rcode_of(server.port, wire) == dns.rcode.FORMERR
    await assert_still_answers(server.port)


async def test_records_in_the_answer_section_of_a_query_get_formerr(server):
    record = encode_name(f"www.{ZONE}") + struct.pack("!HHIH", 1, 1, 60, 4) + bytes(4)
    assert await rcode_of(server.port, header(an=1) + question() + record) == dns.rcode.FORMERR
    await assert_still_answers(server.port)


@pytest.mark.parametrize("qtype", [dns.rdatatype.OPT, dns.rdatatype.TSIG, dns.rdatatype.TKEY])
async def test_meta_types_cannot_be_asked(server, qtype):
    assert await rcode_of(server.port, header() + question(qtype=qtype)) == dns.rcode.FORMERR


@pytest.mark.parametrize("name_wire", [
    b"\xc0\x0c",  # a pointer to itself
    b"\x03www\xc0\x0c",  # a loop through a label
    b"\xc0\xff",  # a pointer past the end
    b"\x40" + b"a" * 64 + b"\x00",  # reserved label type (0x40)
    b"\x3f" + b"a" * 63 + b"\x3f" + b"b" * 63 + b"\x3f" + b"c" * 63 + b"\x3f" + b"d" * 63
    + b"\x00",  # 256 bytes: longer than a name may be
    b"\x05ab",  # a label running past the end
])
async def test_broken_names_get_formerr(server, name_wire):
    wire = header() + name_wire + struct.pack("!HH", 1, 1)
    assert await rcode_of(server.port, wire) == dns.rcode.FORMERR
    await assert_still_answers(server.port)


async def test_trailing_junk_gets_formerr(server):
    assert await rcode_of(server.port, GOOD + b"\x00junk") == dns.rcode.FORMERR
    await assert_still_answers(server.port)


@pytest.mark.parametrize("padding", [5000, 30000, 65000])
async def test_oversized_queries_get_formerr_or_nothing(server, padding):
    option = dns.edns.GenericOption(dns.edns.OptionType.PADDING, b"\x00" * padding)
    query = dns.message.make_query(f"www.{ZONE}", "A", use_edns=0, options=[option])
    wire = query.to_wire(max_size=65535)
    assert len(wire) > padding
    assert await rcode_of(server.port, wire) in (None, dns.rcode.FORMERR)
    replies = await tcp_exchange(server.port, wire)
    assert replies == [] or replies[0][3] & 0x0F == dns.rcode.FORMERR
    await assert_still_answers(server.port)


async def test_an_ordinary_padded_query_is_still_answered(server):
    option = dns.edns.GenericOption(dns.edns.OptionType.PADDING, b"\x00" * 300)
    query = dns.message.make_query(f"www.{ZONE}", "A", use_edns=0, options=[option])
    reply = await udp_exchange(server.port, query.to_wire())
    assert reply is not None and parse(reply).answer


async def test_tcp_garbage_and_stalls_do_not_block_others(server):
    port = server.port
    # A client that announces 500 bytes and sends 3, one that sends half a
    # length prefix, one that sends a zero-length message, and random bytes.
    stalled = []
    for data in (b"\x01\xf4abc", b"\x00", b"\x00\x00", b"\xff\xff" + bytes(range(256)) * 8):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(data)
        await writer.drain()
        stalled.append((reader, writer))
    try:
        started = asyncio.get_running_loop().time()
        await assert_still_answers(port)
        assert asyncio.get_running_loop().time() - started < 2
    finally:
        for _reader, writer in stalled:
            writer.close()
    # A message cut short by a closed connection is simply forgotten.
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(struct.pack("!H", len(GOOD)) + GOOD[:10])
    writer.close()
    await assert_still_answers(port)


async def test_several_messages_on_one_tcp_connection(server):
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        bad = header(id=2, flags=5 << 11) + question()
        for wire in (GOOD, bad, GOOD[:14], GOOD):
            writer.write(struct.pack("!H", len(wire)) + wire)
        await writer.drain()
        rcodes = []
        for _ in range(4):
            size = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2), 3))[0]
            reply = await asyncio.wait_for(reader.readexactly(size), 3)
            rcodes.append(reply[3] & 0x0F)
        assert rcodes == [dns.rcode.NOERROR, dns.rcode.NOTIMP, dns.rcode.FORMERR,
                          dns.rcode.NOERROR]
    finally:
        writer.close()


async def test_a_flood_of_junk_then_a_good_query(server):
    client = await UdpClient.open(server.port)
    try:
        for i in range(2000):
            client.send(bytes([i % 256]) * (i % 700))
        await asyncio.sleep(0.2)
    finally:
        client.close()
    await assert_still_answers(server.port)


async def test_idle_tcp_connections_are_closed(zone, start_dns, monkeypatch):
    monkeypatch.setattr("dnsgate.dnsserver.server.TCP_IDLE_SECONDS", 0.3)
    server = await start_dns()
    for data in (b"", b"\x00", struct.pack("!H", len(GOOD)) + GOOD[:5]):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            writer.write(data)
            await writer.drain()
            # The server hangs up on a client that stops sending (slowloris).
            assert await asyncio.wait_for(reader.read(), 3) == b""
        finally:
            writer.close()
    await assert_still_answers(server.port)


async def test_too_many_tcp_clients_do_not_block_udp(zone, start_dns, monkeypatch):
    monkeypatch.setattr("dnsgate.dnsserver.server.MAX_TCP_CLIENTS", 20)
    server = await start_dns(tcp_per_client=20)  # the cap of all clients, not of one
    held = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(20)]
    try:
        await asyncio.sleep(0.1)
        # Beyond the limit a connection is closed at once, not left hanging ...
        assert await tcp_exchange(server.port, GOOD, wait=3) == []
        # ... and UDP answers all along.
        reply = await udp_exchange(server.port, GOOD)
        assert reply is not None and parse(reply).answer
    finally:
        for _reader, writer in held:
            writer.close()
    await asyncio.sleep(0.1)
    await assert_still_answers(server.port)  # TCP is back once they are gone
