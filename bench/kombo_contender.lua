-- kombo-lua's side of the benchmark: one measurement per process, so the
-- whole process (start-up, wall time, CPU, peak RSS) is what is measured.
--
--   lua5.4 bench/kombo_contender.lua pages      BASE_URL EXPECTED_ITEMS
--   lua5.4 bench/kombo_contender.lua tags       BASE_URL CALLS
--   lua5.4 bench/kombo_contender.lua concurrent BASE_URL CALLS
--   lua5.4 bench/kombo_contender.lua sequential BASE_URL CALLS
--
-- Every mode checks what it got back and exits non-zero when the answer is
-- not the one expected, so a fast wrong run can never count.

local kombo = require("kombo")

local mode, base, count = arg[1], arg[2], tonumber(arg[3])
if not (mode and base and count) then
  io.stderr:write("usage: kombo_contender.lua pages|tags|concurrent|sequential BASE_URL N\n")
  os.exit(2)
end

local client = assert(kombo.new({
  api_key = "bench-key", integration_id = "bench", server_url = base,
  retries = { strategy = "none" },
}))

local function _fail(fmt, ...)
  io.stderr:write(string.format(fmt, ...), "\n")
  os.exit(1)
end

local function _tags_ok(page, err)
  if not page then _fail("get_tags failed: %s", tostring(err)) end
  if #page.data.results ~= 5 then _fail("get_tags: %d tags, want 5", #page.data.results) end
end

if mode == "pages" then
  local n = 0
  -- The first page is not kept in a local: only the page being iterated
  -- stays alive, as in a real sync.
  for app in assert(client.ats:get_applications({ page_size = 250 })):items() do
    if app.id then n = n + 1 end
  end
  if n ~= count then _fail("walked %d applications, want %d", n, count) end
  io.write("applications ", n, "\n")
elseif mode == "tags" or mode == "sequential" then
  for _ = 1, count do _tags_ok(client.ats:get_tags()) end
  io.write("calls ", count, "\n")
elseif mode == "concurrent" then
  local done = 0
  for _ = 1, count do
    kombo.spawn(function()
      _tags_ok(client.ats:get_tags())
      done = done + 1
    end)
  end
  kombo.run()
  if done ~= count then _fail("%d of %d tasks finished", done, count) end
  io.write("calls ", done, "\n")
else
  _fail("unknown mode %s", mode)
end
client:close()
