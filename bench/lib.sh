# Shared by the wrk benchmarks (run.sh, dyndns_bench.sh); sourced, not run.
#
# bench_setup NAME needs HERE (bench/), WORK (the work dir) and PYTHON, and sets
# DATA, TOKENS_FILE, URL and the environment of `dnsgate serve`: a server key kept
# in the work dir (mode 0600, the seeder, the server and the microbenchmark share
# it), a very high write rate limit, the HTTP server on a free loopback port and
# the embedded DNS server on BENCH_DNS_PORT (a free port unless set; 0 turns it
# off). It also arranges for the server to be stopped on exit.

bench_setup() {
  local name="$1"
  command -v wrk >/dev/null || { echo "$name: wrk is not installed (apt-get install wrk)" >&2; exit 2; }
  mkdir -p "$WORK"
  DATA="$WORK/data"
  TOKENS_FILE="$WORK/tokens.txt"
  if [[ ! -s "$WORK/secret_key" ]]; then
    (umask 077 && "$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(48))' >"$WORK/secret_key")
  fi
  DNSGATE_SECRET_KEY="$(cat "$WORK/secret_key")"
  export DNSGATE_SECRET_KEY
  export DNSGATE_DATA_DIR="$DATA"
  unset DNSGATE_DATABASE_URL
  export DNSGATE_WRITE_RATE_LIMIT="1000000/second"
  export DNSGATE_LOG_LEVEL="warning"
  local port
  port="$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  export DNSGATE_HTTP_HOST=127.0.0.1 DNSGATE_HTTP_PORT="$port"
  URL="http://127.0.0.1:$port"
  if [[ -z "${BENCH_DNS_PORT:-}" ]]; then
    BENCH_DNS_PORT="$("$PYTHON" -c 'import socket
for _ in range(50):
    t = socket.socket(); t.bind(("127.0.0.1", 0)); port = t.getsockname()[1]
    u = socket.socket(type=socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", port))
    except OSError:
        continue
    print(port); break')"
  fi
  export DNSGATE_DNS_HOST=127.0.0.1 DNSGATE_DNS_PORT="$BENCH_DNS_PORT"
  SERVER_PID=""
  trap stop_server EXIT INT TERM
}

# bench_meta LINE...: what was measured (time, commit, Python, CPUs, then LINEs), also
# into WORK/meta.txt.
bench_meta() {
  {
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "source: $(git -C "$HERE/.." rev-parse --short HEAD 2>/dev/null || echo unknown)" \
      "$(git -C "$HERE/.." status --porcelain -- src 2>/dev/null | grep -q . && echo '(src/ has uncommitted changes)')"
    echo "python: $("$PYTHON" -c 'import sys; print(sys.version.split()[0])')"
    printf '%s\n' "$@"
    echo "cpus: $(nproc), $(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | xargs)"
  } | tee "$WORK/meta.txt"
}

# bench_seed TOKENS: a fresh data dir with TOKENS tokens (bench/seed.py), and TOKENS_FILE.
bench_seed() {
  echo "== seeding $1 tokens"
  timeout 300 "$PYTHON" "$HERE/seed.py" --data-dir "$DATA" --tokens "$1" \
    --tokens-file "$TOKENS_FILE"
}

# wait_for_server: until the server started in the background as SERVER_PID answers.
wait_for_server() {
  for _ in $(seq 150); do
    if curl -fsS -o /dev/null --max-time 1 "$URL/healthz" 2>/dev/null; then break; fi
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "server died:"; cat "$WORK/server.log"; exit 1; }
    sleep 0.2
  done
  curl -fsS -o /dev/null --max-time 2 "$URL/healthz" || { echo "server not ready"; exit 1; }
}

stop_server() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}
