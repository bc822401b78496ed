-- Shared by the scenario scripts: arguments, unique ids, status counting and a
-- one-line JSON summary that bench/run.py reads.
--
-- A scenario script loads this file and defines make_request() (and, when it
-- needs them, prepare() and on_response(status, headers, body)):
--
--   dofile((os.getenv("BENCH_LUA_DIR") or "bench") .. "/common.lua")
--
-- Arguments come after wrk's "--" as name=value pairs; every script takes
-- token=<API token> and nonce=<a string unique to this wrk run>.
--
-- A script may also count things of its own in globals named in extra_tables
-- (flat tables of numbers) and extra_numbers; done() adds them up over the
-- threads. Flat, because wrk's thread:get() copies one level of table only.

extra_tables = extra_tables or {}
extra_numbers = extra_numbers or {}

local threads = {}
local thread_count = 0

-- Main state: number the threads so that ids made by each are distinct.
function setup(thread)
   thread_count = thread_count + 1
   thread:set("tid", thread_count)
   table.insert(threads, thread)
end

-- Thread state from here to done().
function init(args)
   opts = {}
   for _, arg in ipairs(args) do
      local name, value = string.match(arg, "^([%w_]+)=(.*)$")
      if name then
         opts[name] = value
      end
   end
   statuses = {}
   replayed = 0
   sent = 0
   for _, name in ipairs(extra_tables) do
      _G[name] = {}
   end
   for _, name in ipairs(extra_numbers) do
      _G[name] = 0
   end
   math.randomseed(os.time() + tid * 7919)
   -- The nonce makes ids unique across runs, the thread id across threads and
   -- the counter within a thread; the random part guards against a reused nonce.
   prefix = string.format("%s-%d-%06x", opts.nonce or "run", tid, math.random(0, 0xffffff))
   auth = { ["Authorization"] = "Token " .. (opts.token or "") }
   -- close=1: a new connection for every request, as gunicorn's sync workers make.
   if opts.close == "1" then
      auth["Connection"] = "close"
   end
   if prepare then
      prepare()
   end
end

-- Return a fresh id, unique to this run, thread and request.
function unique_id()
   return string.format("%s-%d", prefix, sent)
end

function json_headers(extra_headers)
   local headers = { ["Content-Type"] = "application/json" }
   for name, value in pairs(auth) do
      headers[name] = value
   end
   for name, value in pairs(extra_headers or {}) do
      headers[name] = value
   end
   return headers
end

function request()
   local built = make_request()
   sent = sent + 1
   return built
end

function response(status, headers, body)
   local code = tostring(status)
   statuses[code] = (statuses[code] or 0) + 1
   local flag = headers["Idempotent-Replayed"] or headers["idempotent-replayed"]
   if flag == "true" then
      replayed = replayed + 1
   end
   if on_response then
      on_response(status, headers, body, flag == "true")
   end
end

local function encode(value)
   local kind = type(value)
   if kind == "table" then
      local parts = {}
      for name, item in pairs(value) do
         table.insert(parts, string.format("%q:%s", tostring(name), encode(item)))
      end
      table.sort(parts)
      return "{" .. table.concat(parts, ",") .. "}"
   elseif kind == "string" then
      return string.format("%q", value)
   elseif kind == "boolean" then
      return tostring(value)
   elseif kind == "number" then
      return string.format("%.17g", value)
   end
   return "null"
end

local function add_into(total, part)
   for name, value in pairs(part or {}) do
      total[name] = (total[name] or 0) + value
   end
end

-- Main state: merge what the threads counted and print one JSON line.
function done(summary, latency, requests)
   local merged = { statuses = {}, replayed = 0, sent = 0, extra = {} }
   for _, thread in ipairs(threads) do
      add_into(merged.statuses, thread:get("statuses"))
      merged.replayed = merged.replayed + (thread:get("replayed") or 0)
      merged.sent = merged.sent + (thread:get("sent") or 0)
      for _, name in ipairs(extra_tables) do
         merged.extra[name] = merged.extra[name] or {}
         add_into(merged.extra[name], thread:get(name))
      end
      for _, name in ipairs(extra_numbers) do
         merged.extra[name] = (merged.extra[name] or 0) + (thread:get(name) or 0)
      end
   end
   local seconds = summary.duration / 1e6
   local result = {
      requests = summary.requests,
      seconds = seconds,
      rps = summary.requests / seconds,
      bytes = summary.bytes,
      p50_ms = latency:percentile(50) / 1000,
      p90_ms = latency:percentile(90) / 1000,
      p99_ms = latency:percentile(99) / 1000,
      max_ms = latency.max / 1000,
      mean_ms = latency.mean / 1000,
      errors = summary.errors,
      statuses = merged.statuses,
      replayed = merged.replayed,
      sent = merged.sent,
      extra = merged.extra,
   }
   io.write("BENCH_JSON " .. encode(result) .. "\n")
end
