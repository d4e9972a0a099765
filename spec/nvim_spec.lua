-- kombo inside real headless Neovim: spawned tasks are driven by the
-- editor's libuv loop, so a slow request never freezes the editor, results
-- reach editor code through vim.schedule, errors raised in tasks show up
-- as editor errors, max_connections queues sends as in plain Lua, and
-- task:wait and kombo.map work on the editor's loop.
local cjson = require("cjson").new()
local sandbox = require("support.sandbox")
local nginx = require("support.nginx") -- for its LuaJIT build of kombo.core

-- Runs in Neovim; writes what it saw as JSON to $KOMBO_OUT, then quits.
local SCRIPT = [==[
local root = os.getenv("KOMBO_ROOT")
package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. package.path
package.cpath = root .. "/build/luajit/?.so;" .. package.cpath
local uv = vim.uv or vim.loop
local out = {}
local function finish()
  local f = assert(io.open(os.getenv("KOMBO_OUT"), "wb"))
  f:write(vim.json and vim.json.encode(out) or vim.fn.json_encode(out))
  f:close()
  vim.cmd("qa!")
end
local ok, err = pcall(function()
  local kombo = require("kombo")
  local driver = require("kombo.drivers.uv")
  local client = assert(kombo.new({ api_key = os.getenv("KOMBO_API_KEY"),
    integration_id = os.getenv("KOMBO_INTEGRATION_ID"), server_url = os.getenv("KOMBO_SERVER_URL"),
    retries = { strategy = "none" } }))

  local ticks = 0
  local ticker = uv.new_timer()
  ticker:start(50, 50, function() ticks = ticks + 1 end)

  local result
  local t0 = uv.hrtime()
  kombo.spawn(function()
    local tags, terr = client.ats:get_tags()
    local ticks_when_done = ticks
    local fast = vim.in_fast_event()
    vim.schedule(function()
      -- Editor API calls are fine here, and only here.
      vim.api.nvim_buf_set_lines(0, 0, -1, false, { "tags: " .. (tags and #tags.data.results or -1) })
      result = { n = tags and #tags.data.results, err = terr and tostring(terr),
        ticks = ticks_when_done, task_fast = fast, scheduled_fast = vim.in_fast_event(),
        line = vim.api.nvim_buf_get_lines(0, 0, 1, false)[1] }
    end)
  end)
  out.spawn_ms = (uv.hrtime() - t0) / 1e6
  out.active_while_waiting = driver.active()
  vim.wait(10000, function() return result ~= nil end, 10)
  out.took_ms = (uv.hrtime() - t0) / 1e6
  ticker:stop()
  ticker:close()
  out.result = result
  vim.wait(200, function() return not driver.active() end, 10)
  out.active_after = driver.active()

  -- Errors raised in tasks surface as editor errors (vim.schedule), each
  -- one, while the other tasks go on.
  local others = 0
  for i = 1, 3 do
    kombo.spawn(function() error("task " .. i .. " failed on purpose") end)
    kombo.spawn(function() others = others + 1 end)
  end
  -- a value that is not a message: said what it was, not [NULL]
  kombo.spawn(function() error({ code = 5 }) end)
  kombo.spawn(function() error(setmetatable({}, { __tostring = function() return "an object's own words" end })) end)
  -- objects whose __tostring or __index raise: reported, and so is the
  -- error after them
  kombo.spawn(function() error(setmetatable({ kind = "x" }, { __tostring = function() error("boom") end }), 0) end)
  kombo.spawn(function() error(setmetatable({}, { __index = function() error("boom") end }), 0) end)
  kombo.spawn(function() error("the last task's error", 0) end)
  vim.wait(2000, function()
    local m = vim.api.nvim_exec("messages", true)
    return m:find("task 3 failed on purpose", 1, true) ~= nil and m:find("an object's own words", 1, true) ~= nil
      and m:find("the last task's error", 1, true) ~= nil
  end, 10)
  out.messages = vim.api.nvim_exec("messages", true)
  out.others = others

  -- A failure that a task:wait takes is the waiter's, whether the wait
  -- came first or the failure did: not an editor error. A failure nobody
  -- waits for, spawned after them, is; reports keep the order the tasks
  -- failed in, so once it shows, theirs would have.
  local handled = {}
  kombo.spawn(function()
    local failing = kombo.spawn(function() error("handled by the task waiting for it", 0) end)
    local _, werr = failing:wait()
    handled[#handled + 1] = werr
  end)
  local early = kombo.spawn(function() error("handled by a wait that came after it", 0) end)
  kombo.spawn(function()
    local _, werr = early:wait()
    handled[#handled + 1] = werr
  end)
  vim.wait(2000, function() return #handled == 2 end, 10)
  -- A wait refused (a task waiting for itself) takes nothing.
  local selfish
  selfish = kombo.spawn(function()
    local _, werr = selfish:wait()
    error("failed after its wait was refused: " .. werr, 0)
  end)
  kombo.spawn(function() error("nobody waits for this one", 0) end)
  vim.wait(2000, function()
    return vim.api.nvim_exec("messages", true):find("nobody waits for this one", 1, true) ~= nil
  end, 10)
  out.handled = handled
  out.messages_after = vim.api.nvim_exec("messages", true)

  -- Past max_connections, sends queue and start as others finish.
  local capped = assert(kombo.new({ api_key = os.getenv("KOMBO_API_KEY"),
    integration_id = os.getenv("KOMBO_INTEGRATION_ID"), server_url = os.getenv("KOMBO_SERVER_URL"),
    retries = { strategy = "none" }, max_connections = 2 }))
  local burst = {}
  for i = 1, 6 do
    kombo.spawn(function()
      local users = capped.ats:get_users({ page_size = i })
      burst[#burst + 1] = users and #users.data.results or -1
    end)
  end
  vim.wait(5000, function() return #burst == 6 end, 10)
  table.sort(burst)
  out.burst = burst

  -- task:wait inside a task, and kombo.map, on the editor's loop.
  local mapped
  local first = kombo.spawn(function() return #assert(client.ats:get_jobs({ page_size = 2 })).data.results end)
  kombo.spawn(function()
    local waited = first:wait()
    local sizes = assert(kombo.map({ 1, 2, 3 }, function(n)
      return #assert(client.ats:get_jobs({ page_size = n })).data.results
    end))
    mapped = { waited, sizes[1], sizes[2], sizes[3] }
  end)
  vim.wait(5000, function() return mapped ~= nil end, 10)
  out.mapped = mapped

  -- task:wait from editor code, outside any task: the scheduler runs until
  -- the task ends, the editor waiting with it (the 50 ms timer gets no turn).
  local waited_ticks = 0
  local waiter = uv.new_timer()
  waiter:start(50, 50, function() waited_ticks = waited_ticks + 1 end)
  local slow = kombo.spawn(function() return #assert(client.ats:get_tags()).data.results end)
  out.editor_wait = slow:wait()
  out.editor_wait_ticks = waited_ticks
  waiter:stop()
  waiter:close()
end)
if not ok then out.error = tostring(err) end
finish()
]==]

-- Drives the example plugin: :KomboJobs, then the scratch buffer's lines.
local PLUGIN_SCRIPT = [==[
local out = {}
local ok, err = pcall(function()
  vim.cmd("runtime plugin/kombo_jobs.lua")
  vim.cmd("KomboJobs open")
  local buf = vim.api.nvim_get_current_buf()
  out.name = vim.api.nvim_buf_get_name(buf)
  out.loading = vim.api.nvim_buf_get_lines(buf, 0, 1, false)[1]
  vim.wait(10000, function()
    return (vim.api.nvim_buf_get_lines(buf, 0, 1, false)[1] or ""):match("^%d+ OPEN jobs$") ~= nil
  end, 10)
  out.lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
  out.buftype = vim.bo[buf].buftype
end)
if not ok then out.error = tostring(err) end
local f = assert(io.open(os.getenv("KOMBO_OUT"), "wb"))
f:write(vim.fn.json_encode(out))
f:close()
vim.cmd("qa!")
]==]

local _tmp = require("support.files").tmp

describe("inside Neovim", function()
  local sb, root

  setup(function()
    root = nginx.root()
    nginx.build_luajit(root)
    sb = sandbox.start()
  end)
  teardown(function() if sb then sb:stop() end end)

  -- Runs a Lua script in headless Neovim; returns the JSON it wrote.
  local function run_nvim(source, extra_args)
    assert(os.execute("command -v nvim >/dev/null 2>&1"), "nvim not found; install Debian package: neovim")
    local script, out = _tmp(".lua"), _tmp(".json")
    local f = assert(io.open(script, "wb"))
    f:write(source)
    f:close()
    local cmd = ("KOMBO_ROOT='%s' KOMBO_OUT='%s' KOMBO_SERVER_URL='%s' KOMBO_API_KEY='%s' KOMBO_INTEGRATION_ID='%s' "
      .. "timeout 60 nvim --headless -u NONE -i NONE -n %s -c 'luafile %s' >/dev/null 2>&1"):format(
      root, out, sb.url, sb.api_key, sb.integration_id, extra_args or "", script)
    os.execute(cmd)
    os.remove(script)
    local rf = io.open(out, "rb")
    assert(rf, "Neovim wrote no result")
    local v = cjson.decode(rf:read("*a"))
    rf:close()
    os.remove(out)
    return v
  end

  it("keeps the editor's loop running while a task waits on a 1 s request", function()
    sb:fault({ path = "/v1/ats/tags", delay_ms = 1000, times = -1 })
    local v = run_nvim(SCRIPT)

    assert.is_nil(v.error)
    assert.is_true(v.spawn_ms < 100, "kombo.spawn took " .. tostring(v.spawn_ms) .. " ms")
    assert.is_true(v.active_while_waiting)
    local r = v.result
    assert(r, "no result reached editor code")
    assert.is_nil(r.err)
    local _, want = sb:request("GET", "/ats/tags")
    assert.equal(#want.data.results, r.n)
    assert.is_true(r.ticks >= 10, "the 50 ms timer fired " .. tostring(r.ticks) .. " times")
    assert.is_true(v.took_ms >= 1000 and v.took_ms < 3000, "took " .. v.took_ms .. " ms")
    assert.is_false(r.scheduled_fast)
    assert.equal(("tags: %d"):format(r.n), r.line)
    assert.is_false(v.active_after)
    for i = 1, 3 do assert.matches("task " .. i .. " failed on purpose", v.messages, 1, true) end
    assert.matches("kombo: a task raised table: 0x%x+ %(a table, not a message%)", v.messages)
    assert.matches("an object's own words", v.messages, 1, true)
    assert.matches("a table whose __tostring raised\nstack traceback:", v.messages, 1, true)
    assert.matches("kombo: a task raised table: 0x%x+ %(a table, not a message%).-the last task's error", v.messages)
    assert.is_nil(v.messages:find("boom", 1, true))
    assert.is_nil(v.messages:find("[NULL]", 1, true))
    -- what each wait returned: the error, with the failed task's traceback
    table.sort(v.handled)
    assert.equal(2, #v.handled)
    assert.matches("^handled by a wait that came after it\nstack traceback:", v.handled[1])
    assert.matches("^handled by the task waiting for it\nstack traceback:", v.handled[2])
    assert.matches("nobody waits for this one", v.messages_after, 1, true)
    assert.matches("failed after its wait was refused: kombo: a task cannot wait for itself", v.messages_after, 1, true)
    assert.is_nil(v.messages_after:find("handled by", 1, true))
    assert.equal(3, v.others)
    assert.same({ 1, 2, 3, 4, 5, 6 }, v.burst)
    local users, conns, n = {}, {}, 0
    for _, req in ipairs(sb:requests()) do
      if req.path == "/v1/ats/users" then
        users[#users + 1] = req
        if not conns[req.connection] then conns[req.connection], n = true, n + 1 end
      end
    end
    assert.equal(6, #users)
    assert.is_true(n <= 2, n .. " connections for 6 requests under max_connections = 2")
    assert.same({ 2, 1, 2, 3 }, v.mapped)
    assert.equal(r.n, v.editor_wait)
    assert.equal(0, v.editor_wait_ticks)
  end)

  it("runs the example plugin's :KomboJobs into a scratch buffer", function()
    sb:reset()
    local want = {}
    local _, page = sb:request("GET", "/ats/jobs?statuses=OPEN&page_size=100")
    for _, job in ipairs(page.data.results) do want[#want + 1] = job.id end
    assert(#want > 0 and page.data.next == cjson.null, "expected one page of open jobs")
    local args = ("--cmd 'set rtp+=%s,%s/examples/nvim' --cmd \"let g:kombo_cpath = '%s'\""):format(
      root, root, root .. "/build/luajit/?.so")
    local v = run_nvim(PLUGIN_SCRIPT, args)
    assert.is_nil(v.error)
    assert.equal("Loading OPEN jobs...", v.loading)
    assert.matches("kombo://jobs/OPEN$", v.name)
    assert.equal("nofile", v.buftype)
    assert.equal(("%d OPEN jobs"):format(#want), v.lines[1])
    assert.equal(#want + 1, #v.lines)
    for i, id in ipairs(want) do assert.equal(id, v.lines[i + 1]:match("^(%S+)")) end
    -- By statuses, not the deprecated status.
    local asked = sb:requests(function(r)
      return r.path == "/v1/ats/jobs" and r.query:find("page_size=100", 1, true)
    end)
    assert.equal("page_size=100&statuses=OPEN", asked[#asked].query)
  end)
end)
