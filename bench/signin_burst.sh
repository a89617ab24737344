#!/usr/bin/env bash
# The PUT workload of bench/run.sh alone and under a burst of 20 sign-ins/s, in the same
# run against the same `dnsgate serve` (built-in backend, SQLite); loopback only. Not a
# test; it gates nothing. Issue 15's target: the burst raises the PUT p99 by at most 1.5x.
#
#   bench/signin_burst.sh                                  # 3 pairs x 25 s
#   BENCH_RUNS=3 BENCH_DURATION=15s bench/signin_burst.sh  # quicker
#
# 1. bench/seed.py seeds a fresh data dir (zone bench.test, BENCH_TOKENS tokens, an A
#    record per host) and `dnsgate user create` adds an account with a real password;
# 2. starts `dnsgate serve --workers BENCH_WORKERS` (default one per core) with the write
#    limit and the sign-in limits very high, so every sign-in verifies the password
#    (argon2id) and mints an API key, as a real one does, instead of being refused early;
# 3. per run, in alternating order: wrk with bench/put.lua (-t2 -c64, a distinct token per
#    request, every PUT a real change) alone, and the same with a background loop that
#    starts one sign-in (POST /api/v1/auth/api-keys with the right password) every 50 ms
#    whatever the answers take (open loop, 20/s), for the length of the wrk run;
# 4. prints each run's p50/p99, the sign-ins' statuses and latency, the medians and the
#    ratio of the median p99s (and of each pair's), and writes signin_summary.json.
#
# Knobs (environment): BENCH_TOKENS (100000), BENCH_RUNS (3), BENCH_DURATION (25s),
# BENCH_WARMUP (5s), BENCH_RATE (20, sign-ins per second), BENCH_WORKERS (nproc),
# BENCH_WORKDIR (default: a new mktemp dir, kept), BENCH_DNS_PORT (a free port; 0: off),
# BENCH_LOGIN_LIMITS ("raised", the default: every sign-in is checked, as from many
# addresses; "default": the configured DNSGATE_LOGIN_* limits, so from this one address
# most sign-ins are refused with 429 before any hashing).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TOKENS="${BENCH_TOKENS:-100000}"
RUNS="${BENCH_RUNS:-3}"
DURATION="${BENCH_DURATION:-25s}"
WARMUP="${BENCH_WARMUP:-5s}"
RATE="${BENCH_RATE:-20}"
WORKERS="${BENCH_WORKERS:-$(nproc)}"
WORK="${BENCH_WORKDIR:-$(mktemp -d /tmp/dnsgate-signin-bench.XXXXXX)}"
PYTHON="${PYTHON:-$HERE/../.venv/bin/python}"
USER_NAME=burst
PASSWORD_FILE="$WORK/password"

# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
bench_setup signin_burst.sh
if [[ "${BENCH_LOGIN_LIMITS:-raised}" == raised ]]; then
  export DNSGATE_LOGIN_IP_LIMIT="1000000/minute" DNSGATE_LOGIN_USER_LIMIT="1000000/minute"
fi

echo "== work dir: $WORK"
bench_meta "wrk: -t2 -c64 -d$DURATION, tokens: $TOKENS, workers: $WORKERS, sign-ins: $RATE/s (login limits: ${BENCH_LOGIN_LIMITS:-raised})"
bench_seed "$TOKENS"
(umask 077 && "$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(18))' >"$PASSWORD_FILE")
"$PYTHON" -m dnsgate user create "$USER_NAME" --password-stdin --json <"$PASSWORD_FILE" >/dev/null

cat >"$WORK/signin_loop.py" <<'PY'
"""Start one sign-in every 1/RATE s for SECONDS s, whatever the answers take; print a
JSON line with the statuses and the sign-ins' latency."""
import asyncio, collections, json, sys, time
import httpx

async def main(url, user, password, rate, seconds):
    statuses, took = collections.Counter(), []
    async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
        async def one():
            start = time.perf_counter()
            try:
                r = await client.post(f"{url}/api/v1/auth/api-keys",
                                      json={"username": user, "password": password, "name": "burst"})
                statuses[str(r.status_code)] += 1
            except httpx.HTTPError as exc:
                statuses[type(exc).__name__] += 1
            took.append(1000 * (time.perf_counter() - start))
        tasks, start = [], time.monotonic()
        for i in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
    took.sort()
    pick = lambda q: round(took[min(len(took) - 1, int(q * len(took)))], 1) if took else None
    print(json.dumps({"sent": len(took), "rate": rate, "statuses": dict(statuses),
                      "p50_ms": pick(0.5), "p99_ms": pick(0.99)}))

url, user, password_file, rate, seconds = sys.argv[1:]
asyncio.run(main(url, user, open(password_file).read().strip(), float(rate), float(seconds)))
PY

echo "== starting the server on $URL (workers: $WORKERS)"
"$PYTHON" -m dnsgate serve --workers "$WORKERS" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
wait_for_server

WRK=(wrk -t2 -c64 --latency --timeout 10s)
seconds="${DURATION%s}"  # the sign-in loop runs as long as wrk: BENCH_DURATION in seconds
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "signin_burst.sh: BENCH_DURATION must be like 25s" >&2; exit 2; }
# measure TAG RUN BURST: one wrk PUT run; with BURST=1 the sign-in loop runs beside it
measure() {
  local tag="$1" run="$2" burst="$3" loop=""
  "$PYTHON" "$HERE/cpu.py" "$SERVER_PID" >"$WORK/$tag.txt.cpu"
  if [[ "$burst" == 1 ]]; then
    timeout 300 "$PYTHON" "$WORK/signin_loop.py" "$URL" "$USER_NAME" "$PASSWORD_FILE" "$RATE" \
      "$seconds" >"$WORK/$tag.signin.json" &
    loop=$!
  fi
  timeout 300 /usr/bin/time -f 'WRKCPU %U %S' -o "$WORK/$tag.txt.time" "${WRK[@]}" -d "$DURATION" \
    -s "$HERE/put.lua" "$URL" -- "$TOKENS_FILE" "$run" 2 >"$WORK/$tag.txt"
  if [[ -n "$loop" ]]; then wait "$loop"; fi
  "$PYTHON" "$HERE/cpu.py" "$SERVER_PID" >>"$WORK/$tag.txt.cpu"
  grep -h '^BENCH' "$WORK/$tag.txt"
  if [[ -n "$loop" ]]; then echo "   sign-ins: $(cat "$WORK/$tag.signin.json")"; fi
}

echo "== warm-up ($WARMUP of PUTs with sign-ins, not counted)"
measure warmup 0 1 >/dev/null

for run in $(seq "$RUNS"); do
  if ((run % 2)); then order="alone burst"; else order="burst alone"; fi
  for kind in $order; do
    echo "== run $run/$RUNS: PUTs $([[ $kind == burst ]] && echo "with $RATE sign-ins/s" || echo alone) for $DURATION  (load avg $(cut -d' ' -f1 /proc/loadavg))"
    measure "run$run-$kind" "$run" "$([[ $kind == burst ]] && echo 1 || echo 0)"
  done
done
stop_server

echo
echo "== summary"
cat "$WORK/meta.txt"
"$PYTHON" - "$WORK" "$RUNS" "$HERE" <<'PY'
import json, statistics, sys
from pathlib import Path
work, runs = Path(sys.argv[1]), int(sys.argv[2])
sys.path.insert(0, sys.argv[3])
from summarize import bench_lines, cpu_of

TARGET = 1.5
rows = []
for run in range(1, runs + 1):
    row = {"run": run}
    for kind in ("alone", "burst"):
        path = work / f"run{run}-{kind}.txt"
        b = bench_lines(path)[0]
        b.update(cpu_of(path, b["requests"]))
        row[kind] = b
        signin = work / f"run{run}-{kind}.signin.json"
        if signin.exists():
            row["signin"] = json.loads(signin.read_text())
    row["ratio"] = row["burst"]["p99_ms"] / row["alone"]["p99_ms"]
    rows.append(row)
print(f"{'run':>3} {'PUTs':14} {'upd/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'non-200':>7} {'srv cores':>9}  sign-ins")
for r in rows:
    for kind in ("alone", "burst"):
        b = r[kind]
        s = r.get("signin") if kind == "burst" else None
        extra = (f"{s['sent']} sent {s['statuses']}, p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms"
                 if s else "")
        print(f"{r['run']:>3} {kind:14} {b['rps']:7.0f} {b['p50_ms']:7.1f} {b['p99_ms']:7.1f}"
              f" {int(b['non200']):7d} {b.get('server_cores', 0):9.2f}  {extra}")
    print(f"    p99 with / without the burst: {r['ratio']:.2f}x")
med = {k: {f: statistics.median(r[k][f] for r in rows) for f in ("rps", "p50_ms", "p99_ms")}
       for k in ("alone", "burst")}
ratio = med["burst"]["p99_ms"] / med["alone"]["p99_ms"]
pair = statistics.median(r["ratio"] for r in rows)
print()
print(f"median of {runs} run(s): PUT p99 alone {med['alone']['p99_ms']:.1f} ms, with "
      f"the sign-in burst {med['burst']['p99_ms']:.1f} ms: ratio {ratio:.2f}x (median of the"
      f" per-run ratios {pair:.2f}x); updates/s {med['alone']['rps']:.0f} -> {med['burst']['rps']:.0f}")
print(f"target: p99 ratio <= {TARGET}x: [{'met' if ratio <= TARGET else 'MISSED'}] {ratio:.2f}x")
(work / "signin_summary.json").write_text(json.dumps({"runs": rows, "median": med,
                                                      "ratio": ratio, "pair_ratio": pair}, indent=1))
PY
echo "(raw outputs in $WORK)"
