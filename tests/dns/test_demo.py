"""The issue's "done when": ``dnsgate demo`` answers
``dig @127.0.0.1 -p PORT home.example.test A`` with the value just PUT through
the API (the README's four requests, then dig)."""

from __future__ import annotations

import httpx

from tests.dns.tools import dig, free_dns_port
from tests.support.factories import bearer
from tests.support.server import cli_env, running


async def test_demo_answers_the_value_just_put(tmp_path, database_url):
    dns_port = free_dns_port()
    env = cli_env(tmp_path / "data", database_url)
    with running("demo", env, args=["--dns-port", str(dns_port)]) as server:
        assert f"DNS: 127.0.0.1 port {dns_port}" in server.banner
        before = await dig(dns_port, "home.example.test", "A")
        assert before.status == "NXDOMAIN" and "aa" in before.flags
        async with httpx.AsyncClient(base_url=f"{server.base}/api/v1") as api:
            login = await api.post("/auth/api-keys", json={
                "username": "admin", "password": server.one_time_password(), "name": "dns"})
            assert login.status_code in (200, 201), login.text
            key = login.json()["key"]
            realm = await api.post("/account/realms", headers=bearer(key), json={
                "zone": "example.test", "name": "home", "kind": "host",
                "types": ["A", "AAAA"]})
            assert realm.status_code in (200, 201), realm.text
            token = await api.post("/account/tokens", headers=bearer(key), json={
                "realm_id": realm.json()["id"], "name": "router"})
            assert token.status_code in (200, 201), token.text
            secret = token.json()["token"]
            for address in ("192.0.2.10", "203.0.113.99"):
                put = await api.put("/zones/example.test/rrsets/home.example.test/A",
                                    headers=bearer(secret),
                                    json={"ttl": 300, "records": [address]})
                assert put.status_code == 200, put.text
                answer = await dig(dns_port, "home.example.test", "A")
                assert answer.status == "NOERROR" and "aa" in answer.flags, answer
                assert [(r.name, r.ttl, r.type, r.data) for r in answer.answer] == [
                    ("home.example.test.", 300, "A", address)]
            tcp = await dig(dns_port, "+tcp", "home.example.test", "A")
            assert tcp.rdata() == {"203.0.113.99"}
