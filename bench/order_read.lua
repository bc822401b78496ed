-- GET /api/orders/<order>/: the plain read a replay is compared with. Expected: 200.
dofile((os.getenv("BENCH_LUA_DIR") or "bench") .. "/common.lua")

function prepare()
   read = wrk.format("GET", "/api/orders/" .. opts.order .. "/", auth)
end

function make_request()
   return read
end
