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

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local auths = {}
local hosts = {}
local n = 0
local pos = 0
local run = 0
bad = 0
samples = ""
local seen = {}

function init(args)
  local file = args[1] or "dyndns_tokens.txt"
  run = tonumber(args[2] or "0")
  local nthreads = tonumber(args[3] or "1")
  local i = 0
  for line in io.lines(file) do
    if i % nthreads == id then
      local auth, host = line:match("^(%S+)%s+(%S+)$")
      n = n + 1
      auths[n] = auth
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
  return wrk.format("GET", "/nic/update?hostname=" .. hosts[k] .. "&myip=198.51.100." .. x, {
    ["Authorization"] = "Basic " .. auths[k],
  })
end

function response(status, headers, body)
  local text = body or ""
  if status ~= 200 or string.sub(text, 1, 5) ~= "good " then
    bad = bad + 1
    local key = status .. ":" .. string.sub(text, 1, 8)
    if not seen[key] then
      seen[key] = true
      samples = samples .. status .. ":" .. string.sub(text, 1, 200) .. " | "
    end
  end
end

function done(summary, latency, requests)
  local total_bad = 0
  local detail = ""
  for _, t in ipairs(threads) do
    total_bad = total_bad + (t:get("bad") or 0)
    local s = t:get("samples") or ""
    if s ~= "" then detail = detail .. s end
  end
  local secs = summary.duration / 1e6
  io.write(string.format(
    "BENCH {\"kind\":\"dyndns\",\"requests\":%d,\"duration_s\":%.3f,\"rps\":%.1f,"
    .. "\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
    .. "\"non200\":%d,\"socket_errors\":%d}\n",
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, total_bad,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout))
  if detail ~= "" then
    io.write("non-good samples: " .. detail .. "\n")
  end
end
