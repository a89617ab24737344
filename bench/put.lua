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

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local tokens = {}
local hosts = {}
local n = 0
local pos = 0
local run = 0
non200 = 0
statuses = ""
local seen = {}

function init(args)
  local file = args[1] or "tokens.txt"
  run = tonumber(args[2] or "0")
  local nthreads = tonumber(args[3] or "1")
  local i = 0
  for line in io.lines(file) do
    if i % nthreads == id then
      local tok, host = line:match("^(%S+)%s+(%S+)$")
      n = n + 1
      tokens[n] = tok
      hosts[n] = host
    end
    i = i + 1
  end
  if n == 0 then
    error("no tokens for thread " .. id .. " in " .. file)
  end
end

function request()
  local k = pos % n + 1
  local pass = math.floor(pos / n)
  pos = pos + 1
  local x = (run * 64 + pass) % 250 + 1
  return wrk.format("PUT", "/api/v1/zones/bench.test/rrsets/" .. hosts[k] .. "/A", {
    ["Authorization"] = "Bearer " .. tokens[k],
    ["Content-Type"] = "application/json",
  }, '{"records":["192.0.2.' .. x .. '"]}')
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
    if not seen[status] then
      seen[status] = true
      statuses = statuses .. status .. ":" .. string.sub(body or "", 1, 200) .. " | "
    end
  end
end

function done(summary, latency, requests)
  local bad = 0
  local detail = ""
  for _, t in ipairs(threads) do
    bad = bad + (t:get("non200") or 0)
    local s = t:get("statuses") or ""
    if s ~= "" then detail = detail .. s end
  end
  local secs = summary.duration / 1e6
  io.write(string.format(
    "BENCH {\"kind\":\"put\",\"requests\":%d,\"duration_s\":%.3f,\"rps\":%.1f,"
    .. "\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
    .. "\"non200\":%d,\"socket_errors\":%d}\n",
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, bad,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout))
  if detail ~= "" then
    io.write("non-200 samples: " .. detail .. "\n")
  end
end
