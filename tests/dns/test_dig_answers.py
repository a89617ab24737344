"""Authoritative answers, as ``dig`` (bind9-dnsutils) sees them.

The zone (tests/dns/conftest.py) is written through the services; every
expected value below comes from that data, not from the server.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import select, update

from dnsgate.db.models import BuiltinZone
from tests.dns.conftest import BIG_TXT, RECORDS, ZONE, fqdn
from tests.dns.tools import Dig, dig


def records_of(owner: str, rtype: str) -> set[str]:
    (found,) = [rrs for o, t, _ttl, rrs in RECORDS if o == owner and t == rtype]
    return set(found)


def ttl_of(owner: str, rtype: str) -> int:
    (found,) = [ttl for o, t, ttl, _rrs in RECORDS if o == owner and t == rtype]
    return found


def soa_row(env) -> BuiltinZone:
    with env.db.read() as session:
        row = session.scalars(select(BuiltinZone).where(BuiltinZone.name == ZONE)).one()
        session.expunge(row)
        return row


def assert_negative(result: Dig, env, status: str) -> None:
    """NXDOMAIN / NODATA per RFC 2308: AA, no answer, the zone's SOA in authority
    with TTL = min(SOA TTL, SOA minimum)."""
    row = soa_row(env)
    assert result.status == status, result
    assert "aa" in result.flags, result
    assert result.answer == [], result
    assert len(result.authority) == 1, result
    soa = result.authority[0]
    assert (soa.name, soa.type) == (f"{ZONE}.", "SOA"), result
    fields = soa.data.split()
    assert fields[0] == f"{row.primary_ns}." and int(fields[2]) == row.serial, result
    assert int(fields[6]) == row.minimum
    assert soa.ttl == min(row.soa_ttl, row.minimum), result


async def test_positive_answer_is_authoritative(server):
    result = await dig(server.port, f"www.{ZONE}", "A")
    assert result.status == "NOERROR"
    assert "aa" in result.flags and "qr" in result.flags
    assert "ra" not in result.flags  # not a resolver
    assert [(r.name, r.type, r.ttl) for r in result.answer] == [
        (f"www.{ZONE}.", "A", ttl_of("www", "A"))]
    assert result.rdata() == records_of("www", "A")
    aaaa = await dig(server.port, f"www.{ZONE}", "AAAA")
    assert aaaa.rdata() == records_of("www", "AAAA") and "aa" in aaaa.flags


async def test_apex_records(server, env):
    row = soa_row(env)
    soa = await dig(server.port, ZONE, "SOA")
    assert "aa" in soa.flags
    ((record),) = soa.answer
    assert record.ttl == row.soa_ttl
    assert record.data.split()[2] == str(row.serial)
    ns = await dig(server.port, ZONE, "NS")
    assert ns.rdata() == {f"{row.primary_ns}."}
    mx = await dig(server.port, ZONE, "MX")
    assert mx.rdata() == records_of("@", "MX")


async def test_nxdomain_carries_soa_with_negative_ttl(server, env):
    assert_negative(await dig(server.port, f"nothing.{ZONE}", "A"), env, "NXDOMAIN")
    assert_negative(await dig(server.port, f"a.b.c.nothing.{ZONE}", "TXT"), env, "NXDOMAIN")


async def test_nodata_carries_soa_with_negative_ttl(server, env):
    assert_negative(await dig(server.port, f"www.{ZONE}", "TXT"), env, "NOERROR")
    assert_negative(await dig(server.port, f"mail.{ZONE}", "AAAA"), env, "NOERROR")
    assert_negative(await dig(server.port, ZONE, "CAA"), env, "NOERROR")


async def test_negative_ttl_is_the_smaller_of_soa_ttl_and_minimum(server, env):
    before = soa_row(env)
    assert before.minimum < before.soa_ttl  # the defaults: the minimum wins
    assert (await dig(server.port, f"nothing.{ZONE}", "A")).authority[0].ttl == before.minimum
    # Now the SOA's own TTL is the smaller one. Written by SQL: SOA fields are
    # no RRset change of the journal, so their writer has the zone read whole.
    with env.db.write() as session:
        session.execute(update(BuiltinZone).where(BuiltinZone.name == ZONE).values(
            soa_ttl=120, minimum=900, serial=BuiltinZone.serial + 1))
    server.store.replaced([ZONE])
    deadline = time.monotonic() + 2
    while True:
        result = await dig(server.port, f"nothing.{ZONE}", "A")
        if int(result.authority[0].data.split()[2]) == before.serial + 1:
            break
        assert time.monotonic() < deadline, f"the new SOA was not read:\n{result}"
        await asyncio.sleep(0.05)
    assert_negative(result, env, "NXDOMAIN")
    assert result.authority[0].ttl == 120
    nodata = await dig(server.port, f"www.{ZONE}", "MX")
    assert_negative(nodata, env, "NOERROR")
    assert nodata.authority[0].ttl == 120


async def test_cname_chain_inside_the_zone_is_followed(server):
    result = await dig(server.port, f"chain1.{ZONE}", "A")
    assert result.status == "NOERROR" and "aa" in result.flags
    assert [(r.name, r.type, r.data) for r in result.answer] == [
        (f"chain1.{ZONE}.", "CNAME", f"chain2.{ZONE}."),
        (f"chain2.{ZONE}.", "CNAME", f"chain3.{ZONE}."),
        (f"chain3.{ZONE}.", "CNAME", f"www.{ZONE}."),
        (f"www.{ZONE}.", "A", *records_of("www", "A")),
    ]
    single = await dig(server.port, f"alias.{ZONE}", "AAAA")
    assert [r.type for r in single.answer] == ["CNAME", "AAAA"]
    assert single.rdata(type="AAAA") == records_of("www", "AAAA")


async def test_cname_itself_is_answered_for_type_cname(server):
    result = await dig(server.port, f"chain1.{ZONE}", "CNAME")
    assert [(r.name, r.type, r.data) for r in result.answer] == [
        (f"chain1.{ZONE}.", "CNAME", f"chain2.{ZONE}.")]


async def test_cname_to_a_missing_name_ends_in_nxdomain(server, env):
    # RFC 6604: the rcode is that of the last name in the chain.
    result = await dig(server.port, f"dangling.{ZONE}", "A")
    assert result.status == "NXDOMAIN" and "aa" in result.flags
    assert [(r.type, r.data) for r in result.answer] == [("CNAME", f"nothing.{ZONE}.")]
    assert [r.type for r in result.authority] == ["SOA"]
    # ... and NODATA when the target exists without that type.
    nodata = await dig(server.port, f"alias.{ZONE}", "MX")
    assert nodata.status == "NOERROR"
    assert [r.type for r in nodata.answer] == ["CNAME"]
    assert [r.type for r in nodata.authority] == ["SOA"]


async def test_cname_out_of_the_zone_is_not_chased(server):
    result = await dig(server.port, f"external.{ZONE}", "A")
    assert result.status == "NOERROR" and "aa" in result.flags
    assert [(r.type, r.data) for r in result.answer] == [("CNAME", "www.example.org.")]
    assert result.authority == []


@pytest.mark.parametrize("owner", ["loop1", "self"])
async def test_cname_loop_is_answered_not_hung(server, owner):
    result = await dig(server.port, f"{owner}.{ZONE}", "A")
    assert result.status in ("NOERROR", "SERVFAIL"), result
    assert result.answer, result
    assert {r.type for r in result.answer} == {"CNAME"}
    owners = [r.name for r in result.answer]
    assert len(owners) == len(set(owners)), f"the same CNAME repeated:\n{result}"
    assert owners[0] == f"{owner}.{ZONE}."


async def test_wildcard_synthesizes_answers_for_missing_names(server):
    for qname in (f"x.wild.{ZONE}", f"deep.er.wild.{ZONE}"):
        result = await dig(server.port, qname, "A")
        assert result.status == "NOERROR" and "aa" in result.flags, result
        assert [(r.name, r.type) for r in result.answer] == [(f"{qname}.", "A")]
        assert result.rdata() == records_of("*.wild", "A")
    txt = await dig(server.port, f"x.wild.{ZONE}", "TXT")
    assert txt.rdata() == {f'"{v}"' for v in records_of("*.wild", "TXT")}


async def test_wildcard_without_the_type_is_nodata(server, env):
    assert_negative(await dig(server.port, f"x.wild.{ZONE}", "MX"), env, "NOERROR")


async def test_wildcard_owner_itself_is_an_ordinary_name(server):
    result = await dig(server.port, f"*.wild.{ZONE}", "A")
    assert [r.name for r in result.answer] == [f"*.wild.{ZONE}."]
    assert result.rdata() == records_of("*.wild", "A")


async def test_existing_names_are_not_synthesized(server, env):
    # explicit.wild exists (TXT): its missing A is NODATA, not the wildcard's A.
    assert_negative(await dig(server.port, f"explicit.wild.{ZONE}", "A"), env, "NOERROR")
    txt = await dig(server.port, f"explicit.wild.{ZONE}", "TXT")
    assert txt.rdata() == {'"explicit"'}


async def test_empty_non_terminal_blocks_the_wildcard(server, env):
    # RFC 4592 2.2.2: ent.wild exists (host.ent.wild is below it), so it is
    # NODATA itself, and it is the closest encloser of names below it, which
    # have no *.ent.wild to match: NXDOMAIN, not *.wild.
    assert_negative(await dig(server.port, f"ent.wild.{ZONE}", "A"), env, "NOERROR")
    assert_negative(await dig(server.port, f"x.ent.wild.{ZONE}", "A"), env, "NXDOMAIN")
    real = await dig(server.port, f"host.ent.wild.{ZONE}", "A")
    assert real.rdata() == records_of("host.ent.wild", "A")


async def test_wildcard_cname_is_synthesized_and_followed(server):
    result = await dig(server.port, f"anything.wc.{ZONE}", "A")
    assert [(r.name, r.type) for r in result.answer] == [
        (f"anything.wc.{ZONE}.", "CNAME"), (f"www.{ZONE}.", "A")]
    assert result.rdata(type="A") == records_of("www", "A")


@pytest.mark.parametrize(("qname", "qtype"), [
    (f"host.sub.{ZONE}", "A"),
    (f"deep.below.sub.{ZONE}", "MX"),
    (f"sub.{ZONE}", "NS"),
    (f"sub.{ZONE}", "A"),
    (f"ns1.sub.{ZONE}", "A"),  # glue is not authoritative data
])
async def test_delegation_is_a_referral_with_glue(server, qname, qtype):
    result = await dig(server.port, qname, qtype)
    assert result.status == "NOERROR", result
    assert "aa" not in result.flags, result
    assert result.answer == [], result
    assert {(r.name, r.type) for r in result.authority} == {(f"sub.{ZONE}.", "NS")}
    assert result.rdata("authority") == records_of("sub", "NS")
    # Glue for the in-zone name server only.
    assert {(r.name, r.type, r.data) for r in result.additional} == {
        (f"ns1.sub.{ZONE}.", "A", *records_of("ns1.sub", "A")),
        (f"ns1.sub.{ZONE}.", "AAAA", *records_of("ns1.sub", "AAAA")),
    }


async def test_ds_at_the_cut_is_answered_by_the_parent(server, env):
    assert_negative(await dig(server.port, f"sub.{ZONE}", "DS"), env, "NOERROR")


@pytest.mark.parametrize("args", [
    ("www.example.org", "A"),
    ("test", "SOA"),
    (".", "NS"),
    ("xexample.test", "A"),  # shares a suffix, not a label boundary
])
async def test_names_in_no_served_zone_are_refused(server, args):
    result = await dig(server.port, *args)
    assert result.status == "REFUSED", result
    assert "aa" not in result.flags
    assert result.answer == [] and result.authority == []


async def test_other_classes_are_refused(server):
    for rdclass in ("CH", "HS"):
        result = await dig(server.port, f"www.{ZONE}", rdclass, "A")
        assert result.status == "REFUSED", result
        assert result.answer == []


async def test_any_is_answered_minimally(server):
    # RFC 8482: one RRset of those at the name, not all of them.
    result = await dig(server.port, ZONE, "ANY")
    assert result.status == "NOERROR" and "aa" in result.flags
    assert result.answer, result
    types = {r.type for r in result.answer}
    assert len(types) == 1 and {r.name for r in result.answer} == {f"{ZONE}."}
    (rtype,) = types
    assert rtype in {"SOA", "NS", "MX", "TXT", "DNSKEY"}
    single = await dig(server.port, ZONE, rtype)
    assert result.rdata() == single.rdata()
    www = await dig(server.port, f"www.{ZONE}", "ANY")
    assert len({r.type for r in www.answer}) == 1
    assert {r.type for r in www.answer} <= {"A", "AAAA"}
    assert (await dig(server.port, f"nothing.{ZONE}", "ANY")).status == "NXDOMAIN"


async def test_any_over_tcp_is_minimal_too(server):
    result = await dig(server.port, "+tcp", ZONE, "ANY")
    assert len({r.type for r in result.answer}) == 1


async def test_query_name_case_is_preserved(server):
    calls = 0
    respond = server.server._respond

    def counting(*args, **kwargs):
        nonlocal calls
        calls += 1
        return respond(*args, **kwargs)

    server.server._respond = counting
    first = await dig(server.port, "+nocookie", "WwW.ExAmPlE.TeSt", "A")
    assert first.question == ["WwW.ExAmPlE.TeSt."]
    assert [r.name for r in first.answer] == ["WwW.ExAmPlE.TeSt."]
    assert first.rdata() == records_of("www", "A")
    assert calls == 1
    # Same bytes but for the ID and the case: served from the wire cache, and
    # still in the asker's case.
    second = await dig(server.port, "+nocookie", "wWw.eXaMpLe.tEsT", "A")
    assert calls == 1, "the second query was not answered from the wire cache"
    assert second.question == ["wWw.eXaMpLe.tEsT."]
    assert [r.name for r in second.answer] == ["wWw.eXaMpLe.tEsT."]
    assert second.rdata() == records_of("www", "A")
    # Negative answers and synthesized ones keep the case too.
    nx = await dig(server.port, "+nocookie", "NoThInG.example.TEST", "A")
    assert nx.question == ["NoThInG.example.TEST."] and nx.status == "NXDOMAIN"
    wild = await dig(server.port, "+nocookie", "Some.WILD.example.test", "A")
    assert [r.name for r in wild.answer] == ["Some.WILD.example.test."]


async def test_large_answers_arrive_whole(server):
    result = await dig(server.port, f"big.{ZONE}", "TXT")
    assert result.retried_over_tcp, result
    assert result.rdata() == {f'"{v}"' for v in BIG_TXT}
    assert fqdn("big") + "." == result.answer[0].name
