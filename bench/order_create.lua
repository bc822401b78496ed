-- POST /api/orders/ with a fresh client_id each time; with keyed=1 also a fresh
-- Idempotency-Key. Expected: 201.
dofile((os.getenv("BENCH_LUA_DIR") or "bench") .. "/common.lua")

function make_request()
   local id = unique_id()
   local headers = json_headers()
   if opts.keyed == "1" then
      headers["Idempotency-Key"] = "key-" .. id
   end
   local body = string.format('{"client_id":"%s","product_id":7,"quantity":2}', id)
   return wrk.format("POST", "/api/orders/", headers, body)
end
