-- Shared by the wrk scripts (put.lua, dyndns.lua, health.lua):
--   local common = dofile(script_dir .. "wrk_common.lua")
-- Each script keeps two thread globals, `bad` (a count) and `samples` (text),
-- that common.count_bad fills and common.report reads from every thread.

local M = {}
local threads = {}
local next_id = 0
local seen = {}

-- setup(thread): number the threads (each gets the global `id`) and keep them.
function M.setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

-- The "<credential> <host>" lines of FILE with index % NTHREADS == ID, in order,
-- so no two threads share a token: credentials, hosts, count.
function M.load(file, nthreads, id)
  local creds, hosts, n, i = {}, {}, 0, 0
  for line in io.lines(file) do
    if i % nthreads == id then
      local cred, host = line:match("^(%S+)%s+(%S+)$")
      n = n + 1
      creds[n] = cred
      hosts[n] = host
    end
    i = i + 1
  end
  if n == 0 then
    error("no tokens for thread " .. id .. " in " .. file)
  end
  return creds, hosts, n
end

-- init(args) of put.lua and dyndns.lua: args are FILE RUN NTHREADS; keeps this
-- thread's lines of FILE (DEFAULT if not given) and RUN for M.next.
local creds, hosts, n, run, pos = {}, {}, 0, 0, 0
function M.init(args, default)
  run = tonumber(args[2] or "0")
  creds, hosts, n = M.load(args[1] or default, tonumber(args[3] or "1"), id)
end

-- The next request's credential, host and X: the thread's lines in turn, and
-- X = (RUN * 64 + pass) % 250 + 1, where pass counts the passes over the lines.
function M.next()
  local k = pos % n + 1
  local pass = math.floor(pos / n)
  pos = pos + 1
  return creds[k], hosts[k], (run * 64 + pass) % 250 + 1
end

-- Count one bad response; the first of each KEY is kept as a sample.
function M.count_bad(status, body, key)
  bad = bad + 1
  if not seen[key] then
    seen[key] = true
    samples = samples .. status .. ":" .. string.sub(body or "", 1, 200) .. " | "
  end
end

-- done(): the BENCH line of KIND (bad responses of all threads as "non200"), then
-- the samples, if any, after LABEL.
function M.report(kind, label, summary, latency)
  local total, detail = 0, ""
  for _, t in ipairs(threads) do
    total = total + (t:get("bad") or 0)
    detail = detail .. (t:get("samples") or "")
  end
  local secs = summary.duration / 1e6
  io.write(string.format(
    "BENCH {\"kind\":\"%s\",\"requests\":%d,\"duration_s\":%.3f,\"rps\":%.1f,"
    .. "\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
    .. "\"non200\":%d,\"socket_errors\":%d}\n",
    kind, summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, total,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout))
  if detail ~= "" then
    io.write(label .. " samples: " .. detail .. "\n")
  end
end

return M
