"""No amplification over UDP, and no needless truncation: an unauthenticated
UDP answer is never truncated below the floor (512 bytes, or the EDNS size the
query offers, up to 1232); above the floor it is at most ``amplification``
(default 4) times the query's size. What does not fit is truncated (TC=1),
and the same query over TCP gets the whole answer.

Sizes are measured on real sockets. The full answer of each query is taken
from TCP, so each case checks both ways: a fitting answer comes back whole
over UDP, a larger one comes back truncated and small.
"""

from __future__ import annotations

import dns.edns
import dns.flags
import dns.message
import pytest

from dnsgate.dnsserver.server import ServerConfig
from tests.dns.conftest import ZONE
from tests.dns.tools import parse, tcp_exchange, udp_exchange

QUESTIONS = [
    (f"www.{ZONE}", "A"),
    (f"www.{ZONE}", "AAAA"),
    (f"long.{ZONE}", "TXT"),
    (f"medium.{ZONE}", "TXT"),
    (f"big.{ZONE}", "TXT"),
    (ZONE, "MX"),
    (ZONE, "NS"),
    (ZONE, "SOA"),
    (ZONE, "ANY"),
    (f"big.{ZONE}", "ANY"),
    (ZONE, "DNSKEY"),
    (ZONE, "TXT"),
    (f"nothing.{ZONE}", "A"),
    (f"nothing.{ZONE}", "ANY"),
    (f"www.{ZONE}", "TXT"),
    (f"x.wild.{ZONE}", "A"),
    (f"x.wild.{ZONE}", "TXT"),
    (f"x.wild.{ZONE}", "ANY"),
    (f"a.b.c.wild.{ZONE}", "MX"),
    (f"chain1.{ZONE}", "A"),
    (f"any.wc.{ZONE}", "AAAA"),
    (f"host.sub.{ZONE}", "A"),
    (f"sub.{ZONE}", "NS"),
    ("elsewhere.example", "ANY"),
    (ZONE, "AXFR"),
    (ZONE, "IXFR"),
]
OUR_PAYLOAD = 1232  # what the server advertises: the floor's ceiling


def expected_limit(query: dns.message.Message, size: int, factor: int) -> int:
    """The largest UDP answer the query may get (written out, not imported)."""
    offered = max(512, query.payload) if query.edns >= 0 else 512
    floor = min(offered, OUR_PAYLOAD)
    return min(offered, max(floor, factor * size))


QUERY_FORMS = {
    "no-edns": {"use_edns": False},
    "edns-512": {"use_edns": 0, "payload": 512},
    "edns-4096": {"use_edns": 0, "payload": 4096},
    "edns-65535": {"use_edns": 0, "payload": 65535},
    # RFC 8467 padding asks for 468-byte blocks; not on a cleartext transport.
    "edns-padding": {"use_edns": 0, "payload": 4096, "options": [
        dns.edns.GenericOption(dns.edns.OptionType.PADDING, b"")]},
}


@pytest.fixture(params=[None, 2], ids=["default", "factor-2"])
async def capped(request, zone, start_dns, env):
    from dnsgate.services import secondaries
    from dnsgate.services.context import SYSTEM_CALLER, SYSTEM_CONTEXT

    # Transfers are allowed from here: even then AXFR/IXFR over UDP stay small.
    secondaries.set_transfer(env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, zone=ZONE,
                             allow_transfer=["127.0.0.1"])
    if request.param is None:
        assert ServerConfig().amplification == 4
        return await start_dns()
    return await start_dns(amplification=request.param)


@pytest.mark.parametrize("form", QUERY_FORMS)
async def test_udp_answers_stay_within_the_factor(capped, form):
    factor = capped.server.config.amplification
    truncated = whole = 0
    for qname, qtype in QUESTIONS:
        query = dns.message.make_query(qname, qtype, **QUERY_FORMS[form])
        wire = query.to_wire()
        udp = await udp_exchange(capped.port, wire)
        assert udp is not None, (qname, qtype)
        case = f"{qname} {qtype} ({form}): query {len(wire)} bytes, answer {len(udp)}"
        limit = expected_limit(query, len(wire), factor)
        assert len(udp) <= limit, case
        response = parse(udp)
        assert response.id == query.id, case
        if qtype in ("AXFR", "IXFR"):
            continue
        (full,) = await tcp_exchange(capped.port, wire)
        if len(full) <= limit:
            assert not response.flags & dns.flags.TC, case
            # The same message (RRs within a set may come in another order).
            assert len(udp) == len(full) and response == parse(full), case
            whole += 1
        else:
            assert response.flags & dns.flags.TC, case
            assert response.answer == [], case
            assert response.rcode() == parse(full).rcode(), case
            truncated += 1
    # The list holds both kinds, so neither branch above is vacuous.
    assert whole >= 5 and truncated >= 2, (whole, truncated)


async def test_tsig_signed_queries_are_not_capped(capped, env):
    # An authenticated client is no reflection risk: its answer fits the payload.
    import base64

    import dns.tsigkeyring

    from dnsgate.services import secondaries
    from dnsgate.services.context import SYSTEM_CALLER, SYSTEM_CONTEXT

    secret = base64.b64encode(b"s" * 32).decode()
    secondaries.set_transfer(env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, zone=ZONE,
                             tsig=[f"amp-key:hmac-sha256:{secret}"])
    keyring = dns.tsigkeyring.from_text({"amp-key": ("hmac-sha256", secret)})
    query = dns.message.make_query(f"medium.{ZONE}", "TXT", use_edns=0, payload=1232)
    query.use_tsig(keyring, keyname="amp-key")
    wire = query.to_wire()
    reply = await udp_exchange(capped.port, wire)
    assert reply is not None
    response = dns.message.from_wire(reply, keyring=keyring, request_mac=query.mac)
    assert not response.flags & dns.flags.TC
    assert len(response.answer[0]) == 4
    assert len(reply) > capped.server.config.amplification * len(wire)


@pytest.mark.parametrize(("qname", "qtype", "form", "floor"), [
    # ~300 bytes for a ~30-byte query: over 4x, within the 512 floor
    (f"long.{ZONE}", "TXT", "no-edns", 512),
    # ~900 bytes: over 4x and 512, within the 1232 the query offers
    (f"medium.{ZONE}", "TXT", "edns-4096", OUR_PAYLOAD),
])
async def test_answers_within_the_floor_are_never_truncated(capped, qname, qtype, form, floor):
    query = dns.message.make_query(qname, qtype, **QUERY_FORMS[form])
    wire = query.to_wire()
    (full,) = await tcp_exchange(capped.port, wire)
    factor = capped.server.config.amplification
    assert factor * len(wire) < len(full) <= floor, (len(wire), len(full))
    udp = await udp_exchange(capped.port, wire)
    assert udp is not None
    response = parse(udp)
    assert not response.flags & dns.flags.TC
    assert len(udp) == len(full) and response == parse(full)


async def test_an_edns_offer_below_512_still_gets_512(capped):
    query = dns.message.make_query(f"long.{ZONE}", "TXT", use_edns=0, payload=256)
    wire = query.to_wire()
    (full,) = await tcp_exchange(capped.port, wire)
    assert 256 < len(full) <= 512
    udp = await udp_exchange(capped.port, wire)
    assert udp is not None and not parse(udp).flags & dns.flags.TC
