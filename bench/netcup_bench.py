"""Issue 4 benchmark: netcup through dnsgate, against the netcup simulator.

A real ``dnsgate serve`` (SQLite) with a netcup backend pointed at
``tests/fakes/netcup.py``; one token per host (``h<i>.bench.example``, kind
host, type A). After a warm-up (login, first record list), ``--clients``
concurrent clients each PUT a new address for their own host again and
again for ``--seconds``. Prints updates/s, p50/p99 latency and the upstream
calls per update counted by the simulator (target: 1).

    .venv/bin/python bench/netcup_bench.py [--clients 8] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.netcup import NetcupSimulator  # noqa: E402
from tests.support.server import DNSGATE, dnsgate, free_port, stop  # noqa: E402

ZONE = "bench.example"


async def client_loop(base: str, token: str, host: str, until: float,
                      latencies: list[float]) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30, trust_env=False) as client:
        i = 0
        while time.perf_counter() < until:
            i += 1
            start = time.perf_counter()
            response = await client.put(
                f"/api/v1/zones/{ZONE}/rrsets/{host}/A",
                headers={"Authorization": f"Bearer {token}"},
                json={"records": [f"198.51.100.{i % 250 + 1}"]})
            latencies.append(time.perf_counter() - start)
            assert response.status_code == 200, response.text


async def run(base: str, tokens: list[tuple[str, str]], seconds: float) -> list[float]:
    latencies: list[float] = []
    until = time.perf_counter() + seconds
    await asyncio.gather(*(client_loop(base, token, host, until, latencies)
                           for token, host in tokens))
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dnsgate-netcup-bench-"))
    simulator = NetcupSimulator(customer_number="424242").start()
    simulator.add_zone(ZONE, ttl=300, records=[("@", "A", "192.0.2.80")])
    server = None
    try:
        port = free_port()
        env = {**os.environ, "DNSGATE_DATA_DIR": str(work / "data"), "DNSGATE_DNS_PORT": "0",
               "DNSGATE_HTTP_HOST": "127.0.0.1", "DNSGATE_HTTP_PORT": str(port),
               "DNSGATE_WRITE_RATE_LIMIT": "1000000/second"}
        config = {"customer_number": simulator.customer_number, "api_key": simulator.api_key,
                  "api_password": simulator.api_password, "endpoint": simulator.url,
                  "zones": [ZONE]}
        dnsgate(env, "backend", "add", "netcup", "--provider", "netcup",
                "--config-json", json.dumps(config), "--json")
        dnsgate(env, "zone", "add", ZONE, "--backend", "netcup", "--public", "--auto-approve",
                "--json")
        tokens: list[tuple[str, str]] = []
        for i in range(args.clients):
            dnsgate(env, "user", "create", f"u{i}", "--json")
            realm = dnsgate(env, "realm", "add", f"u{i}", ZONE, f"h{i}", "--kind", "host",
                            "--types", "A", "--json")
            token = dnsgate(env, "token", "create", str(realm["id"]), "--json")["token"]
            tokens.append((str(token), f"h{i}.{ZONE}"))
        server = subprocess.Popen([*DNSGATE, "serve"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx.get(f"{base}/healthz", trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        asyncio.run(run(base, tokens, 2.0))  # warm-up: login, record list, connections
        simulator.reset_calls()
        latencies = asyncio.run(run(base, tokens, args.seconds))
        calls = dict(simulator.calls)
    finally:
        if server is not None:
            stop(server)
        simulator.stop()
    updates = len(latencies)
    ms = sorted(x * 1000 for x in latencies)
    print(json.dumps({
        "clients": args.clients, "seconds": args.seconds, "updates": updates,
        "updates_per_s": round(updates / args.seconds, 1),
        "p50_ms": round(statistics.median(ms), 2),
        "p99_ms": round(ms[min(len(ms) - 1, int(0.99 * len(ms)))], 2),
        "upstream_calls": calls,
        "upstream_calls_per_update": round(sum(calls.values()) / updates, 3),
    }, indent=2))


if __name__ == "__main__":
    main()
