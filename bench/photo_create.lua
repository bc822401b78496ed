-- POST /api/photos/ as JSON, a fresh filename each time (the natural key is
-- (owner, filename)). Expected: 201.
dofile((os.getenv("BENCH_LUA_DIR") or "bench") .. "/common.lua")

function make_request()
   local body = string.format('{"filename":"photo-%s.jpg","caption":"bench"}', unique_id())
   return wrk.format("POST", "/api/photos/", json_headers(), body)
end
