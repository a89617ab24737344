-- wrk script: GET /healthz, the floor of the same server with the same settings.
--
--   wrk -t2 -c64 -d25s --latency -s bench/health.lua http://127.0.0.1:PORT
--
-- Counts non-200 responses per thread and prints a BENCH line in done().

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

non200 = 0

function init(args)
  wrk.path = "/healthz"
  wrk.method = "GET"
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do
    bad = bad + (t:get("non200") or 0)
  end
  local secs = summary.duration / 1e6
  io.write(string.format(
    "BENCH {\"kind\":\"healthz\",\"requests\":%d,\"duration_s\":%.3f,\"rps\":%.1f,"
    .. "\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
    .. "\"non200\":%d,\"socket_errors\":%d}\n",
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, bad,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout))
end
