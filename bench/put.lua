-- wrk script: authorized PUTs of h{i}.bench.test/A, one distinct token per request.
--
--   wrk -t2 -c64 -d25s --latency -s bench/put.lua http://127.0.0.1:PORT \
--       -- TOKENS_FILE RUN NTHREADS
--
-- TOKENS_FILE has "<token> <host>" lines (bench/seed.py). Thread t (0-based)
-- uses the lines with index % NTHREADS == t, in order, so no two threads share
-- a token and every in-flight request carries a different token. The address
-- is 192.0.2.X with X = (RUN * 64 + pass) % 250 + 1, where pass counts the
-- thread's passes over its tokens: every PUT changes the RRset (the seed
-- stores 192.0.2.0, and consecutive runs/passes use different X), so none is
-- a no-op. Non-200 responses are counted per thread and printed in done().

local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "wrk_common.lua")

bad = 0
samples = ""

setup = common.setup

function init(args)
  common.init(args, "tokens.txt")
end

function request()
  local token, host, x = common.next()
  return wrk.format("PUT", "/api/v1/zones/bench.test/rrsets/" .. host .. "/A", {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
  }, '{"records":["192.0.2.' .. x .. '"]}')
end

function response(status, headers, body)
  if status ~= 200 then
    common.count_bad(status, body, status)
  end
end

function done(summary, latency, requests)
  common.report("put", "non-200", summary, latency)
end
