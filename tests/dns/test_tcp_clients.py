"""One client cannot take every TCP connection: each source address may hold
``tcp_per_client`` (default 8) open connections; one more is closed at once,
while other addresses and UDP are served as before."""

from __future__ import annotations

import asyncio

import dns.message
import pytest

from dnsgate.dnsserver.server import ServerConfig
from tests.dns.conftest import ZONE
from tests.dns.tools import parse, tcp_exchange, udp_exchange

GOOD = dns.message.make_query(f"www.{ZONE}", "A").to_wire()


def answers_www(replies: list[bytes]) -> bool:
    return len(replies) == 1 and [rd.to_text() for rd in parse(replies[0]).answer[0]] == [
        "192.0.2.10"]


async def hold(port: int, count: int, source: str) -> list[asyncio.StreamWriter]:
    held = []
    for _ in range(count):
        _reader, writer = await asyncio.open_connection("127.0.0.1", port,
                                                        local_addr=(source, 0))
        held.append(writer)
    await asyncio.sleep(0.1)  # each accepted and counted
    return held


def test_eight_per_client_by_default():
    assert ServerConfig().tcp_per_client == 8


@pytest.mark.parametrize("per_client", [None, 3])
async def test_a_client_beyond_its_share_is_closed_at_once(zone, start_dns, per_client):
    server = await (start_dns() if per_client is None else start_dns(tcp_per_client=per_client))
    share = server.server.config.tcp_per_client
    held = await hold(server.port, share, "127.0.0.1")
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        # Closed, not left hanging until the idle timeout ...
        assert await tcp_exchange(server.port, GOOD, wait=3) == []
        assert loop.time() - started < 1.0
        # ... while another address, and UDP from this one, are served.
        assert answers_www(await tcp_exchange(server.port, GOOD, source="127.0.0.2"))
        reply = await udp_exchange(server.port, GOOD)
        assert reply is not None and parse(reply).answer
        # One connection let go: room for one more.
        held.pop().close()
        await asyncio.sleep(0.1)
        assert answers_www(await tcp_exchange(server.port, GOOD))
    finally:
        for writer in held:
            writer.close()
    await asyncio.sleep(0.1)
    assert server.server._tcp_per_peer == {}  # every count given back
