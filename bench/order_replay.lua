-- POST /api/orders/ with the key and body of a request that already completed:
-- the stored reply is sent again. Expected: 200 with Idempotent-Replayed: true.
dofile((os.getenv("BENCH_LUA_DIR") or "bench") .. "/common.lua")

function prepare()
   replay = wrk.format(
      "POST",
      "/api/orders/",
      json_headers({ ["Idempotency-Key"] = opts.key }),
      string.format('{"client_id":"%s","product_id":7,"quantity":2}', opts.client_id)
   )
end

function make_request()
   return replay
end
