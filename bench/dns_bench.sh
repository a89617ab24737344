#!/usr/bin/env bash
# DNS benchmark (issue 3, "Performance"): dnsgate's embedded authoritative server vs
# PowerDNS (gsqlite3 backend) serving the same zone with the same query mix; loopback only.
#
#   bench/dns_bench.sh                                  # 3 alternating runs x 15 s each
#   DNS_BENCH_RUNS=1 DNS_BENCH_DURATION=5 bench/dns_bench.sh   # quick look
#
# 1. bench/dns_seed.py seeds a fresh dnsgate SQLite data dir (zone bench.test on the
#    built-in backend: 1,000 A + TXT/MX/CNAME/wildcard) and writes queries.txt;
# 2. starts `dnsgate serve` (HTTP and DNS on free loopback ports), AXFRs the zone from it
#    and loads that into a fresh PowerDNS sqlite3 database (pdnsutil load-zone);
# 3. starts pdns_server (own config dir, gsqlite3, default threads and caches);
# 4. checks that both give the same answers on a sample and that no answer is truncated;
# 5. dnsperf, unlimited rate (-T 1 -c 8 -q 100 -e), alternating dnsgate/pdns, RUNS times;
# 6. dnsperf at a fixed rate (-Q) of DNS_BENCH_RATE_PCT % of dnsgate's median QPS against
#    both, checking 0 lost queries (steps the rate down by 10 % if dnsgate lost any);
# 7. bench/dns_summary.py prints the tables and writes dns_summary.json.
#
# Needs: dnsperf, pdns-server, pdns-backend-sqlite3, bind9-dnsutils (dig), sqlite3, and
# dnsgate installed (PYTHON / DNSGATE default to .venv). Knobs: DNS_BENCH_RUNS (3),
# DNS_BENCH_DURATION (15 s), DNS_BENCH_CLIENTS (8), DNS_BENCH_OUTSTANDING (100),
# DNS_BENCH_HOSTS (1000), DNS_BENCH_RATE_PCT (90), DNS_BENCH_WORKDIR (default: mktemp; kept).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
RUNS="${DNS_BENCH_RUNS:-3}"
DURATION="${DNS_BENCH_DURATION:-15}"
CLIENTS="${DNS_BENCH_CLIENTS:-8}"
OUTSTANDING="${DNS_BENCH_OUTSTANDING:-100}"
HOSTS="${DNS_BENCH_HOSTS:-1000}"
RATE_PCT="${DNS_BENCH_RATE_PCT:-90}"
WORK="${DNS_BENCH_WORKDIR:-$(mktemp -d /tmp/dnsgate-dnsbench.XXXXXX)}"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
[[ -x "$PYTHON" ]] || PYTHON=python3
DNSGATE="${DNSGATE:-$ROOT/.venv/bin/dnsgate}"
[[ -x "$DNSGATE" ]] || DNSGATE=dnsgate

for tool in dnsperf pdns_server pdnsutil dig sqlite3; do
  command -v "$tool" >/dev/null || {
    echo "dns_bench: $tool is missing (apt-get install dnsperf pdns-server pdns-backend-sqlite3 bind9-dnsutils sqlite3)" >&2
    exit 2; }
done
SCHEMA=""
for f in /usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql \
         /usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql; do
  [[ -r "$f" ]] && { SCHEMA="$f"; break; }
done
[[ -n "$SCHEMA" ]] || { echo "dns_bench: PowerDNS sqlite3 schema not found" >&2; exit 2; }

mkdir -p "$WORK"
if [[ -n "$(ls -A "$WORK" 2>/dev/null)" ]]; then
  echo "dns_bench: $WORK is not empty" >&2; exit 2
fi
free_port() {
  "$PYTHON" - <<'EOF'
import socket
# a port free for both UDP and TCP
while True:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))
    port = u.getsockname()[1]
    t = socket.socket()
    try:
        t.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        t.close(); u.close()
    print(port); break
EOF
}
(umask 077 && "$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(48))' >"$WORK/secret_key")
DNSGATE_SECRET_KEY="$(cat "$WORK/secret_key")"
export DNSGATE_SECRET_KEY DNSGATE_DATA_DIR="$WORK/data" DNSGATE_LOG_LEVEL=warning
unset DNSGATE_DATABASE_URL
HTTP_PORT="$(free_port)"
DG_PORT="$(free_port)"
PDNS_PORT="$(free_port)"
while [[ "$PDNS_PORT" == "$DG_PORT" || "$PDNS_PORT" == "$HTTP_PORT" ]]; do PDNS_PORT="$(free_port)"; done
QUERIES="$WORK/queries.txt"

DG_PID="" PDNS_PID=""
stop_all() {
  local pid
  for pid in "$DG_PID" "$PDNS_PID"; do
    [[ -n "$pid" ]] || continue
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
trap stop_all EXIT INT TERM

wait_dns() {  # port pid log
  for _ in $(seq 1 100); do
    kill -0 "$2" 2>/dev/null || { echo "dns_bench: server died:" >&2; cat "$3" >&2; exit 1; }
    dig +short +time=1 +tries=1 @127.0.0.1 -p "$1" bench.test SOA 2>/dev/null | grep -q . && return 0
    sleep 0.2
  done
  echo "dns_bench: no DNS answer on port $1" >&2; cat "$3" >&2; exit 1
}

echo "== work dir: $WORK"
{
  echo "commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "date: $(date -u +%FT%TZ)"
  echo "cpus: $(nproc)"
  dnsperf -h 2>&1 | grep -i '^version' || true
  dpkg-query -W dnsperf pdns-server pdns-backend-sqlite3 2>/dev/null || true
  "$PYTHON" --version
} >"$WORK/meta.txt"

echo "== seeding dnsgate (zone bench.test, $HOSTS hosts)"
timeout 120 "$PYTHON" "$HERE/dns_seed.py" --data-dir "$WORK/data" --queries "$QUERIES" --hosts "$HOSTS"
timeout 60 "$DNSGATE" zone set bench.test --allow-transfer 127.0.0.1 >/dev/null

echo "== starting dnsgate serve (DNS 127.0.0.1:$DG_PORT)"
"$DNSGATE" serve --host 127.0.0.1 --port "$HTTP_PORT" --dns-host 127.0.0.1 --dns-port "$DG_PORT" \
  >"$WORK/dnsgate.log" 2>&1 &
DG_PID=$!
wait_dns "$DG_PORT" "$DG_PID" "$WORK/dnsgate.log"

echo "== AXFR from dnsgate -> PowerDNS sqlite3 database"
timeout 30 dig +nocmd +nostats +noquestion +onesoa @127.0.0.1 -p "$DG_PORT" bench.test AXFR \
  | grep -v '^;' | grep . >"$WORK/bench.test.zone"
AXFR_RRS="$(wc -l <"$WORK/bench.test.zone")"
echo "   $AXFR_RRS records"
mkdir -p "$WORK/pdns"
sqlite3 "$WORK/pdns/pdns.sqlite3" <"$SCHEMA"
cat >"$WORK/pdns/pdns.conf" <<EOF
launch=gsqlite3
gsqlite3-database=$WORK/pdns/pdns.sqlite3
local-address=127.0.0.1
local-port=$PDNS_PORT
socket-dir=$WORK/pdns
daemon=no
guardian=no
disable-syslog=yes
security-poll-suffix=
webserver=no
api=no
EOF
timeout 60 pdnsutil --config-dir="$WORK/pdns" load-zone bench.test "$WORK/bench.test.zone" \
  >"$WORK/pdnsutil.log" 2>&1 || { cat "$WORK/pdnsutil.log" >&2; exit 1; }

echo "== starting pdns_server (127.0.0.1:$PDNS_PORT)"
pdns_server --config-dir="$WORK/pdns" >"$WORK/pdns.log" 2>&1 &
PDNS_PID=$!
wait_dns "$PDNS_PORT" "$PDNS_PID" "$WORK/pdns.log"

echo "== same answers? (sample of the query mix, EDNS bufsize 1232 as dnsperf -e)"
sort -u "$QUERIES" | awk 'NR % 50 == 1' | head -60 >"$WORK/sample.txt"
for q in "bench.test MX" "www.bench.test A" "w1.wild.bench.test A" "nx1.bench.test A" \
         "t1.bench.test TXT" "bench.test SOA" "bench.test NS"; do echo "$q"; done >>"$WORK/sample.txt"
MISMATCH=0 TRUNC=0
while read -r name type; do
  for who in dnsgate pdns; do
    port="$DG_PORT"; [[ "$who" == pdns ]] && port="$PDNS_PORT"
    out="$(dig +norec +ignore +bufsize=1232 +time=2 +tries=1 @127.0.0.1 -p "$port" "$name" "$type")"
    grep -q 'flags:[^;]* tc' <<<"$out" && { echo "   TRUNCATED ($who): $name $type"; TRUNC=$((TRUNC + 1)); }
    status="$(grep -o 'status: [A-Z]*' <<<"$out" || echo 'status: NONE')"
    # answer section, TTLs and order aside
    answer="$(sed -n '/ANSWER SECTION/,/^$/p' <<<"$out" | { grep -v '^;' || true; } \
      | awk 'NF {$2=""; print tolower($0)}' | sort)"
    printf '%s\n%s\n' "$status" "$answer" >"$WORK/cmp.$who"
  done
  if ! cmp -s "$WORK/cmp.dnsgate" "$WORK/cmp.pdns"; then
    echo "   DIFFERENT: $name $type"; diff "$WORK/cmp.dnsgate" "$WORK/cmp.pdns" | sed 's/^/     /' || true
    MISMATCH=$((MISMATCH + 1))
  fi
done <"$WORK/sample.txt"
echo "   $(wc -l <"$WORK/sample.txt") queries compared: $MISMATCH different, $TRUNC truncated"
echo "sample: $(wc -l <"$WORK/sample.txt") compared, $MISMATCH different, $TRUNC truncated" >>"$WORK/meta.txt"

port_of() { if [[ "$1" == dnsgate ]]; then echo "$DG_PORT"; else echo "$PDNS_PORT"; fi; }
perf() {  # server duration outfile [extra dnsperf args]
  local who="$1" dur="$2" outf="$3"; shift 3
  timeout $((dur + 30)) dnsperf -s 127.0.0.1 -p "$(port_of "$who")" -d "$QUERIES" -l "$dur" \
    -c "$CLIENTS" -T 1 -q "$OUTSTANDING" -e -t 2 "$@" >"$outf" 2>&1 \
    || { echo "dns_bench: dnsperf failed:" >&2; cat "$outf" >&2; exit 1; }
}

echo "== warm-up (3 s each)"
perf dnsgate 3 "$WORK/warmup-dnsgate.txt"
perf pdns 3 "$WORK/warmup-pdns.txt"

echo "== unlimited rate: $RUNS alternating runs of ${DURATION}s (-c $CLIENTS -T 1 -q $OUTSTANDING -e)"
for run in $(seq 1 "$RUNS"); do
  for who in dnsgate pdns; do
    perf "$who" "$DURATION" "$WORK/max-$who-$run.txt"
    echo "   run $run $who: $("$PYTHON" "$HERE/dns_summary.py" --qps "$WORK/max-$who-$run.txt") QPS"
  done
done

DG_MEDIAN="$(for f in "$WORK"/max-dnsgate-*.txt; do "$PYTHON" "$HERE/dns_summary.py" --qps "$f"; done | sort -n \
  | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
RATE=$((DG_MEDIAN * RATE_PCT / 100))
echo "== fixed rate: -Q $RATE ($RATE_PCT % of dnsgate's median $DG_MEDIAN), ${DURATION}s each"
for _ in 1 2 3 4; do
  perf dnsgate "$DURATION" "$WORK/rate-dnsgate-$RATE.txt" -Q "$RATE"
  perf pdns "$DURATION" "$WORK/rate-pdns-$RATE.txt" -Q "$RATE"
  LOST="$(grep -o 'Queries lost: *[0-9]*' "$WORK/rate-dnsgate-$RATE.txt" | grep -o '[0-9]*$')"
  echo "   -Q $RATE: dnsgate lost $LOST"
  [[ "$LOST" == 0 ]] && break
  RATE=$((RATE * 9 / 10))
done

echo "== summary"
"$PYTHON" "$HERE/dns_summary.py" "$WORK"
echo "work dir kept: $WORK (dnsperf outputs, logs, zone file, dns_summary.json, meta.txt)"
