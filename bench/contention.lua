-- Every connection sends the same key at once: request n of the thread carries
-- key number floor(n / conns), so the conns=<connections> requests of one key are
-- in flight together (run it with one thread). The body is the same for all of
-- them, so each key must execute once and be replayed or refused (409) for the
-- rest. Expected: 201, 200 (replayed), 409.
extra_tables = { "executions" }
extra_numbers = { "keys_issued" }
dofile((os.getenv("BENCH_LUA_DIR") or "bench") .. "/common.lua")

function prepare()
   conns = tonumber(opts.conns or "16")
end

function make_request()
   local n = math.floor(sent / conns)
   if n + 1 > keys_issued then
      keys_issued = n + 1
   end
   local id = string.format("%s-c%d", prefix, n)
   local body = string.format('{"client_id":"%s","product_id":7,"quantity":2}', id)
   return wrk.format("POST", "/api/orders/", json_headers({ ["Idempotency-Key"] = id }), body)
end

-- A 2xx without the replay header means the view ran: count it against its key,
-- which the body names as client_id.
function on_response(status, headers, body, was_replayed)
   if status >= 200 and status < 300 and not was_replayed then
      local id = string.match(body or "", '"client_id":"([^"]+)"')
      if id then
         executions[id] = (executions[id] or 0) + 1
      end
   end
end
