"""EDNS0, truncation and the TCP retry, with dig and with dnspython.

``plain`` is a server without the anti-amplification cap, so the EDNS buffer
size alone decides what fits in a UDP answer; the default server (``server``)
is covered in test_amplification.py.
"""

from __future__ import annotations

import dns.asyncquery
import dns.edns
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from tests.dns.conftest import BIG_TXT, MEDIUM_TXT, ZONE
from tests.dns.tools import dig, udp_exchange

OUR_PAYLOAD = 1232


@pytest.fixture
async def plain(zone, start_dns):
    return await start_dns(amplification=0)


def quoted(values: list[str]) -> set[str]:
    return {f'"{v}"' for v in values}


async def test_buffer_size_is_honoured(plain):
    # ~900 bytes: fits the 1232 bytes dig offers, not 512.
    fits = await dig(plain.port, "+bufsize=1232", "+ignore", f"medium.{ZONE}", "TXT")
    assert "tc" not in fits.flags, fits
    assert fits.rdata() == quoted(MEDIUM_TXT)
    assert fits.size is not None and 512 < fits.size <= 1232
    assert fits.edns_udp == OUR_PAYLOAD  # the server's own payload size
    small = await dig(plain.port, "+bufsize=512", "+ignore", f"medium.{ZONE}", "TXT")
    assert "tc" in small.flags, small
    assert small.size is not None and small.size <= 512
    # An answer is never cut in the middle of an RRset.
    assert small.answer == [] or small.rdata() == quoted(MEDIUM_TXT)


async def test_without_edns_the_limit_is_512(plain):
    result = await dig(plain.port, "+noedns", "+ignore", f"medium.{ZONE}", "TXT")
    assert "tc" in result.flags, result
    assert result.size is not None and result.size <= 512
    assert result.edns_udp is None  # no OPT back to a client that sent none


async def test_truncated_answer_is_retried_over_tcp_by_dig(plain):
    truncated = await dig(plain.port, "+ignore", f"big.{ZONE}", "TXT")
    assert "tc" in truncated.flags and truncated.status == "NOERROR"
    assert "aa" in truncated.flags
    whole = await dig(plain.port, f"big.{ZONE}", "TXT")
    assert whole.retried_over_tcp, whole
    assert "tc" not in whole.flags
    assert whole.rdata() == quoted(BIG_TXT)
    over_tcp = await dig(plain.port, "+tcp", f"big.{ZONE}", "TXT")
    assert not over_tcp.retried_over_tcp and "tc" not in over_tcp.flags
    assert over_tcp.rdata() == quoted(BIG_TXT)
    assert over_tcp.size is not None and over_tcp.size > 4000


async def test_dnspython_sees_tc_then_falls_back_to_tcp(plain):
    query = dns.message.make_query(f"big.{ZONE}", "TXT", use_edns=0, payload=1232)
    udp = await dns.asyncquery.udp(query, "127.0.0.1", port=plain.port, timeout=3)
    assert udp.flags & dns.flags.TC and udp.flags & dns.flags.AA
    assert udp.rcode() == dns.rcode.NOERROR
    assert udp.edns == 0
    assert len(udp.to_wire()) <= 1232
    response, used_tcp = await dns.asyncquery.udp_with_fallback(
        query, "127.0.0.1", port=plain.port, timeout=3)
    assert used_tcp
    assert not response.flags & dns.flags.TC
    (rrset,) = response.answer
    assert {rd.to_text() for rd in rrset} == quoted(BIG_TXT)


@pytest.mark.parametrize(("payload", "truncated"), [
    (512, True), (1000, False), (1232, False), (4096, False), (65535, False)])
async def test_dnspython_payload_sizes(plain, payload, truncated):
    query = dns.message.make_query(f"medium.{ZONE}", "TXT", use_edns=0, payload=payload)
    wire = await udp_exchange(plain.port, query.to_wire())
    assert wire is not None
    response = dns.message.from_wire(wire)
    assert bool(response.flags & dns.flags.TC) is truncated
    assert len(wire) <= max(payload, 512)
    if not truncated:
        assert {rd.to_text() for rd in response.answer[0]} == quoted(MEDIUM_TXT)


async def test_payload_below_512_counts_as_512(plain):
    # RFC 6891 6.2.5: values below 512 are treated as 512.
    query = dns.message.make_query(f"www.{ZONE}", "A", use_edns=0, payload=100)
    response = await dns.asyncquery.udp(query, "127.0.0.1", port=plain.port, timeout=3)
    assert not response.flags & dns.flags.TC
    assert response.answer


async def test_small_answers_fit_in_small_buffers(plain):
    query = dns.message.make_query(f"www.{ZONE}", "A", use_edns=False)
    response = await dns.asyncquery.udp(query, "127.0.0.1", port=plain.port, timeout=3)
    assert response.edns == -1 and not response.flags & dns.flags.TC
    assert [rd.to_text() for rd in response.answer[0]] == ["192.0.2.10"]


async def test_unknown_edns_version_gets_badvers(plain):
    query = dns.message.make_query(f"www.{ZONE}", "A", use_edns=1)
    response = await dns.asyncquery.udp(query, "127.0.0.1", port=plain.port, timeout=3)
    assert response.rcode() == dns.rcode.BADVERS
    assert response.edns == 0  # RFC 6891 7: the highest version we support
    assert response.answer == []


async def test_edns_options_are_ignored_not_fatal(plain):
    cookie = dns.edns.GenericOption(dns.edns.OptionType.COOKIE, b"\x01" * 8)
    padding = dns.edns.GenericOption(dns.edns.OptionType.PADDING, b"\x00" * 64)
    unknown = dns.edns.GenericOption(65001, b"what")
    query = dns.message.make_query(f"www.{ZONE}", "A", use_edns=0,
                                   options=[cookie, padding, unknown])
    response = await dns.asyncquery.udp(query, "127.0.0.1", port=plain.port, timeout=3)
    assert response.rcode() == dns.rcode.NOERROR
    assert [rd.to_text() for rd in response.answer[0]] == ["192.0.2.10"]


async def test_tcp_answers_are_never_truncated(plain):
    query = dns.message.make_query(f"big.{ZONE}", "TXT", use_edns=False)
    response = await dns.asyncquery.tcp(query, "127.0.0.1", port=plain.port, timeout=3)
    assert not response.flags & dns.flags.TC
    assert len(response.answer[0]) == len(BIG_TXT)
    assert response.answer[0].rdtype == dns.rdatatype.TXT
