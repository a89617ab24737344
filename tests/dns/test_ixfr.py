"""IXFR from the change journal (RFC 1995): a secondary at a recent serial gets
only the differences (condensed), and applying them gives exactly the zone a
full transfer gives. dnspython's inbound IXFR applies them: the oracle."""

from __future__ import annotations

import dns.asyncquery
import dns.flags
import dns.message
import dns.rdatatype
import dns.rrset
import dns.xfr
import dns.zone

from dnsgate.services import records
from dnsgate.services.context import SYSTEM_CALLER, SYSTEM_CONTEXT
from dnsgate.services.records import ChangeInput
from tests.dns.conftest import ZONE, put
from tests.dns.test_transfer import axfr, content, expected_zone, set_transfer
from tests.dns.tools import parse, tcp_exchange


async def soa_serial(port: int) -> int:
    reply = await dns.asyncquery.udp(dns.message.make_query(ZONE, "SOA"), "127.0.0.1",
                                     port=port, timeout=3)
    return int(reply.answer[0][0].serial)


async def ixfr_answer(port: int, serial: int) -> list[dns.rrset.RRset]:
    query = dns.message.make_query(ZONE, dns.rdatatype.IXFR)
    query.authority = [dns.rrset.from_text(ZONE + ".", 0, "IN", "SOA", f". . {serial} 0 0 0 0")]
    (reply,) = await tcp_exchange(port, query.to_wire())
    message = parse(reply, one_rr_per_rrset=True)
    assert message.flags & dns.flags.AA
    return list(message.answer)


async def test_a_recent_serial_gets_the_differences_alone(server, env):
    set_transfer(env, allow_transfer=["127.0.0.1"])
    await put(env, ZONE, "home", "A", ["192.0.2.1"], ttl=60)
    since = await soa_serial(server.port)
    await put(env, ZONE, "home", "A", ["192.0.2.2"], ttl=60)  # replaced
    await put(env, ZONE, "new", "TXT", ["fresh"])  # created
    await records.apply_changes(env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, zone=ZONE,
                                inputs=[ChangeInput("delete", f"mail.{ZONE}", "A")])
    current = await soa_serial(server.port)
    answer = await ixfr_answer(server.port, since)
    shape = [(rr.name.to_text(), dns.rdatatype.to_text(rr.rdtype),
              rr[0].serial if rr.rdtype == dns.rdatatype.SOA else rr[0].to_text())
             for rr in answer]
    assert shape == [
        (f"{ZONE}.", "SOA", current),
        (f"{ZONE}.", "SOA", since),
        (f"home.{ZONE}.", "A", "192.0.2.1"), (f"mail.{ZONE}.", "A", "192.0.2.25"),
        (f"{ZONE}.", "SOA", current),
        (f"home.{ZONE}.", "A", "192.0.2.2"), (f"new.{ZONE}.", "TXT", '"fresh"'),
        (f"{ZONE}.", "SOA", current),
    ]


async def test_a_change_made_and_undone_since_is_not_sent(server, env):
    set_transfer(env, allow_transfer=["127.0.0.1"])
    await put(env, ZONE, "home", "A", ["192.0.2.1"], ttl=60)
    since = await soa_serial(server.port)
    await put(env, ZONE, "home", "A", ["192.0.2.2"], ttl=60)
    await put(env, ZONE, "home", "A", ["192.0.2.1"], ttl=60)
    await put(env, ZONE, "home", "TXT", ["kept"])
    answer = await ixfr_answer(server.port, since)
    assert [dns.rdatatype.to_text(rr.rdtype) for rr in answer] == [
        "SOA", "SOA", "SOA", "TXT", "SOA"]


async def test_applying_the_differences_gives_the_zone_a_full_transfer_gives(server, env):
    set_transfer(env, allow_transfer=["127.0.0.1"])
    secondary = await axfr(server.port)
    for index in range(5):
        await put(env, ZONE, f"h{index % 2}", "A", [f"192.0.2.{index}", "192.0.2.200"],
                  ttl=60 + index)
    await records.apply_changes(env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, zone=ZONE, inputs=[
        ChangeInput("delete", f"www.{ZONE}", "AAAA"),
        ChangeInput("upsert", f"www.{ZONE}", "TXT", 300, ["batch"])])
    query, _ = dns.xfr.make_query(secondary)  # IXFR from the secondary's serial
    assert query.question[0].rdtype == dns.rdatatype.IXFR
    await dns.asyncquery.inbound_xfr("127.0.0.1", secondary, query, port=server.port,
                                     timeout=5, lifetime=10)
    assert content(secondary) == await expected_zone(env) == content(await axfr(server.port))


async def test_a_current_secondary_gets_the_soa_alone(server, env):
    set_transfer(env, allow_transfer=["127.0.0.1"])
    await put(env, ZONE, "home", "A", ["192.0.2.3"])
    current = await soa_serial(server.port)
    (soa,) = await ixfr_answer(server.port, current)
    assert soa.rdtype == dns.rdatatype.SOA and soa[0].serial == current
