-- wrk script: dyndns2 updates (GET /nic/update) of h{i}.bench.test, one distinct
-- token per request, each a real change.
--
--   wrk -t2 -c64 -d25s --latency -s bench/dyndns.lua http://127.0.0.1:PORT \
--       -- DYNDNS_TOKENS_FILE RUN NTHREADS
--
-- DYNDNS_TOKENS_FILE has "<base64 of router:token> <host>" lines (made from
-- bench/seed.py's tokens.txt by bench/dyndns_bench.sh), sent as HTTP Basic
-- auth the way ddclient and inadyn do. Thread t (0-based) takes the lines with
-- index % NTHREADS == t, so every request in flight carries a different token.
-- The address is 198.51.100.X with X = (RUN * 64 + pass) % 250 + 1, where pass
-- counts the thread's passes over its tokens: bench/put.lua writes 192.0.2.X,
-- so no dyndns update repeats the address before it (none is a nochg).
-- A response counts as good only if it is HTTP 200 with a body starting with
-- "good"; anything else is counted and sampled in done().

local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "wrk_common.lua")

bad = 0
samples = ""

setup = common.setup

function init(args)
  common.init(args, "dyndns_tokens.txt")
end

function request()
  local auth, host, x = common.next()
  return wrk.format("GET", "/nic/update?hostname=" .. host .. "&myip=198.51.100." .. x, {
    ["Authorization"] = "Basic " .. auth,
  })
end

function response(status, headers, body)
  local text = body or ""
  if status ~= 200 or string.sub(text, 1, 5) ~= "good " then
    common.count_bad(status, text, status .. ":" .. string.sub(text, 1, 8))
  end
end

function done(summary, latency, requests)
  common.report("dyndns", "non-good", summary, latency)
end
