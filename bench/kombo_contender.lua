-- kombo-lua's side of the benchmark: one measurement per process, so the
-- whole process (start-up, wall time, CPU, peak RSS) is what is measured.
--
--   lua5.4 bench/kombo_contender.lua pages      BASE_URL EXPECTED_ITEMS [stop]
--   lua5.4 bench/kombo_contender.lua tags       BASE_URL CALLS
--   lua5.4 bench/kombo_contender.lua concurrent BASE_URL CALLS
--   lua5.4 bench/kombo_contender.lua sequential BASE_URL CALLS
--   lua5.4 bench/kombo_contender.lua latency    BASE_URL EXPECTED_ITEMS ITERATIONS on|off|default
--   lua5.4 bench/kombo_contender.lua many       BASE_URL EXPECTED_ITEMS INTEGRATIONS
--   lua5.4 bench/kombo_contender.lua work       - ITEMS ITERATIONS
--   lua5.4 bench/kombo_contender.lua calibrate  - MS_PER_PAGE PER_PAGE
--
-- pages with stop leaves the walk after EXPECTED_ITEMS (the memory check
-- compares a short walk with the whole one); latency walks pages of 100 with the work (ITERATIONS of work.lua's loop)
-- done on each item, with prefetch on, off, or the option left out; many
-- walks one integration's pages per task with kombo.spawn, INTEGRATIONS at
-- once; work does the work alone; calibrate prints the ITERATIONS that make
-- MS_PER_PAGE of work on a page of PER_PAGE items on this machine.
--
-- Every mode checks what it got back and exits non-zero when the answer is
-- not the one expected, so a fast wrong run can never count.

local mode, base, count = arg[1], arg[2], tonumber(arg[3])
if not (mode and base and count) then
  io.stderr:write("usage: kombo_contender.lua pages|tags|concurrent|sequential|latency|many|work|calibrate "
    .. "BASE_URL N ...\n")
  os.exit(2)
end

local function _fail(fmt, ...)
  io.stderr:write(string.format(fmt, ...), "\n")
  os.exit(1)
end

local work = dofile((arg[0]:match("^(.*)/") or ".") .. "/work.lua")
if mode == "work" then
  local iterations, sum = assert(tonumber(arg[4]), "ITERATIONS"), 0
  for _ = 1, count do sum = sum + work.item(iterations) end
  io.write("items ", count, " checksum ", sum, "\n")
  os.exit(0)
elseif mode == "calibrate" then
  io.write(work.calibrate(count, assert(tonumber(arg[4]), "PER_PAGE")), "\n")
  os.exit(0)
end

local kombo = require("kombo")

local function _client(integration, prefetch)
  local options = {
    api_key = "bench-key", integration_id = integration, server_url = base,
    retries = { strategy = "none" },
  }
  if prefetch ~= nil then options.prefetch = prefetch end
  local client, err = kombo.new(options)
  if not client then _fail("kombo.new: %s", tostring(err)) end
  return client
end

-- latency and many make their own clients
local client = (mode ~= "latency" and mode ~= "many") and _client("bench") or nil

local function _tags_ok(page, err)
  if not page then _fail("get_tags failed: %s", tostring(err)) end
  if #page.data.results ~= 5 then _fail("get_tags: %d tags, want 5", #page.data.results) end
end

if mode == "pages" then
  local n, stop = 0, arg[4] == "stop"
  -- The first page is not kept in a local: only the page being iterated
  -- stays alive, as in a real sync.
  for app in assert(client.ats:get_applications({ page_size = 250 })):items() do
    if app.id then n = n + 1 end
    if stop and n == count then break end
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
elseif mode == "latency" then
  local iterations, setting = assert(tonumber(arg[4]), "ITERATIONS"), arg[5]
  local prefetch = ({ on = true, off = false })[setting]
  if prefetch == nil and setting ~= "default" then _fail("prefetch: on, off or default, not %s", tostring(setting)) end
  client = _client("bench", prefetch)
  local n, sum = 0, 0
  for app in assert(client.ats:get_applications({ page_size = 100 })):items() do
    if app.id then n = n + 1 end
    sum = sum + work.item(iterations)
  end
  if n ~= count then _fail("walked %d applications, want %d", n, count) end
  io.write("applications ", n, " checksum ", sum, "\n")
elseif mode == "many" then
  local integrations = assert(tonumber(arg[4]), "INTEGRATIONS")
  local walked = {}
  for k = 1, integrations do
    local own = _client("bench-" .. k)
    kombo.spawn(function()
      local n = 0
      for app in assert(own.ats:get_applications({ page_size = 100 })):items() do
        if app.id then n = n + 1 end
      end
      walked[k] = n
      own:close()
    end)
  end
  local ok, errors = kombo.run()
  if not ok then _fail("kombo.run: %s", tostring(errors and errors[1])) end
  local n = 0
  for k = 1, integrations do n = n + (walked[k] or 0) end
  if n ~= count then _fail("%d walks gave %d applications, want %d", integrations, n, count) end
  io.write("applications ", n, "\n")
else
  _fail("unknown mode %s", mode)
end
if client then client:close() end
