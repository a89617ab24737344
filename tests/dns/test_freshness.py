"""A change is answered by DNS at once: in this process before the call that
made it returns (the commit hook), from another process within a second (the
poll)."""

from __future__ import annotations

import asyncio
import time

import dns.asyncquery
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest
from sqlalchemy import select

from dnsgate.app import build_env
from dnsgate.db.models import BuiltinZone
from dnsgate.services.context import SYSTEM_CALLER, SYSTEM_CONTEXT
from tests.dns.conftest import ZONE, put
from tests.dns.tools import dig
from tests.support.factories import bearer
from tests.support.server import DNSGATE, cli_env

OTHER_PROCESS_DEADLINE = 1.0


@pytest.fixture
async def dns_no_poll(zone, start_dns, monkeypatch):
    """A server that never polls: only the commit hook can keep it current."""
    monkeypatch.setattr("dnsgate.dnsserver.service.POLL_SECONDS", 3600.0)
    return await start_dns()


async def ask(port: int, name: str, rtype: str = "A") -> dns.message.Message:
    query = dns.message.make_query(name, rtype)
    return await dns.asyncquery.udp(query, "127.0.0.1", port=port, timeout=3)


def values(response: dns.message.Message, rtype: str = "A") -> set[str]:
    wanted = dns.rdatatype.from_text(rtype)
    return {rd.to_text() for rrset in response.answer if rrset.rdtype == wanted
            for rd in rrset}


def serial_in_db(env, zone: str = ZONE) -> int:
    with env.db.read() as session:
        return int(session.scalars(
            select(BuiltinZone.serial).where(BuiltinZone.name == zone)).one())


async def soa_serial(port: int, zone: str = ZONE) -> int:
    response = await ask(port, zone, "SOA")
    return int(response.answer[0][0].serial)


async def eventually(check, deadline: float, what: str):
    """Poll ``check()`` (async, returns a truthy value when done) until ``deadline`` s."""
    start = time.monotonic()
    while True:
        result = await check()
        if result:
            return time.monotonic() - start
        assert time.monotonic() - start < deadline, f"{what}: not within {deadline} s"
        await asyncio.sleep(0.02)


async def test_service_change_is_answered_before_the_call_returns(dns_no_poll, env):
    port = dns_no_poll.port
    assert values(await ask(port, f"home.{ZONE}")) == {"192.0.2.7"}
    await put(env, ZONE, "home", "A", ["198.51.100.1"])
    assert values(await ask(port, f"home.{ZONE}")) == {"198.51.100.1"}
    assert await soa_serial(port) == serial_in_db(env)
    await put(env, ZONE, "brand-new", "TXT", ["hello"])
    assert values(await ask(port, f"brand-new.{ZONE}", "TXT"), "TXT") == {'"hello"'}


async def test_rest_api_change_is_answered_before_the_response(dns_no_poll, env, world,
                                                               client):
    port = dns_no_poll.port
    alice = world.account("alice")
    token = world.token(world.realm(alice, ZONE, "home", types=["A", "AAAA"])).secret
    for address in ("203.0.113.5", "203.0.113.6"):
        response = await client.put(f"/api/v1/zones/{ZONE}/rrsets/home.{ZONE}/A",
                                    json={"ttl": 120, "records": [address]},
                                    headers=bearer(token))
        assert response.status_code == 200, response.text
        answer = await dig(port, f"home.{ZONE}", "A")
        assert answer.rdata() == {address} and answer.answer[0].ttl == 120
        assert answer.status == "NOERROR" and "aa" in answer.flags
    assert await soa_serial(port) == serial_in_db(env)
    deleted = await client.delete(f"/api/v1/zones/{ZONE}/rrsets/home.{ZONE}/A",
                                  headers=bearer(token))
    assert deleted.status_code == 204, deleted.text
    gone = await dig(port, f"home.{ZONE}", "A")
    assert gone.status == "NXDOMAIN", gone
    assert int(gone.authority[0].data.split()[2]) == serial_in_db(env)


async def test_batches_reshape_wildcards_cuts_and_empty_non_terminals(dns_no_poll, world,
                                                                     client):
    port = dns_no_poll.port
    admin = world.api_key(world.account("root", admin=True))

    async def patch(*changes: dict) -> None:
        response = await client.patch(f"/api/v1/zones/{ZONE}/rrsets",
                                      json={"changes": list(changes)}, headers=bearer(admin))
        assert response.status_code == 200, response.text

    # x.ent.wild is NXDOMAIN while ent.wild is an empty non-terminal ...
    assert (await ask(port, f"x.ent.wild.{ZONE}")).rcode() == dns.rcode.NXDOMAIN
    await patch({"action": "delete", "name": f"host.ent.wild.{ZONE}", "type": "A"})
    # ... and the *.wild wildcard covers it once that name is gone.
    synthesized = await ask(port, f"x.ent.wild.{ZONE}")
    assert values(synthesized) == {"192.0.2.50"}
    assert (await ask(port, f"ent.wild.{ZONE}")).answer  # synthesized too now
    # A new explicit name stops the synthesis for itself only.
    await patch({"action": "upsert", "name": f"x.wild.{ZONE}", "type": "TXT",
                 "records": ["mine"]})
    explicit = await ask(port, f"x.wild.{ZONE}")
    assert explicit.rcode() == dns.rcode.NOERROR and explicit.answer == []
    assert values(await ask(port, f"y.wild.{ZONE}")) == {"192.0.2.50"}
    # A new delegation turns answers into referrals, its removal turns them back.
    await patch({"action": "upsert", "name": f"www.{ZONE}", "type": "NS",
                 "records": ["ns.elsewhere.example.org."]})
    referral = await ask(port, f"www.{ZONE}")
    assert not referral.flags & dns.flags.AA and referral.answer == []
    assert [rrset.rdtype for rrset in referral.authority] == [dns.rdatatype.NS]
    await patch({"action": "delete", "name": f"www.{ZONE}", "type": "NS"})
    back = await ask(port, f"www.{ZONE}")
    assert back.flags & dns.flags.AA and values(back) == {"192.0.2.10"}


async def test_change_by_another_database_object_within_a_second(server, settings):
    other = build_env(settings)  # what another worker process would hold
    try:
        from dnsgate.services import records
        from dnsgate.services.records import ChangeInput

        await records.apply_changes(other, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, zone=ZONE,
                                    inputs=[ChangeInput("upsert", f"home.{ZONE}", "A", 60,
                                                        ["198.51.100.77"])])
        serial = serial_in_db(other)

        async def seen() -> bool:
            return values(await ask(server.port, f"home.{ZONE}")) == {"198.51.100.77"}

        await eventually(seen, OTHER_PROCESS_DEADLINE, "a change of another process")
        assert await soa_serial(server.port) == serial
        await other.backends.builtin().delete_zone(ZONE)

        async def refused() -> bool:
            return (await ask(server.port, f"www.{ZONE}")).rcode() == dns.rcode.REFUSED

        await eventually(refused, OTHER_PROCESS_DEADLINE, "a zone deleted by another process")
    finally:
        other.db.dispose()


async def run_cli(settings, *args: str) -> str:
    env = cli_env(settings.data_dir, settings.database_url)
    process = await asyncio.create_subprocess_exec(
        *DNSGATE, *args, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()
    return stdout.decode()


async def test_zone_added_by_the_cli_is_served_within_a_second(server, settings):
    assert (await ask(server.port, "other.test", "SOA")).rcode() == dns.rcode.REFUSED
    await run_cli(settings, "zone", "add", "other.test", "--backend", "builtin", "--json")

    async def served() -> bool:
        response = await ask(server.port, "other.test", "SOA")
        return response.rcode() == dns.rcode.NOERROR and bool(response.answer)

    await eventually(served, OTHER_PROCESS_DEADLINE, "a zone added by the CLI")
    response = await ask(server.port, "other.test", "NS")
    assert response.flags & dns.flags.AA
    assert values(response, "NS") == {"ns1.other.test."}
    # The zone we had is untouched.
    assert values(await ask(server.port, f"www.{ZONE}")) == {"192.0.2.10"}


async def test_zones_added_and_deleted_in_process_at_once(dns_no_poll, env, world):
    port = dns_no_poll.port
    # A zone below a served one: it answers for its names, with its own SOA.
    assert (await ask(port, f"lab.{ZONE}", "SOA")).rcode() == dns.rcode.NXDOMAIN
    await world.zone(f"lab.{ZONE}")
    await put(env, f"lab.{ZONE}", "www", "A", ["198.51.100.9"])
    soa = await ask(port, f"lab.{ZONE}", "SOA")
    assert soa.rcode() == dns.rcode.NOERROR and soa.flags & dns.flags.AA
    assert soa.answer[0].name.to_text() == f"lab.{ZONE}."
    assert values(await ask(port, f"www.lab.{ZONE}")) == {"198.51.100.9"}
    missing = await ask(port, f"nothing.lab.{ZONE}")
    assert missing.rcode() == dns.rcode.NXDOMAIN
    assert missing.authority[0].name.to_text() == f"lab.{ZONE}."
    assert values(await ask(port, f"www.{ZONE}")) == {"192.0.2.10"}  # the parent's own
    await env.backends.builtin().delete_zone(f"lab.{ZONE}")
    gone = await ask(port, f"www.lab.{ZONE}")
    assert gone.rcode() == dns.rcode.NXDOMAIN  # the parent zone answers again
    assert gone.authority[0].name.to_text() == f"{ZONE}."
    await env.backends.builtin().delete_zone(ZONE)
    assert (await ask(port, f"www.{ZONE}")).rcode() == dns.rcode.REFUSED
