-- The decode half of the floor: lua-cjson decoding the very bytes the
-- server sends, read from disk one page at a time (only one page alive),
-- counting the applications as the SDK walk does.
--
--   lua5.4 bench/decode_floor.lua PAGES_LIST EXPECTED_ITEMS [kombo]
--
-- With "kombo" it decodes with the SDK's own decoder (simdjson in
-- kombo.core, all of kombo loaded) instead: not part of the floor, it shows
-- how much of kombo-lua's walk is decoding.

local decode = require("cjson").new().decode
if arg[3] == "kombo" then
  require("kombo")
  decode = require("kombo.core").json_decode
end

local list, expected = arg[1], tonumber(arg[2])
if not (list and expected) then
  io.stderr:write("usage: decode_floor.lua PAGES_LIST EXPECTED_ITEMS [kombo]\n")
  os.exit(2)
end

local n = 0
for path in io.lines(list) do
  local f = assert(io.open(path, "rb"))
  local body = f:read("*a")
  f:close()
  local results = decode(body).data.results
  for i = 1, #results do
    if results[i].id then n = n + 1 end
  end
end
if n ~= expected then
  io.stderr:write("decoded ", n, " applications, want ", expected, "\n")
  os.exit(1)
end
io.write("applications ", n, "\n")
