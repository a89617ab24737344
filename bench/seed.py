"""Seed a fresh dnsgate data dir for the benchmark.

Creates the schema, the ``builtin`` backend, a zone ``bench.test`` (built-in
backend, public, auto-approve) and N accounts, each with one approved ``host``
realm ``h{i}.bench.test`` (types A/AAAA, all operations), one realm token per
realm and (by default) an A record ``192.0.2.0`` at every host, so that the
load generator's PUTs are updates of existing RRsets.

Rows are bulk-inserted with SQLAlchemy Core (the services would take minutes
for 100k); token secrets are hashed with ``dnsgate.domain.tokens.hash_secret``
under the same server key the server will use: pass ``DNSGATE_SECRET_KEY`` to
both (without it the key is generated into the data dir, which the server then
reads too).

Writes ``tokens.txt`` (``<token> <host>`` per line) for the load generator.

    DNSGATE_SECRET_KEY=... python bench/seed.py --data-dir /tmp/bench-data --tokens 100000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, insert, select

from dnsgate.app import build_env
from dnsgate.backends.registry import BUILTIN
from dnsgate.config import Settings
from dnsgate.db import migrate
from dnsgate.db.models import Account, BuiltinRRset, BuiltinZone, Realm, Token, table_of
from dnsgate.domain import tokens
from dnsgate.services import zones
from dnsgate.services.context import SYSTEM_CONTEXT
from dnsgate.services.setup import ensure_builtin_backend

ZONE = "bench.test"
CHUNK = 20_000
OPS = ["read", "create", "update", "delete"]


def _chunks(rows: list[dict[str, object]]) -> list[list[dict[str, object]]]:
    return [rows[i:i + CHUNK] for i in range(0, len(rows), CHUNK)]


def seed(data_dir: Path, count: int, tokens_file: Path, with_records: bool) -> dict[str, float]:
    if data_dir.exists() and any(data_dir.iterdir()):
        sys.exit(f"seed: {data_dir} is not empty; give a fresh directory")
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ["DNSGATE_DATA_DIR"] = str(data_dir)
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    settings = Settings(data_dir=data_dir, database_url=None)
    env = build_env(settings)
    migrate.upgrade(env.db)
    ensure_builtin_backend(env)
    info = asyncio.run(zones.add_zone(
        env, SYSTEM_CONTEXT, caller=None, zone=ZONE, backend=BUILTIN,
        policy=zones.PolicyUpdate(visibility="public", approval="auto")))
    timings["schema_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    now = datetime.now(UTC)
    key = env.key
    accounts: list[dict[str, object]] = []
    realms: list[dict[str, object]] = []
    token_rows: list[dict[str, object]] = []
    rrsets: list[dict[str, object]] = []
    lines: list[str] = []
    with env.db.read() as session:
        base_account = int(session.scalar(select(func.coalesce(func.max(Account.id), 0))) or 0)
        base_realm = int(session.scalar(select(func.coalesce(func.max(Realm.id), 0))) or 0)
        builtin_zone_id = session.scalar(select(BuiltinZone.id).where(BuiltinZone.name == ZONE))
    for i in range(count):
        account_id = base_account + 1 + i
        realm_id = base_realm + 1 + i
        host = f"h{i}.{ZONE}"
        issued = tokens.issue()
        accounts.append(dict(id=account_id, name=f"bench{i}", email=None, role="user",
                             status="active", password_hash=None, totp_secret=None,
                             recovery_codes=None, created_at=now))
        realms.append(dict(id=realm_id, account_id=account_id, zone_id=info.id, name=host,
                           kind="host", types=["A", "AAAA"], ops=OPS, status="approved",
                           reason="", created_at=now, decided_at=now, decided_by=None))
        token_rows.append(dict(
            id=issued.id, realm_id=realm_id, account_id=account_id, name="bench",
            secret_hash=tokens.hash_secret(key, issued.secret), names=None, types=None,
            ops=None, cidrs=None, not_before=None, expires_at=None, max_idle_seconds=None,
            revoked_at=None, last_used_at=None, last_used_ip=None, use_count=0,
            created_at=now))
        if with_records:
            rrsets.append(dict(zone_id=builtin_zone_id, name=host, rtype="A", ttl=300,
                               records=["192.0.2.0"]))
        lines.append(f"{issued.text} {host}\n")
    timings["generate_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    with env.db.engine.begin() as conn:
        for table, rows in ((table_of(Account), accounts), (table_of(Realm), realms),
                            (table_of(Token), token_rows), (table_of(BuiltinRRset), rrsets)):
            for chunk in _chunks(rows):
                conn.execute(insert(table), chunk)
    timings["insert_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    with env.db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.exec_driver_sql("ANALYZE")
    tokens_file.parent.mkdir(parents=True, exist_ok=True)
    tokens_file.write_text("".join(lines))
    timings["finish_s"] = time.perf_counter() - t0
    env.db.dispose()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True,
                        help="fresh (absent or empty) data dir to create")
    parser.add_argument("--tokens", type=int, default=100_000, help="tokens (= accounts, realms)")
    parser.add_argument("--tokens-file", type=Path, default=None,
                        help="where to write '<token> <host>' lines (default DATA_DIR/tokens.txt)")
    parser.add_argument("--no-records", action="store_true",
                        help="do not pre-create the A records (PUTs are then creates)")
    args = parser.parse_args()
    if not os.environ.get("DNSGATE_SECRET_KEY"):
        print("seed: DNSGATE_SECRET_KEY is unset; the key is generated into the data dir",
              file=sys.stderr)
    tokens_file = args.tokens_file or args.data_dir / "tokens.txt"
    start = time.perf_counter()
    timings = seed(args.data_dir.resolve(), args.tokens, tokens_file, not args.no_records)
    total = time.perf_counter() - start
    parts = " ".join(f"{k}={v:.2f}" for k, v in timings.items())
    print(f"seed: {args.tokens} tokens in zone {ZONE} -> {args.data_dir} "
          f"({tokens_file}) in {total:.1f}s [{parts}]")


if __name__ == "__main__":
    main()
