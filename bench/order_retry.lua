-- POST /api/orders/ again with the client_id of an existing order and the same
-- product and quantity, and no key: the view runs and finds it. Expected: 200.
dofile((os.getenv("BENCH_LUA_DIR") or "bench") .. "/common.lua")

function prepare()
   retry = wrk.format(
      "POST",
      "/api/orders/",
      json_headers(),
      string.format('{"client_id":"%s","product_id":7,"quantity":2}', opts.client_id)
   )
end

function make_request()
   return retry
end
