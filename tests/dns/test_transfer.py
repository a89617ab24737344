"""Zone transfers with dnspython: the per-zone ACL (addresses, TSIG keys), IXFR
from a serial the journal does not reach answered with a full zone, AXFR over
UDP refused, and NOTIFY after a change (incremental IXFR: test_ixfr.py).

127.0.0.2 is a second source address on loopback: the "other host" that the
ACL does not list.
"""

from __future__ import annotations

import asyncio
import base64

import dns.asyncquery
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
import dns.tsigkeyring
import dns.xfr
import dns.zone
import pytest

from dnsgate.services import secondaries
from dnsgate.services.context import SYSTEM_CALLER, SYSTEM_CONTEXT
from tests.dns.conftest import ZONE, put
from tests.dns.tools import dig_text, parse, parse_records, tcp_exchange, udp_exchange

SECRET = base64.b64encode(b"k" * 32).decode()
OTHER_SECRET = base64.b64encode(b"o" * 32).decode()
KEY = "xfr-key"
ALGORITHM = "hmac-sha256"


def set_transfer(env, zone: str = ZONE, **lists) -> None:
    secondaries.set_transfer(env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, zone=zone, **lists)


def keyring(name: str = KEY, secret: str = SECRET) -> dict:
    return dns.tsigkeyring.from_text({name: (ALGORITHM, secret)})


async def axfr(port: int, *, source: str = "127.0.0.1", key: dict | None = None,
               serial: int | None = None) -> dns.zone.Zone:
    """Transfer ``ZONE`` into a fresh dnspython zone (IXFR when ``serial`` is given)."""
    zone = dns.zone.Zone(ZONE, relativize=False)
    query, _ = dns.xfr.make_query(zone, serial=serial, keyring=key,
                                  keyname=next(iter(key)) if key else None)
    if serial is not None:  # make_query reads the serial from the zone; it is empty
        query.authority = [dns.rrset.from_text(
            ZONE + ".", 0, "IN", "SOA", f". . {serial} 0 0 0 0")]
    await dns.asyncquery.inbound_xfr("127.0.0.1", zone, query, port=port, timeout=5,
                                     lifetime=10, source=source)
    return zone


async def expected_zone(env) -> set[tuple[str, str, frozenset[str]]]:
    """The zone's content, read back through the built-in backend."""
    out = set()
    for rr in await env.backends.builtin().read(ZONE):
        rdtype = dns.rdatatype.from_text(rr.type)
        rrset = dns.rrset.from_text_list(rr.name + ".", rr.ttl, "IN", rdtype, list(rr.records))
        out.add((rr.name + ".", rr.type, frozenset(rd.to_text() for rd in rrset)))
    return out


def content(zone: dns.zone.Zone) -> set[tuple[str, str, frozenset[str]]]:
    return {(name.to_text(), dns.rdatatype.to_text(rdataset.rdtype),
             frozenset(rd.to_text() for rd in rdataset))
            for name, node in zone.nodes.items() for rdataset in node.rdatasets}


async def assert_refused(port: int, *, source: str = "127.0.0.1", key: dict | None = None,
                         rcode: dns.rcode.Rcode = dns.rcode.REFUSED) -> None:
    with pytest.raises(dns.xfr.TransferError) as refused:
        await axfr(port, source=source, key=key)
    assert refused.value.rcode == rcode


async def test_axfr_from_an_allowed_address(server, env):
    set_transfer(env, allow_transfer=["127.0.0.1"])
    zone = await axfr(server.port)
    assert content(zone) == await expected_zone(env)
    assert len(content(zone)) > 20


async def test_axfr_from_another_address_is_refused(server, env):
    set_transfer(env, allow_transfer=["127.0.0.1/32"])
    await assert_refused(server.port, source="127.0.0.2")
    set_transfer(env, allow_transfer=["127.0.0.0/8"])  # a network covers both
    assert content(await axfr(server.port, source="127.0.0.2")) == await expected_zone(env)


async def test_axfr_without_settings_is_refused(server):
    await assert_refused(server.port)


async def test_axfr_of_a_name_that_is_not_a_zone_apex_is_refused(server, env):
    set_transfer(env, allow_transfer=["127.0.0.1"])
    for qname in (f"www.{ZONE}", "example.org"):
        query = dns.message.make_query(qname, dns.rdatatype.AXFR)
        (reply,) = await tcp_exchange(server.port, query.to_wire())
        assert parse(reply).rcode() in (dns.rcode.REFUSED, dns.rcode.NOTAUTH)


async def test_axfr_with_the_right_tsig_key(server, env):
    set_transfer(env, allow_transfer=[], tsig=[f"{KEY}:{ALGORITHM}:{SECRET}"])
    await assert_refused(server.port)  # the address alone is not enough now
    zone = await axfr(server.port, key=keyring())  # dnspython verifies each signature
    assert content(zone) == await expected_zone(env)


@pytest.mark.parametrize(("name", "secret", "error", "peer_error"), [
    (KEY, OTHER_SECRET, dns.rcode.BADSIG, dns.tsig.PeerBadSignature),
    ("stranger-key", SECRET, dns.rcode.BADKEY, dns.tsig.PeerBadKey),
], ids=["wrong-secret", "unknown-key"])
async def test_axfr_with_a_bad_key_is_refused(server, env, name, secret, error, peer_error):
    set_transfer(env, allow_transfer=["127.0.0.1"], tsig=[f"{KEY}:{ALGORITHM}:{SECRET}"])
    query = dns.message.make_query(ZONE, dns.rdatatype.AXFR)
    query.use_tsig(keyring(name, secret), keyname=name)
    replies = await tcp_exchange(server.port, query.to_wire(), count=2)
    # RFC 8945 5.2: NOTAUTH, the question echoed, an unsigned TSIG with the
    # error; nothing of the zone, even though the address is allowed.
    assert len(replies) == 1
    reply = parse(replies[0], keyring=False)
    assert reply.rcode() == dns.rcode.NOTAUTH
    assert reply.question == query.question and reply.answer == []
    assert reply.tsig_error == error
    # ... which a client library understands as such.
    with pytest.raises(peer_error):
        await axfr(server.port, key=keyring(name, secret))
    # A bad key on an ordinary query is the same NOTAUTH, over UDP too.
    signed = dns.message.make_query(f"www.{ZONE}", "A")
    signed.use_tsig(keyring(name, secret), keyname=name)
    with pytest.raises(peer_error):
        await dns.asyncquery.udp(signed, "127.0.0.1", port=server.port, timeout=3)


async def test_signed_query_without_any_keys_configured(server):
    signed = dns.message.make_query(f"www.{ZONE}", "A")
    signed.use_tsig(keyring(), keyname=KEY)
    with pytest.raises(dns.tsig.PeerBadKey):
        await dns.asyncquery.udp(signed, "127.0.0.1", port=server.port, timeout=3)


async def test_right_key_on_an_ordinary_query_gets_a_signed_answer(server, env):
    set_transfer(env, tsig=[f"{KEY}:{ALGORITHM}:{SECRET}"])
    signed = dns.message.make_query(f"www.{ZONE}", "A")
    signed.use_tsig(keyring(), keyname=KEY)
    response = await dns.asyncquery.udp(signed, "127.0.0.1", port=server.port, timeout=3)
    assert response.had_tsig  # verified by dnspython against the request's MAC
    assert [rd.to_text() for rd in response.answer[0]] == ["192.0.2.10"]


async def test_a_valid_key_of_another_zone_is_refused(server, env, world):
    await world.zone("other.test")
    set_transfer(env, zone="other.test", tsig=[f"other-key:{ALGORITHM}:{OTHER_SECRET}"])
    set_transfer(env, allow_transfer=[], tsig=[f"{KEY}:{ALGORITHM}:{SECRET}"])
    await assert_refused(server.port, key=keyring(name="other-key", secret=OTHER_SECRET))
    # ... while it does open its own zone.
    zone = dns.zone.Zone("other.test", relativize=False)
    query, _ = dns.xfr.make_query(zone, keyring=keyring("other-key", OTHER_SECRET),
                                  keyname="other-key")
    await dns.asyncquery.inbound_xfr("127.0.0.1", zone, query, port=server.port, timeout=5)
    assert zone.get_rdataset("other.test.", "SOA") is not None


async def test_ixfr_from_a_serial_the_journal_lacks_gets_the_whole_zone(server, env):
    set_transfer(env, allow_transfer=["127.0.0.1"])
    soa = (await dns.asyncquery.udp(dns.message.make_query(ZONE, "SOA"), "127.0.0.1",
                                    port=server.port, timeout=3)).answer[0][0]
    zone = await axfr(server.port, serial=1)  # no change of the journal made serial 1
    assert content(zone) == await expected_zone(env)
    # On the wire: AXFR form (RFC 1995 4), the SOA first and last, the IXFR question kept.
    query = dns.message.make_query(ZONE, dns.rdatatype.IXFR)
    query.authority = [dns.rrset.from_text(ZONE + ".", 0, "IN", "SOA", ". . 1 0 0 0 0")]
    (reply,) = await tcp_exchange(server.port, query.to_wire())
    message = parse(reply, one_rr_per_rrset=True)
    assert message.question[0].rdtype == dns.rdatatype.IXFR
    assert message.flags & dns.flags.AA
    first, *middle, last = message.answer
    assert first.rdtype == last.rdtype == dns.rdatatype.SOA
    assert first[0].serial == last[0].serial == soa.serial
    assert dns.rdatatype.SOA not in {rrset.rdtype for rrset in middle}


async def test_axfr_over_udp_is_not_served(server, env):
    query = dns.message.make_query(ZONE, dns.rdatatype.AXFR)
    refused = parse(await udp_exchange(server.port, query.to_wire()))
    assert refused.rcode() == dns.rcode.REFUSED and refused.answer == []
    set_transfer(env, allow_transfer=["127.0.0.1"])
    # Even for an allowed client: AXFR is a TCP thing (RFC 5936 4.2).
    formerr = parse(await udp_exchange(server.port, query.to_wire()))
    assert formerr.rcode() == dns.rcode.FORMERR and formerr.answer == []


async def test_ixfr_over_udp_gets_only_the_soa(server, env):
    set_transfer(env, allow_transfer=["127.0.0.1"])
    query = dns.message.make_query(ZONE, dns.rdatatype.IXFR)
    query.authority = [dns.rrset.from_text(ZONE + ".", 0, "IN", "SOA", ". . 1 0 0 0 0")]
    response = parse(await udp_exchange(server.port, query.to_wire()))
    assert response.rcode() == dns.rcode.NOERROR
    ((soa,),) = [list(rrset) for rrset in response.answer]
    assert soa.rdtype == dns.rdatatype.SOA  # "retry over TCP" (RFC 1995 2)
    denied = parse(await udp_exchange(server.port, query.to_wire(), source="127.0.0.2"))
    assert denied.rcode() == dns.rcode.REFUSED and denied.answer == []


class _Secondary(asyncio.DatagramProtocol):
    """A fake secondary: records each NOTIFY and acknowledges it."""

    def __init__(self, key: dict | None) -> None:
        self.key = key
        self.received: asyncio.Queue[dns.message.Message] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        message = dns.message.from_wire(data, keyring=self.key)  # verifies a TSIG
        self.received.put_nowait(message)
        reply = dns.message.make_response(message)
        assert self.transport is not None
        self.transport.sendto(reply.to_wire(), addr)


@pytest.mark.parametrize("signed", [False, True], ids=["plain", "tsig"])
async def test_notify_is_sent_after_each_change(server, env, signed):
    key = keyring() if signed else None
    loop = asyncio.get_running_loop()
    transport, secondary = await loop.create_datagram_endpoint(
        lambda: _Secondary(key), local_addr=("127.0.0.1", 0))
    try:
        port = transport.get_extra_info("sockname")[1]
        set_transfer(env, notify=[f"127.0.0.1:{port}"], allow_transfer=["127.0.0.1"],
                     tsig=[f"{KEY}:{ALGORITHM}:{SECRET}"] if signed else [])
        for address in ("198.51.100.1", "198.51.100.2"):
            await put(env, ZONE, "home", "A", [address])
            notify = await asyncio.wait_for(secondary.received.get(), 2)
            assert notify.opcode() == dns.opcode.NOTIFY
            assert notify.flags & dns.flags.AA
            (question,) = notify.question
            assert question.name == dns.name.from_text(ZONE)
            assert question.rdtype == dns.rdatatype.SOA
            assert notify.had_tsig is signed
        assert secondary.received.empty()  # one NOTIFY per change, acknowledged
    finally:
        transport.close()


@pytest.mark.parametrize("args", [(), ("+bufsize=512",), ("+noedns",)])
async def test_dig_axfr(server, env, args):
    # dig asks with EDNS (a UDP payload size) by default; over TCP that size
    # must not cut the transfer.
    set_transfer(env, allow_transfer=["127.0.0.1"])
    text = await dig_text(server.port, *args, ZONE, "AXFR")
    assert "Transfer failed" not in text, text
    records = parse_records(text)
    assert records[0].type == records[-1].type == "SOA"
    rrsets = {(r.name, r.type) for r in records}
    assert rrsets == {(name, rtype) for name, rtype, _ in await expected_zone(env)}
    assert len(records) - 1 == sum(len(data) for _, _, data in await expected_zone(env))


async def test_dig_axfr_is_refused_from_another_address(server, env):
    set_transfer(env, allow_transfer=["127.0.0.1"])
    text = await dig_text(server.port, "-b", "127.0.0.2", ZONE, "AXFR")
    assert "Transfer failed" in text
    assert parse_records(text) == []
    allowed = await dig_text(server.port, "-b", "127.0.0.1", ZONE, "AXFR")
    assert len(parse_records(allowed)) > 20


async def test_edns_axfr_with_dnspython(server, env):
    set_transfer(env, allow_transfer=["127.0.0.1"])
    query = dns.message.make_query(ZONE, dns.rdatatype.AXFR, use_edns=0, payload=512)
    replies = await tcp_exchange(server.port, query.to_wire(), count=10)
    assert replies
    messages = [parse(reply, one_rr_per_rrset=True) for reply in replies]
    assert all(m.rcode() == dns.rcode.NOERROR for m in messages)
    records = [rrset for m in messages for rrset in m.answer]
    assert records[0].rdtype == records[-1].rdtype == dns.rdatatype.SOA
    assert sum(len(rrset) for rrset in records) - 1 == sum(
        len(data) for _, _, data in await expected_zone(env))


async def test_a_zone_larger_than_one_message_is_sent_in_several(server, env):
    from dnsgate.services import records
    from dnsgate.services.records import ChangeInput

    await records.apply_changes(env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, zone=ZONE, inputs=[
        ChangeInput("upsert", f"bulk-{i}.{ZONE}", "TXT", 300, [f"{i:04d}" + "t" * 250])
        for i in range(400)])
    set_transfer(env, allow_transfer=["127.0.0.1"], tsig=[f"{KEY}:{ALGORITHM}:{SECRET}"])
    query = dns.message.make_query(ZONE, dns.rdatatype.AXFR)
    replies = await tcp_exchange(server.port, query.to_wire(), count=10)
    assert len(replies) >= 2, [len(r) for r in replies]
    assert all(len(reply) <= 65535 for reply in replies)
    expected = await expected_zone(env)
    assert content(await axfr(server.port)) == expected
    # Signed: every message carries a TSIG chained to the one before (RFC 8945 5.3.1),
    # which dnspython checks message by message.
    assert content(await axfr(server.port, key=keyring())) == expected
