#!/usr/bin/env bash
# Two dnsgate nodes on PostgreSQL + Redis against one node on SQLite, in the same run
# (issue 15, "Two nodes on PostgreSQL"); loopback only. Not a test; it gates nothing.
#
#   bench/cluster.sh                                   # 3 runs x (cluster + SQLite) of 25 s
#   BENCH_RUNS=3 BENCH_DURATION=15s bench/cluster.sh   # quicker
#
# 1. seeds SQLite as bench/run.sh does (bench/seed.py: zone bench.test, BENCH_TOKENS
#    tokens, an A record per host) and, with the same seeder pointed at it, a fresh
#    PostgreSQL 15 (initdb in the work dir, on a free loopback port);
# 2. starts redis-server (free loopback port, no persistence), two `dnsgate serve` nodes
#    (`--workers 1` each: two processes for the two cores) with DNSGATE_DATABASE_URL on
#    that PostgreSQL and DNSGATE_RATE_LIMIT_STORAGE on that Redis, each with its own
#    embedded DNS server, and one `dnsgate serve --workers 2` on SQLite (as bench/run.sh);
#    DNSGATE_WRITE_RATE_LIMIT is very high but still counted (in Redis for the cluster);
# 3. per run: the cluster, then the SQLite node, each for BENCH_DURATION with the same
#    64-client PUT workload as bench/run.sh (bench/put.lua, a distinct token per request,
#    every PUT a real change). The cluster gets two wrk instances of -t1 -c32, one per
#    node, each with its own half of the tokens; their rates are summed and their latency
#    distributions merged (each wrk prints 1,000 quantiles, weighted by its request count);
# 4. CPU (bench/cpu.py): the nodes' own CPU per update, and with PostgreSQL and Redis;
# 5. prints per-run figures, medians, the cluster/SQLite ratio and the targets
#    (cluster >= 1,500 updates/s, p99 <= 60 ms), and writes cluster_summary.json.
#
# PostgreSQL runs with synchronous_commit=off (a commit does not wait for its WAL flush),
# the counterpart of SQLite's WAL + synchronous=NORMAL that dnsgate uses: a crash of
# dnsgate loses nothing, an OS crash may lose the last moments. BENCH_PG_SYNC=on waits
# for the flush instead.
#
# Knobs (environment): BENCH_TOKENS (100000), BENCH_RUNS (3), BENCH_DURATION (25s),
# BENCH_WARMUP (5s), BENCH_WORKDIR (default: a new mktemp dir, kept: logs, wrk outputs,
# summary), BENCH_PG_BINDIR (/usr/lib/postgresql/15/bin), BENCH_PG_SYNC (off),
# BENCH_SQLITE (1; 0 skips the SQLite node), BENCH_QUIET_WAIT (0; wait up to N s before
# each measurement for the rest of the machine to go idle).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TOKENS="${BENCH_TOKENS:-100000}"
RUNS="${BENCH_RUNS:-3}"
DURATION="${BENCH_DURATION:-25s}"
WARMUP="${BENCH_WARMUP:-5s}"
WORK="${BENCH_WORKDIR:-$(mktemp -d /tmp/dnsgate-cluster-bench.XXXXXX)}"
PYTHON="${PYTHON:-$HERE/../.venv/bin/python}"
PGBIN="${BENCH_PG_BINDIR:-/usr/lib/postgresql/15/bin}"
PG_SYNC="${BENCH_PG_SYNC:-off}"
WITH_SQLITE="${BENCH_SQLITE:-1}"

# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
bench_setup cluster.sh  # the server key, DATA/TOKENS_FILE/URL of the SQLite node
for tool in redis-server runuser; do
  command -v "$tool" >/dev/null || { echo "cluster.sh: $tool is missing" >&2; exit 2; }
done
[[ -x "$PGBIN/initdb" ]] || { echo "cluster.sh: no PostgreSQL in $PGBIN (apt-get install postgresql-15)" >&2; exit 2; }

free_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
free_dns_port() { "$PYTHON" -c 'import sys; sys.path.insert(0, sys.argv[1])
from tests.dns.tools import free_dns_port; print(free_dns_port())' "$HERE/.."; }

PG="$WORK/pg"
PG_RUN=""    # set once PostgreSQL runs
REDIS_PID=""
NODE_PIDS=()
SQLITE_PID=""
cleanup() {
  local pid
  for pid in "${NODE_PIDS[@]}" "$SQLITE_PID"; do
    [[ -n "$pid" ]] && kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${NODE_PIDS[@]}" "$SQLITE_PID"; do
    [[ -n "$pid" ]] && timeout 15 tail --pid="$pid" -f /dev/null 2>/dev/null || true
    [[ -n "$pid" ]] && kill -KILL "$pid" 2>/dev/null || true
  done
  [[ -n "$REDIS_PID" ]] && kill -TERM "$REDIS_PID" 2>/dev/null || true
  if [[ -n "$PG_RUN" ]]; then
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PG/data" stop -m fast >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT INT TERM

echo "== work dir: $WORK"
bench_meta "wrk: cluster 2 x (-t1 -c32), SQLite -t2 -c64; -d$DURATION; tokens: $TOKENS" \
  "cluster: 2 nodes x 1 worker, PostgreSQL 15 (synchronous_commit=$PG_SYNC), Redis $(redis-server --version | grep -o 'v=[0-9.]*')"

if [[ "$WITH_SQLITE" == 1 ]]; then
  bench_seed "$TOKENS"
fi

echo "== PostgreSQL 15 in $PG"
id postgres >/dev/null 2>&1 || useradd --system --user-group --no-create-home --shell /usr/sbin/nologin postgres
mkdir -p "$PG"
chown postgres "$PG"
runuser -u postgres -- "$PGBIN/initdb" -D "$PG/data" -U postgres --auth=trust --encoding=UTF8 \
  --no-locale >"$WORK/initdb.log" 2>&1
PGPORT="$(free_port)"
cat >>"$PG/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$PG'
synchronous_commit = $PG_SYNC
max_connections = 200
shared_buffers = 128MB
log_min_messages = warning
EOF
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PG/data" -l "$PG/server.log" -w -t 60 start >/dev/null
PG_RUN=1
PG_PID="$(head -1 "$PG/data/postmaster.pid")"
PG_URL="postgresql+psycopg://postgres@127.0.0.1:$PGPORT/dnsgate"
"$PYTHON" -c 'import psycopg, sys
with psycopg.connect(host="127.0.0.1", port=int(sys.argv[1]), user="postgres", dbname="postgres",
                     autocommit=True) as conn:
    conn.execute("CREATE DATABASE dnsgate")' "$PGPORT"

echo "== seeding $TOKENS tokens into PostgreSQL"
PG_TOKENS="$WORK/tokens-pg.txt"
# bench/seed.py as it is, given the PostgreSQL URL; its closing SQLite PRAGMA becomes a no-op
timeout 600 "$PYTHON" - "$HERE" "$PG_URL" "$WORK/pg-seed-data" "$TOKENS" "$PG_TOKENS" <<'PY'
import sys
from pathlib import Path
here, url, data_dir, count, tokens_file = sys.argv[1:]
sys.path.insert(0, here)
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
import seed

@event.listens_for(Engine, "before_cursor_execute", retval=True)
def _no_pragma(conn, cursor, statement, parameters, context, executemany):
    if conn.dialect.name == "postgresql" and statement.startswith("PRAGMA"):
        return "SELECT 1", {}
    return statement, parameters

plain = seed.Settings
seed.Settings = lambda **kw: plain(**{**kw, "database_url": url})
timings = seed.seed(Path(data_dir), int(count), Path(tokens_file), True)
# seed.py gives accounts and realms explicit ids: move their sequences past them
from dnsgate.db.engine import Database
db = Database(url)
with db.engine.begin() as conn:
    for table in ("accounts", "realms"):
        conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                          f"(SELECT max(id) FROM {table}))"))
    conn.execute(text("ANALYZE"))
db.dispose()
print("seed (PostgreSQL):", " ".join(f"{k}={v:.2f}" for k, v in timings.items()))
PY
awk 'NR % 2 == 1' "$PG_TOKENS" >"$WORK/tokens-pg-a.txt"
awk 'NR % 2 == 0' "$PG_TOKENS" >"$WORK/tokens-pg-b.txt"

echo "== redis-server"
REDIS_PORT="$(free_port)"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" \
  --daemonize no --logfile "$WORK/redis.log" &
REDIS_PID=$!
"$PYTHON" - "$REDIS_PORT" <<'PY'
import socket, sys, time
for _ in range(100):
    try:
        with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1) as s:
            s.sendall(b"PING\r\n")
            if s.recv(7).startswith(b"+PONG"):
                break
    except OSError:
        pass
    time.sleep(0.1)
else:
    sys.exit("redis-server did not answer")
PY

# start_node NAME: `dnsgate serve --workers 1` on the cluster's database and Redis
NODE_URLS=()
start_node() {
  local name="$1" port dns
  port="$(free_port)"; dns="$(free_dns_port)"
  mkdir -p "$WORK/node-$name"
  DNSGATE_DATA_DIR="$WORK/node-$name" DNSGATE_DATABASE_URL="$PG_URL" \
    DNSGATE_RATE_LIMIT_STORAGE="redis://127.0.0.1:$REDIS_PORT/0" \
    DNSGATE_HTTP_PORT="$port" DNSGATE_DNS_PORT="$dns" \
    "$PYTHON" -m dnsgate serve --workers 1 >"$WORK/node-$name.log" 2>&1 &
  NODE_PIDS+=($!)
  NODE_URLS+=("http://127.0.0.1:$port")
  echo "   node $name: http://127.0.0.1:$port, DNS port $dns"
}
wait_url() {
  local url="$1" pid="$2" log="$3"
  for _ in $(seq 300); do
    curl -fsS -o /dev/null --max-time 1 "$url/healthz" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { echo "server died:"; tail -n 30 "$log"; exit 1; }
    sleep 0.2
  done
  echo "server $url not ready"; exit 1
}
echo "== starting two nodes on PostgreSQL + Redis"
start_node a
start_node b
wait_url "${NODE_URLS[0]}" "${NODE_PIDS[0]}" "$WORK/node-a.log"
wait_url "${NODE_URLS[1]}" "${NODE_PIDS[1]}" "$WORK/node-b.log"
if [[ "$WITH_SQLITE" == 1 ]]; then
  echo "== starting one node on SQLite (--workers 2) on $URL"
  "$PYTHON" -m dnsgate serve --workers 2 >"$WORK/server.log" 2>&1 &
  SQLITE_PID=$!
  SERVER_PID=$SQLITE_PID
  wait_url "$URL" "$SQLITE_PID" "$WORK/server.log"
fi

# put.lua, plus 1,000 latency quantiles into $BENCH_QUANTILES for merging two wrk runs
cat >"$WORK/put_quantiles.lua" <<EOF
dofile("$HERE/put.lua")
local put_done = done
function done(summary, latency, requests)
  put_done(summary, latency, requests)
  local out = assert(io.open(os.getenv("BENCH_QUANTILES"), "w"))
  out:write(string.format("requests %d\n", summary.requests))
  for i = 1, 999 do
    out:write(string.format("%.1f %.3f\n", i / 10, latency:percentile(i / 10) / 1000))
  end
  for i = 1, 9 do
    out:write(string.format("%.2f %.3f\n", 99.9 + i / 100, latency:percentile(99.9 + i / 100) / 1000))
  end
  out:close()
end
EOF

# snapshot OUT: machine CPU and the CPU of the nodes, PostgreSQL, Redis, SQLite node
snapshot() {
  "$PYTHON" - "$HERE" "$PG_PID" "$REDIS_PID" "${SQLITE_PID:-0}" "${NODE_PIDS[@]}" >>"$1" <<'PY'
import json, sys, time
sys.path.insert(0, sys.argv[1])
import cpu
pg, redis, sqlite, *nodes = (int(p) for p in sys.argv[2:])
busy, total = cpu.machine()
print(json.dumps({"wall": time.monotonic(), "busy": busy, "total": total,
                  "nodes": sum(cpu.process_tree_cpu(p) for p in nodes),
                  "postgres": cpu.process_tree_cpu(pg), "redis": cpu.process_tree_cpu(redis),
                  "sqlite": cpu.process_tree_cpu(sqlite) if sqlite else 0.0}))
PY
}
wait_quiet() {
  local deadline=$((SECONDS + ${BENCH_QUIET_WAIT:-0}))
  while ((SECONDS < deadline)); do
    local a b
    a="$("$PYTHON" "$HERE/cpu.py" 1)"; sleep 3; b="$("$PYTHON" "$HERE/cpu.py" 1)"
    if "$PYTHON" -c 'import json,sys; a,b=(json.loads(x) for x in sys.argv[1:]);
sys.exit(0 if (b["busy"]-a["busy"])/(b["wall"]-a["wall"])<0.3 else 1)' "$a" "$b"; then return 0; fi
  done
}

# cluster_wrk TAG RUN DURATION: two wrk instances at once, one per node
cluster_wrk() {
  local tag="$1" run="$2" duration="$3" i pids=()
  for i in 0 1; do
    local half; half=$([[ $i == 0 ]] && echo a || echo b)
    BENCH_QUANTILES="$WORK/$tag-$half.q" timeout 300 /usr/bin/time -f 'WRKCPU %U %S' \
      -o "$WORK/$tag-$half.time" wrk -t1 -c32 --latency --timeout 10s -d "$duration" \
      -s "$WORK/put_quantiles.lua" "${NODE_URLS[$i]}" -- "$WORK/tokens-pg-$half.txt" "$run" 1 \
      >"$WORK/$tag-$half.txt" &
    pids+=($!)
  done
  wait "${pids[@]}"
}
sqlite_wrk() {
  local tag="$1" run="$2" duration="$3"
  BENCH_QUANTILES="$WORK/$tag.q" timeout 300 /usr/bin/time -f 'WRKCPU %U %S' -o "$WORK/$tag.time" \
    wrk -t2 -c64 --latency --timeout 10s -d "$duration" -s "$WORK/put_quantiles.lua" "$URL" -- \
    "$TOKENS_FILE" "$run" 2 >"$WORK/$tag.txt"
}

echo "== warm-up ($WARMUP of PUTs each, not counted)"
cluster_wrk warmup-cluster 0 "$WARMUP"
[[ "$WITH_SQLITE" == 1 ]] && sqlite_wrk warmup-sqlite 0 "$WARMUP"

for run in $(seq "$RUNS"); do
  echo "== run $run/$RUNS: cluster (2 nodes) PUTs for $DURATION  (load avg $(cut -d' ' -f1 /proc/loadavg))"
  wait_quiet
  snapshot "$WORK/run$run-cluster.cpu"
  cluster_wrk "run$run-cluster" "$run" "$DURATION"
  snapshot "$WORK/run$run-cluster.cpu"
  grep -h -E '^(BENCH|non-200)' "$WORK/run$run-cluster-a.txt" "$WORK/run$run-cluster-b.txt"
  if [[ "$WITH_SQLITE" == 1 ]]; then
    echo "== run $run/$RUNS: SQLite (1 node) PUTs for $DURATION  (load avg $(cut -d' ' -f1 /proc/loadavg))"
    wait_quiet
    snapshot "$WORK/run$run-sqlite.cpu"
    sqlite_wrk "run$run-sqlite" "$run" "$DURATION"
    snapshot "$WORK/run$run-sqlite.cpu"
    grep -h -E '^(BENCH|non-200)' "$WORK/run$run-sqlite.txt"
  fi
done

echo
echo "== summary"
cat "$WORK/meta.txt"
"$PYTHON" - "$WORK" "$RUNS" <<'PY'
import json, statistics, sys
from pathlib import Path

work, runs = Path(sys.argv[1]), int(sys.argv[2])
TARGET_RPS, TARGET_P99 = 1500.0, 60.0

def bench(path):
    return [json.loads(l[6:]) for l in path.read_text().splitlines() if l.startswith("BENCH ")][0]

def quantiles(path):
    lines = path.read_text().split("\n")
    n = int(lines[0].split()[1])
    return n, [(float(p), float(x)) for p, x in (l.split() for l in lines[1:] if l)]

def merged(parts, q):
    """The q-th percentile of the union of several wrk latency distributions."""
    def cdf(x):  # share of all requests at or below x
        total = sum(n for n, _ in parts)
        return sum(n * max([p for p, v in table if v <= x], default=0.0) / 100
                   for n, table in parts) / total
    xs = sorted({x for _, table in parts for _, x in table})
    return next((x for x in xs if cdf(x) >= q / 100 - 1e-9), xs[-1])

def cpu(path, updates):
    a, b = (json.loads(l) for l in path.read_text().splitlines()[:2])
    wall = b["wall"] - a["wall"]
    d = {k: b[k] - a[k] for k in ("nodes", "postgres", "redis", "sqlite")}
    return {"nodes_ms": 1000 * d["nodes"] / updates,
            "with_db_ms": 1000 * (d["nodes"] + d["postgres"] + d["redis"]) / updates,
            "sqlite_ms": 1000 * d["sqlite"] / updates,
            "machine_cores": (b["busy"] - a["busy"]) / wall,
            "server_cores": (d["nodes"] + d["postgres"] + d["redis"] + d["sqlite"]) / wall}

rows = {"cluster": [], "sqlite": []}
for run in range(1, runs + 1):
    a, b = (work / f"run{run}-cluster-{h}.txt" for h in "ab")
    ba, bb = bench(a), bench(b)
    parts = [quantiles(work / f"run{run}-cluster-{h}.q") for h in "ab"]
    rps = ba["rps"] + bb["rps"]
    row = {"run": run, "rps": rps, "p50_ms": merged(parts, 50), "p99_ms": merged(parts, 99),
           "p99_a_ms": ba["p99_ms"], "p99_b_ms": bb["p99_ms"], "rps_a": ba["rps"], "rps_b": bb["rps"],
           "non200": ba["non200"] + bb["non200"],
           "socket_errors": ba["socket_errors"] + bb["socket_errors"]}
    row.update(cpu(work / f"run{run}-cluster.cpu", ba["requests"] + bb["requests"]))
    rows["cluster"].append(row)
    s = work / f"run{run}-sqlite.txt"
    if s.exists():
        bs = bench(s)
        row = {"run": run, "rps": bs["rps"], "p50_ms": bs["p50_ms"], "p99_ms": bs["p99_ms"],
               "non200": bs["non200"], "socket_errors": bs["socket_errors"]}
        row.update(cpu(work / f"run{run}-sqlite.cpu", bs["requests"]))
        rows["sqlite"].append(row)

print(f"{'run':>3} {'setup':8} {'upd/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'non-200':>7}"
      f" {'CPU ms/upd (dnsgate)':>20} {'(+PG+Redis)':>11} {'machine cores':>13}")
for kind, label in (("cluster", "2 nodes"), ("sqlite", "SQLite")):
    for r in rows[kind]:
        own = r["nodes_ms"] if kind == "cluster" else r["sqlite_ms"]
        extra = f"{r['with_db_ms']:11.3f}" if kind == "cluster" else f"{'-':>11}"
        print(f"{r['run']:>3} {label:8} {r['rps']:8.0f} {r['p50_ms']:7.1f} {r['p99_ms']:7.1f}"
              f" {int(r['non200']):7d} {own:20.3f} {extra} {r['machine_cores']:13.2f}")
for r in rows["cluster"]:
    print(f"    run {r['run']} per node: a {r['rps_a']:.0f} upd/s p99 {r['p99_a_ms']:.1f} ms,"
          f" b {r['rps_b']:.0f} upd/s p99 {r['p99_b_ms']:.1f} ms")
med = {k: {f: statistics.median(r[f] for r in v) for f in v[0] if f != "run"}
       for k, v in rows.items() if v}
c = med["cluster"]
print()
print(f"median of {runs} run(s):")
print(f"  cluster (2 nodes, PostgreSQL + Redis): {c['rps']:.0f} upd/s, p50 {c['p50_ms']:.1f} ms,"
      f" p99 {c['p99_ms']:.1f} ms, dnsgate CPU {c['nodes_ms']:.3f} ms/upd"
      f" ({c['with_db_ms']:.3f} with PostgreSQL and Redis)")
if "sqlite" in med:
    s = med["sqlite"]
    print(f"  one node on SQLite:                    {s['rps']:.0f} upd/s, p50 {s['p50_ms']:.1f} ms,"
          f" p99 {s['p99_ms']:.1f} ms, dnsgate CPU {s['sqlite_ms']:.3f} ms/upd")
    print(f"  cluster / SQLite: {c['rps'] / s['rps']:.2f}x updates/s, p99 {c['p99_ms'] / s['p99_ms']:.2f}x")
bad = sum(int(r["non200"]) + int(r["socket_errors"]) for v in rows.values() for r in v)
print(f"  non-200 + socket errors: {bad}")
print("targets:")
for label, ok, value in ((f"cluster >= {TARGET_RPS:.0f} updates/s", c["rps"] >= TARGET_RPS, f"{c['rps']:.0f}"),
                         (f"cluster p99 <= {TARGET_P99:.0f} ms", c["p99_ms"] <= TARGET_P99, f"{c['p99_ms']:.1f} ms"),
                         ("0 non-200", bad == 0, str(bad))):
    print(f"  [{'met' if ok else 'MISSED':6}] {label:32s} {value}")
(work / "cluster_summary.json").write_text(json.dumps({"median": med, "runs": rows}, indent=1))
PY
echo "(raw outputs in $WORK)"
