-- POST /api/photos/ as multipart with a 100 KB file (size=<bytes> to change it)
-- and a fresh filename each time. Expected: 201.
dofile((os.getenv("BENCH_LUA_DIR") or "bench") .. "/common.lua")

function prepare()
   local size = tonumber(opts.size or "102400")
   local chunk = {}
   for i = 1, 256 do
      chunk[i] = string.char(math.random(0, 255))
   end
   content = string.rep(table.concat(chunk), math.ceil(size / 256)):sub(1, size)
   boundary = "idem-bench-" .. prefix
   headers = {
      ["Authorization"] = auth["Authorization"],
      ["Content-Type"] = "multipart/form-data; boundary=" .. boundary,
   }
   head = "--" .. boundary .. "\r\n"
      .. 'Content-Disposition: form-data; name="filename"\r\n\r\n'
   middle = "\r\n--" .. boundary .. "\r\n"
      .. 'Content-Disposition: form-data; name="file"; filename="upload.bin"\r\n'
      .. "Content-Type: application/octet-stream\r\n\r\n"
   tail = "\r\n--" .. boundary .. "--\r\n"
end

function make_request()
   local body = head .. "upload-" .. unique_id() .. ".bin" .. middle .. content .. tail
   return wrk.format("POST", "/api/photos/", headers, body)
end
