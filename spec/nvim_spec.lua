-- kombo inside real headless Neovim: spawned tasks are driven by the
-- editor's libuv loop, so a slow request never freezes the editor, and
-- results reach editor code through vim.schedule.
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

  -- An error raised in a task surfaces as an editor error (vim.schedule).
  kombo.spawn(function() error("task failed on purpose") end)
  vim.wait(2000, function()
    return vim.api.nvim_exec("messages", true):find("task failed on purpose", 1, true) ~= nil
  end, 10)
  out.messages = vim.api.nvim_exec("messages", true)
end)
if not ok then out.error = tostring(err) end
finish()
]==]

local function _tmp(suffix)
  local p = os.tmpname()
  os.remove(p)
  return p .. suffix
end

describe("inside Neovim", function()
  local sb, root

  setup(function()
    root = nginx.root()
    nginx.build_luajit(root)
    sb = sandbox.start()
  end)
  teardown(function() if sb then sb:stop() end end)

  it("keeps the editor's loop running while a task waits on a 1 s request", function()
    assert(os.execute("command -v nvim >/dev/null 2>&1"), "nvim not found; install Debian package: neovim")
    sb:fault({ path = "/v1/ats/tags", delay_ms = 1000, times = -1 })
    local script, out = _tmp(".lua"), _tmp(".json")
    local f = assert(io.open(script, "wb"))
    f:write(SCRIPT)
    f:close()
    local cmd = ("KOMBO_ROOT='%s' KOMBO_OUT='%s' KOMBO_SERVER_URL='%s' KOMBO_API_KEY='%s' KOMBO_INTEGRATION_ID='%s' "
      .. "timeout 60 nvim --headless -u NONE -i NONE -n -c 'luafile %s' >/dev/null 2>&1"):format(
      root, out, sb.url, sb.api_key, sb.integration_id, script)
    os.execute(cmd)
    os.remove(script)
    local rf = io.open(out, "rb")
    assert(rf, "Neovim wrote no result")
    local v = cjson.decode(rf:read("*a"))
    rf:close()
    os.remove(out)

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
    assert.matches("task failed on purpose", v.messages, 1, true)
  end)
end)
