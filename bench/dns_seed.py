"""Seed a fresh dnsgate data dir with the DNS benchmark zone and write the query file.

The zone ``bench.test`` is on the built-in backend (SOA/NS defaults from
``add_zone``) and holds:

- ``h{i}.bench.test`` A ``10.x.y.z`` for i in 0..N-1 (default 1,000);
- ``t{i}.bench.test`` TXT for i in 0..99;
- ``bench.test`` MX (2 records) and TXT (SPF-like);
- ``mail.bench.test`` / ``mx2.bench.test`` A, ``www.bench.test`` CNAME -> h1;
- a wildcard ``*.wild.bench.test`` A.

The query file (dnsperf format, ``<name> <type>`` per line) is a fixed,
shuffled mix: 70% existing A names, 10% NXDOMAIN, 8% TXT, 4% MX at the apex,
4% CNAME (www, asked as A), 4% wildcard matches. The same file is used against
dnsgate and PowerDNS.

    DNSGATE_SECRET_KEY=... python bench/dns_seed.py --data-dir D --queries Q [--hosts 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
from pathlib import Path

from dnsgate.app import build_env
from dnsgate.backends.registry import BUILTIN
from dnsgate.config import Settings
from dnsgate.db import migrate
from dnsgate.domain.records import RRset, Upsert
from dnsgate.services import zones
from dnsgate.services.context import SYSTEM_CONTEXT
from dnsgate.services.setup import ensure_builtin_backend

ZONE = "bench.test"
TXT_COUNT = 100
TTL = 300


def _a(i: int) -> str:
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def changes(hosts: int) -> list[Upsert]:
    out = [Upsert(RRset(f"h{i}.{ZONE}", "A", TTL, (_a(i),))) for i in range(hosts)]
    out += [Upsert(RRset(f"t{i}.{ZONE}", "TXT", TTL, (f"bench text record number {i}",)))
            for i in range(TXT_COUNT)]
    out += [
        Upsert(RRset(ZONE, "MX", TTL, (f"10 mail.{ZONE}", f"20 mx2.{ZONE}"))),
        Upsert(RRset(ZONE, "TXT", TTL, ("v=spf1 mx -all",))),
        Upsert(RRset(f"mail.{ZONE}", "A", TTL, ("192.0.2.25",))),
        Upsert(RRset(f"mx2.{ZONE}", "A", TTL, ("192.0.2.26",))),
        Upsert(RRset(f"www.{ZONE}", "CNAME", TTL, (f"h1.{ZONE}",))),
        Upsert(RRset(f"*.wild.{ZONE}", "A", TTL, ("192.0.2.80",))),
    ]
    return out


def queries(hosts: int, count: int, seed: int = 42) -> list[str]:
    rnd = random.Random(seed)
    lines: list[str] = []
    for n in range(count):
        r = n % 100
        if r < 70:
            lines.append(f"h{rnd.randrange(hosts)}.{ZONE} A")
        elif r < 80:
            lines.append(f"nx{rnd.randrange(100_000)}.{ZONE} A")
        elif r < 88:
            lines.append(f"t{rnd.randrange(TXT_COUNT)}.{ZONE} TXT")
        elif r < 92:
            lines.append(f"{ZONE} MX")
        elif r < 96:
            lines.append(f"www.{ZONE} A")
        else:
            lines.append(f"w{rnd.randrange(1000)}.wild.{ZONE} A")
    rnd.shuffle(lines)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--queries", type=Path, required=True, help="dnsperf query file to write")
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--query-count", type=int, default=10_000)
    args = parser.parse_args()

    data_dir: Path = args.data_dir
    if data_dir.exists() and any(data_dir.iterdir()):
        sys.exit(f"dns_seed: {data_dir} is not empty; give a fresh directory")
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ["DNSGATE_DATA_DIR"] = str(data_dir)
    env = build_env(Settings(data_dir=data_dir, database_url=None))
    migrate.upgrade(env.db)
    ensure_builtin_backend(env)
    asyncio.run(zones.add_zone(env, SYSTEM_CONTEXT, caller=None, zone=ZONE, backend=BUILTIN))
    batch = changes(args.hosts)
    asyncio.run(env.backends.builtin().apply(ZONE, batch))
    args.queries.write_text("\n".join(queries(args.hosts, args.query_count)) + "\n")
    print(f"dns_seed: zone {ZONE}: {len(batch)} RRsets; "
          f"{args.query_count} queries -> {args.queries}")


if __name__ == "__main__":
    main()
