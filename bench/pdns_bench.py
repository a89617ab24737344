"""Issue 4 benchmark: the latency dnsgate adds in front of PowerDNS.

A real pdns_server (gsqlite3) and a real ``dnsgate serve`` (SQLite) on
loopback. The same one-RRset change is made N times straight to the PowerDNS
API (``PATCH .../zones/bench.test.``) and N times through dnsgate
(``PUT /api/v1/zones/bench.test/rrsets/<name>/A`` with a scoped token),
interleaved, one request at a time, each a real change (the address
alternates). Prints medians, p90/p99 and the median overhead.

    .venv/bin/python bench/pdns_bench.py [--requests 1000]
"""

from __future__ import annotations

import argparse
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

from tests.support import pdns  # noqa: E402
from tests.support.server import DNSGATE, dnsgate, free_port, stop  # noqa: E402

ZONE = "bench.test"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=100)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dnsgate-pdns-bench-"))
    server = pdns.start(work / "pdns")
    gateway = None
    try:
        server.create_zone(ZONE)
        port = free_port()
        env = {**os.environ, "DNSGATE_DATA_DIR": str(work / "data"), "DNSGATE_DNS_PORT": "0",
               "DNSGATE_HTTP_HOST": "127.0.0.1", "DNSGATE_HTTP_PORT": str(port),
               "DNSGATE_WRITE_RATE_LIMIT": "1000000/second"}
        config = {"api_url": server.api_url, "api_key": server.api_key}
        dnsgate(env, "backend", "add", "pdns", "--provider", "powerdns",
                "--config-json", json.dumps(config), "--json")
        dnsgate(env, "zone", "add", ZONE, "--backend", "pdns", "--public", "--auto-approve",
                "--json")
        dnsgate(env, "user", "create", "bench", "--json")
        realm = dnsgate(env, "realm", "add", "bench", ZONE, f"lab.{ZONE}", "--kind", "subtree",
                        "--types", "A", "--json")
        token = str(dnsgate(env, "token", "create", str(realm["id"]), "--json")["token"])
        gateway = subprocess.Popen([*DNSGATE, "serve"], env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(timeout=10, trust_env=False) as client:
            for _ in range(200):
                try:
                    if client.get(f"{base}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.05)
            direct_url = f"{server.api_url}/api/v1/servers/localhost/zones/{ZONE}."
            direct_headers = {"X-API-Key": server.api_key}
            via_headers = {"Authorization": f"Bearer {token}"}

            def direct(i: int) -> float:
                body = {"rrsets": [{"name": f"direct.lab.{ZONE}.", "type": "A", "ttl": 300,
                                    "changetype": "REPLACE", "records": [
                                        {"content": f"192.0.2.{i % 2 + 1}", "disabled": False}]}]}
                start = time.perf_counter()
                response = client.patch(direct_url, headers=direct_headers, json=body)
                elapsed = time.perf_counter() - start
                assert response.status_code == 204, response.text
                return elapsed

            def through(i: int) -> float:
                url = f"{base}/api/v1/zones/{ZONE}/rrsets/via.lab.{ZONE}/A"
                start = time.perf_counter()
                response = client.put(url, headers=via_headers,
                                      json={"ttl": 300, "records": [f"192.0.2.{i % 2 + 1}"]})
                elapsed = time.perf_counter() - start
                assert response.status_code == 200, response.text
                return elapsed

            for i in range(args.warmup):
                direct(i)
                through(i)
            direct_ms: list[float] = []
            via_ms: list[float] = []
            for i in range(args.requests):
                direct_ms.append(direct(i) * 1000)
                via_ms.append(through(i) * 1000)
    finally:
        if gateway is not None:
            stop(gateway)
        server.stop()
    overhead = statistics.median(via_ms) - statistics.median(direct_ms)
    print(json.dumps({
        "requests": args.requests,
        "direct_pdns_ms": {"p50": round(statistics.median(direct_ms), 3),
                           "p90": round(percentile(direct_ms, 0.9), 3),
                           "p99": round(percentile(direct_ms, 0.99), 3)},
        "through_dnsgate_ms": {"p50": round(statistics.median(via_ms), 3),
                               "p90": round(percentile(via_ms, 0.9), 3),
                               "p99": round(percentile(via_ms, 0.99), 3)},
        "median_overhead_ms": round(overhead, 3),
    }, indent=2))


if __name__ == "__main__":
    main()
