"""The DNS service as the app runs it: started and stopped by the lifespan of
``create_app`` when ``dns_port`` is set, absent when it is 0."""

from __future__ import annotations

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
