-- wrk script: GET /healthz, the floor of the same server with the same settings.
--
--   wrk -t2 -c64 -d25s --latency -s bench/health.lua http://127.0.0.1:PORT
--
-- Counts non-200 responses per thread and prints a BENCH line in done().

local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "wrk_common.lua")

bad = 0
samples = ""

setup = common.setup

function init(args)
  wrk.path = "/healthz"
  wrk.method = "GET"
end

function response(status, headers, body)
  if status ~= 200 then
    common.count_bad(status, body, status)
  end
end

function done(summary, latency, requests)
  common.report("healthz", "non-200", summary, latency)
end
