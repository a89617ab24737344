"""The DNS service as the app runs it: started and stopped by the lifespan of
``create_app`` when ``dns_port`` is set, absent when it is 0."""

from __future__ import annotations

import asyncio

import dns.asyncquery
import dns.message
import dns.rcode

from dnsgate.app import create_app
from tests.dns.conftest import ZONE
from tests.dns.tools import free_dns_port, udp_exchange


async def test_lifespan_starts_and_stops_the_dns_server(zone, settings, env):
    port = free_dns_port()
    app = create_app(settings.model_copy(update={"dns_port": port, "dns_amplification": 3}),
                     env=env, migrate_on_start=False)
    query = dns.message.make_query(f"www.{ZONE}", "A")
    async with app.router.lifespan_context(app):
        assert app.state.dns is not None and app.state.dns.port == port
        assert app.state.dns.service.server.config.amplification == 3
        response = await dns.asyncquery.udp(query, "127.0.0.1", port=port, timeout=3)
        assert response.rcode() == dns.rcode.NOERROR
        assert [rd.to_text() for rd in response.answer[0]] == ["192.0.2.10"]
        response = await dns.asyncquery.tcp(query, "127.0.0.1", port=port, timeout=3)
        assert [rd.to_text() for rd in response.answer[0]] == ["192.0.2.10"]
    # Stopped with the app: nothing answers on that port any more.
    assert await udp_exchange(port, query.to_wire(), wait=0.5) is None


async def test_dns_port_zero_means_no_dns_server(zone, settings, env):
    assert settings.dns_port == 0
    app = create_app(settings, env=env, migrate_on_start=False)
    async with app.router.lifespan_context(app):
        assert app.state.dns is None


async def test_stop_closes_tcp_connections_that_are_still_open(zone, settings, env):
    """A client that keeps its TCP connection open must not keep the DNS
    server's loop from closing (it used to fail with EBUSY, now and then)."""
    port = free_dns_port()
    app = create_app(settings.model_copy(update={"dns_port": port}), env=env,
                     migrate_on_start=False)
    query = dns.message.make_query(f"www.{ZONE}", "A").to_wire()
    async with asyncio.timeout(30):  # without the fix this hung, or the stop raised
        async with app.router.lifespan_context(app):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(len(query).to_bytes(2, "big") + query)
            size = int.from_bytes(await reader.readexactly(2), "big")
            answer = dns.message.from_wire(await reader.readexactly(size))
            assert [rd.to_text() for rd in answer.answer[0]] == ["192.0.2.10"]
            server = app.state.dns.service.server
            assert len(server._tcp_clients) == 1  # open, waiting for the next query
        assert await reader.read() == b""  # the server closed it
    writer.close()
