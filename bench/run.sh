#!/usr/bin/env bash
# End-to-end benchmark of dnsgate (issue 2, "Performance"); loopback only.
#
#   bench/run.sh                      # 100k tokens, 3 runs x (healthz + PUT) of 25 s, 64 conns
#   BENCH_RUNS=1 BENCH_DURATION=10s bench/run.sh   # quicker
#
# 1. seeds a fresh SQLite data dir (bench/seed.py: zone bench.test, BENCH_TOKENS tokens),
# 2. starts `dnsgate serve` on a free loopback port (DNSGATE_WRITE_RATE_LIMIT very high),
# 3. waits for /healthz, warms up, then per run: wrk GET /healthz (the floor) and
#    wrk authorized PUTs with distinct tokens (bench/put.lua),
# 4. runs the in-process microbenchmark (bench/decide_bench.py),
# 5. stops the server and prints a summary (bench/summarize.py).
#
# Knobs (environment): BENCH_TOKENS (100000), BENCH_RUNS (3), BENCH_DURATION (25s),
# BENCH_CONNS (64), BENCH_THREADS (2, wrk threads), BENCH_WARMUP (5s),
# BENCH_ITERATIONS (20000, microbenchmark), BENCH_WORKDIR (default: a new mktemp dir;
# kept afterwards, it holds the data, the wrk outputs, server.log and summary.json),
# BENCH_WORKERS (`dnsgate serve --workers`, default: one per core),
# BENCH_SERVER ("dnsgate", the default, = `dnsgate serve`; or "uvicorn" = uvicorn
# with bench/asgi.py and BENCH_UVICORN_ARGS, e.g. "--workers 2"),
# BENCH_DNS_PORT (a free port: the embedded DNS server of `dnsgate serve` listens on
# 127.0.0.1 there and its commit hook runs on every PUT, as in a real deployment; 0 turns
# it off; the default with uvicorn --workers), BENCH_QUIET_WAIT (0; on a shared machine: wait up to this many seconds before each
# measured wrk run until the rest of the machine is idle, < 0.3 cores busy over 3 s),
# BENCH_PROFILE (set to a py-spy output path, e.g. /tmp/put.svg or /tmp/put.txt, to record
# the server during the first PUT run; needs `pip install py-spy`).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TOKENS="${BENCH_TOKENS:-100000}"
RUNS="${BENCH_RUNS:-3}"
DURATION="${BENCH_DURATION:-25s}"
CONNS="${BENCH_CONNS:-64}"
THREADS="${BENCH_THREADS:-2}"
WARMUP="${BENCH_WARMUP:-5s}"
ITERATIONS="${BENCH_ITERATIONS:-20000}"
SERVER="${BENCH_SERVER:-dnsgate}"
WORKERS="${BENCH_WORKERS:-$(nproc)}"  # dnsgate serve --workers: one per core
WORK="${BENCH_WORKDIR:-$(mktemp -d /tmp/dnsgate-bench.XXXXXX)}"
PYTHON="${PYTHON:-$HERE/../.venv/bin/python}"  # the venv ./scripts/test made

# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
if [[ -z "${BENCH_DNS_PORT:-}" && "$SERVER" == uvicorn && "${BENCH_UVICORN_ARGS:-}" == *--workers* ]]; then
  BENCH_DNS_PORT=0  # every worker would start its own DNS server on the same port
fi
bench_setup run.sh
PORT="$DNSGATE_HTTP_PORT"

echo "== work dir: $WORK"
bench_meta "$("$PYTHON" -c 'import importlib.metadata as m
print("packages:", ", ".join(f"{p} {m.version(p)}" for p in
      ("fastapi", "starlette", "uvicorn", "uvloop", "httptools", "sqlalchemy", "pydantic", "limits")))')" \
  "wrk: -t$THREADS -c$CONNS -d$DURATION, tokens: $TOKENS, server: $SERVER (workers: $WORKERS) ${BENCH_UVICORN_ARGS:-}"
bench_seed "$TOKENS"

echo "== starting the server ($SERVER) on $URL"
case "$SERVER" in
  dnsgate)
    "$PYTHON" -m dnsgate serve --workers "$WORKERS" >"$WORK/server.log" 2>&1 &
    ;;
  uvicorn)
    # shellcheck disable=SC2086  # BENCH_UVICORN_ARGS is a list of flags
    (cd "$HERE" && exec "$PYTHON" -m uvicorn --factory asgi:create_app --host 127.0.0.1 \
      --port "$PORT" --no-access-log --log-level warning ${BENCH_UVICORN_ARGS:-}) \
      >"$WORK/server.log" 2>&1 &
    ;;
  *) echo "run.sh: BENCH_SERVER must be dnsgate or uvicorn" >&2; exit 2 ;;
esac
SERVER_PID=$!
wait_for_server

WRK=(wrk "-t$THREADS" "-c$CONNS" --latency --timeout 10s)
# measure OUT WRK-ARGS...: one wrk run, with CPU snapshots around it (bench/cpu.py) and
# wrk's own CPU time, so the summary can show server CPU/request and machine noise.
wait_quiet() {
  local deadline=$((SECONDS + ${BENCH_QUIET_WAIT:-0}))
  while ((SECONDS < deadline)); do
    local a b
    a="$("$PYTHON" "$HERE/cpu.py" "$SERVER_PID")"; sleep 3; b="$("$PYTHON" "$HERE/cpu.py" "$SERVER_PID")"
    if "$PYTHON" -c 'import json,sys; a,b=(json.loads(x) for x in sys.argv[1:]);
w=b["wall"]-a["wall"]; sys.exit(0 if (b["busy"]-a["busy"]-(b["server"]-a["server"]))/w<0.3 else 1)' \
      "$a" "$b"; then return 0; fi
  done
  ((${BENCH_QUIET_WAIT:-0} == 0)) || echo "   (machine still busy after ${BENCH_QUIET_WAIT}s; measuring anyway)"
}
measure() {
  local out="$1"; shift
  wait_quiet
  "$PYTHON" "$HERE/cpu.py" "$SERVER_PID" >"$out.cpu"
  timeout 300 /usr/bin/time -f 'WRKCPU %U %S' -o "$out.time" "${WRK[@]}" "$@" >"$out"
  "$PYTHON" "$HERE/cpu.py" "$SERVER_PID" >>"$out.cpu"
}

echo "== warm-up ($WARMUP of PUTs, not counted)"
timeout 120 "${WRK[@]}" -d "$WARMUP" -s "$HERE/put.lua" "$URL" -- "$TOKENS_FILE" 0 "$THREADS" \
  >"$WORK/wrk-warmup.txt"

for run in $(seq "$RUNS"); do
  echo "== run $run/$RUNS: GET /healthz for $DURATION  (load avg $(cut -d' ' -f1 /proc/loadavg))"
  measure "$WORK/wrk-run$run-healthz.txt" -d "$DURATION" -s "$HERE/health.lua" "$URL"
  grep '^BENCH' "$WORK/wrk-run$run-healthz.txt"
  echo "== run $run/$RUNS: authorized PUTs for $DURATION  (load avg $(cut -d' ' -f1 /proc/loadavg))"
  PROFILER_PID=""
  if [[ -n "${BENCH_PROFILE:-}" && "$run" == 1 ]]; then
    fmt=flamegraph; [[ "$BENCH_PROFILE" == *.txt ]] && fmt=raw
    [[ "$BENCH_PROFILE" == *.json ]] && fmt=speedscope
    py-spy record --format "$fmt" -o "$BENCH_PROFILE" --pid "$SERVER_PID" --subprocesses \
      --duration "${DURATION%s}" --rate 100 --gil >"$WORK/py-spy.log" 2>&1 &
    PROFILER_PID=$!
  fi
  measure "$WORK/wrk-run$run-put.txt" -d "$DURATION" -s "$HERE/put.lua" "$URL" -- \
    "$TOKENS_FILE" "$run" "$THREADS"
  grep -E '^(BENCH|non-200)' "$WORK/wrk-run$run-put.txt"
  if [[ -n "$PROFILER_PID" ]]; then wait "$PROFILER_PID" || true; fi
done

stop_server

echo "== microbenchmark: token check + decide() ($ITERATIONS iterations)"
timeout 300 "$PYTHON" "$HERE/decide_bench.py" --data-dir "$DATA" --tokens-file "$TOKENS_FILE" \
  --iterations "$ITERATIONS" --json >"$WORK/decide.json"

echo
echo "== summary"
cat "$WORK/meta.txt"
"$PYTHON" "$HERE/summarize.py" "$WORK"
echo "(raw outputs in $WORK)"
