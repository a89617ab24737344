#!/usr/bin/env bash
# dyndns2 updates/s through /nic/update next to the REST API's authorized PUT,
# in the same run against the same `dnsgate serve` (built-in backend, SQLite);
# loopback only. Not a test; it gates nothing.
#
#   bench/dyndns_bench.sh                                   # 3 runs x (PUT + dyndns) of 25 s
#   BENCH_RUNS=2 BENCH_DURATION=10s bench/dyndns_bench.sh   # quicker
#
# 1. bench/seed.py seeds a fresh data dir: zone bench.test, BENCH_TOKENS accounts, each
#    with a host realm h{i}.bench.test (A/AAAA), one token and an A record 192.0.2.0;
#    the tokens file is turned into HTTP Basic credentials for bench/dyndns.lua;
# 2. starts `dnsgate serve` (DNSGATE_WRITE_RATE_LIMIT very high, embedded DNS server on);
# 3. warms up with both kinds of request, then per run: wrk with bench/put.lua
#    (PUT /api/v1/zones/bench.test/rrsets/h{i}.bench.test/A) and wrk with
#    bench/dyndns.lua (GET /nic/update?hostname=h{i}.bench.test&myip=..., Basic auth),
#    in alternating order; every request a distinct token and a real change;
# 4. prints per-run figures, medians and the ratio dyndns / PUT (target >= 80 %),
#    and writes dyndns_summary.json into the work dir (kept, with server.log and the
#    raw wrk outputs).
#
# Knobs (environment): BENCH_TOKENS (100000), BENCH_RUNS (3), BENCH_DURATION (25s),
# BENCH_CONNS (64), BENCH_THREADS (2), BENCH_WARMUP (5s), BENCH_WORKDIR (default: a new
# mktemp dir), BENCH_DNS_PORT (a free port; 0 turns the embedded DNS server off).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TOKENS="${BENCH_TOKENS:-100000}"
RUNS="${BENCH_RUNS:-3}"
DURATION="${BENCH_DURATION:-25s}"
CONNS="${BENCH_CONNS:-64}"
THREADS="${BENCH_THREADS:-2}"
WARMUP="${BENCH_WARMUP:-5s}"
WORK="${BENCH_WORKDIR:-$(mktemp -d /tmp/dnsgate-dyndns-bench.XXXXXX)}"
PYTHON="${PYTHON:-$HERE/../.venv/bin/python}"  # the venv ./scripts/test made

# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
bench_setup dyndns_bench.sh
DYNDNS_FILE="$WORK/dyndns_tokens.txt"

echo "== work dir: $WORK"
bench_meta "wrk: -t$THREADS -c$CONNS -d$DURATION, tokens: $TOKENS, runs: $RUNS"
bench_seed "$TOKENS"
# "<token> <host>" -> "<base64 of router:token> <host>": the Basic credentials of dyndns.lua
"$PYTHON" - "$TOKENS_FILE" "$DYNDNS_FILE" <<'EOF'
import base64, sys
with open(sys.argv[1]) as src, open(sys.argv[2], "w") as out:
    for line in src:
        token, host = line.split()
        out.write(f"{base64.b64encode(f'router:{token}'.encode()).decode()} {host}\n")
EOF
chmod 600 "$DYNDNS_FILE"

echo "== starting dnsgate serve on $URL (DNS port $BENCH_DNS_PORT)"
"$PYTHON" -m dnsgate serve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
wait_for_server

WRK=(wrk "-t$THREADS" "-c$CONNS" --latency --timeout 10s)
# measure OUT WRK-ARGS...: one wrk run with server CPU snapshots around it (bench/cpu.py).
measure() {
  local out="$1"; shift
  "$PYTHON" "$HERE/cpu.py" "$SERVER_PID" >"$out.cpu"
  timeout 300 "${WRK[@]}" "$@" >"$out"
  "$PYTHON" "$HERE/cpu.py" "$SERVER_PID" >>"$out.cpu"
}
put_run() {  # put_run OUT RUN
  measure "$1" -d "$DURATION" -s "$HERE/put.lua" "$URL" -- "$TOKENS_FILE" "$2" "$THREADS"
  grep -E '^(BENCH|non-200)' "$1"
}
dyndns_run() {  # dyndns_run OUT RUN
  measure "$1" -d "$DURATION" -s "$HERE/dyndns.lua" "$URL" -- "$DYNDNS_FILE" "$2" "$THREADS"
  grep -E '^(BENCH|non-good)' "$1"
}

echo "== warm-up ($WARMUP of each, not counted)"
timeout 120 "${WRK[@]}" -d "$WARMUP" -s "$HERE/put.lua" "$URL" -- "$TOKENS_FILE" 0 "$THREADS" \
  >"$WORK/wrk-warmup-put.txt"
timeout 120 "${WRK[@]}" -d "$WARMUP" -s "$HERE/dyndns.lua" "$URL" -- "$DYNDNS_FILE" 0 \
  "$THREADS" >"$WORK/wrk-warmup-dyndns.txt"

for run in $(seq "$RUNS"); do
  if ((run % 2)); then order=(put dyndns); else order=(dyndns put); fi
  for kind in "${order[@]}"; do
    echo "== run $run/$RUNS: $kind for $DURATION  (load avg $(cut -d' ' -f1 /proc/loadavg))"
    "${kind}_run" "$WORK/wrk-run$run-$kind.txt" "$run"
  done
done

stop_server

echo
echo "== summary"
cat "$WORK/meta.txt"
"$PYTHON" - "$WORK" <<'EOF'
import json, statistics, sys
from pathlib import Path

TARGET = 0.80
work = Path(sys.argv[1])
runs = {"put": [], "dyndns": []}
for path in sorted(work.glob("wrk-run*-*.txt")):
    rows = [json.loads(line[6:]) for line in path.read_text().splitlines()
            if line.startswith("BENCH ")]
    cpu = Path(f"{path}.cpu").read_text().splitlines()
    a, b = json.loads(cpu[0]), json.loads(cpu[1])
    for row in rows:
        row["run"] = int(path.name.split("-")[1][3:])
        row["server_cpu_ms_per_req"] = (1000 * (b["server"] - a["server"]) / row["requests"]
                                        if row["requests"] else 0.0)
        runs[row["kind"]].append(row)
if not runs["put"] or not runs["dyndns"]:
    sys.exit("summary: no wrk results")
print(f"{'run':>4} {'kind':7} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
      f" {'bad':>5} {'sock err':>8} {'srv CPU ms/req':>14}")
for kind in ("put", "dyndns"):
    for r in sorted(runs[kind], key=lambda r: r["run"]):
        print(f"{r['run']:>4} {kind:7} {r['rps']:9.1f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f}"
              f" {r['max_ms']:8.1f} {int(r['non200']):5d} {int(r['socket_errors']):8d}"
              f" {r['server_cpu_ms_per_req']:14.3f}")
med = {kind: {k: statistics.median(r[k] for r in rows)
              for k in ("rps", "p50_ms", "p99_ms", "server_cpu_ms_per_req")}
       for kind, rows in runs.items()}
per_run = {r["run"]: r["rps"] for r in runs["put"]}
ratios = [r["rps"] / per_run[r["run"]] for r in runs["dyndns"] if per_run.get(r["run"])]
ratio = med["dyndns"]["rps"] / med["put"]["rps"]
bad = sum(int(r["non200"]) + int(r["socket_errors"]) for rows in runs.values() for r in rows)
print()
print(f"median of {len(runs['put'])} run(s):")
for kind, label in (("put", "REST PUT      "), ("dyndns", "dyndns2 update")):
    m = med[kind]
    print(f"  {label}: {m['rps']:8.1f} upd/s  p50 {m['p50_ms']:.2f} ms  p99 {m['p99_ms']:.2f} ms"
          f"  server CPU {m['server_cpu_ms_per_req']:.3f} ms/req")
print(f"  dyndns / PUT  : {100 * ratio:.1f} % of the median"
      f" (per run: {', '.join(f'{100 * x:.1f} %' for x in ratios)})")
print(f"  failed requests (non-200 / not 'good' / socket errors): {bad}")
ok = ratio >= TARGET and bad == 0
print(f"target dyndns >= {100 * TARGET:.0f} % of PUT, 0 failures: {'met' if ok else 'MISSED'}")
(work / "dyndns_summary.json").write_text(json.dumps(
    {"median": med, "runs": runs, "ratio": ratio, "per_run_ratio": ratios, "failed": bad,
     "target_met": ok}, indent=1))
EOF
echo "(raw outputs in $WORK)"
