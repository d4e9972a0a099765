-- Re-entry wherever the collector runs: a finalizer that re-arms itself
-- acts on the SDK at every collection while writes, calls and page walks run,
-- blocking, in tasks, inside nginx or Neovim. Where it falls depends on the heap,
-- so each run tries other points; the specs keep what it found as exact
-- cases.
--
--   lua fuzz/reentry.lua BUILD MODE ACTION [RUNS] [fast]
--
-- BUILD: the folder holding kombo/core.so for this interpreter.
-- MODE: blocking | tasks | ngx | ngxtasks | nvim | nvimtasks. ngx and
-- ngxtasks run the same calls and walks inside a real nginx (its Lua
-- module, LuaJIT, one worker: spec/support/nginx.lua), in a request's
-- handler or in light threads (kombo.spawn there), and fail as well when
-- the worker dies; nvim and nvimtasks inside headless Neovim, in editor
-- code or in tasks its libuv loop drives. ACTION, what the finalizer
-- does: close (the client the calls use), call (the same client), walk
-- (another client's pages), closeother (closes another client and makes a
-- new one), spawn (a task), run (kombo.run), wait (spawns a task and waits
-- for it), write (another client's write), map (kombo.map of three calls),
-- raise (raises an error the finalizer catches, and calls nothing: not in
-- `make reentry`, since inside nginx it fails, the SDK aside;
-- docs/EMBEDDING.md).
-- RUNS: writes, calls and walks, in turn (default 200). fast: a collector
-- that starts its next cycle as soon as one ends.
--
-- Every call must end with its answer or an error object. A raw error out
-- of the SDK, the sandbox refusing a request (each is one it takes), a
-- task whose wait says the scheduler lost it, or a hang (run
-- it under timeout(1)) is a failure: the last line says "FAILED" and the
-- exit status is 1. `make reentry` runs every mode and action on every Lua.

-- Inside nginx this file is the handler's code, and the location sets
-- REENTRY to the run's settings and the sandbox's coordinates; inside
-- Neovim it is the script `luafile` runs, and they come in the environment.
local inside = rawget(_G, "REENTRY")
if not inside and rawget(_G, "vim") and os.getenv("REENTRY_MODE") then
  local getenv, root = os.getenv, os.getenv("REENTRY_ROOT")
  package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. package.path
  package.cpath = root .. "/build/luajit/?.so;" .. package.cpath
  inside = { mode = getenv("REENTRY_MODE"), action = getenv("REENTRY_ACTION"), runs = tonumber(getenv("REENTRY_RUNS")),
    fast = getenv("REENTRY_FAST") == "1", out = getenv("REENTRY_OUT"),
    sandbox = { url = getenv("REENTRY_URL"), api_key = getenv("REENTRY_KEY"), integration_id = getenv("REENTRY_ID") } }
end
local mode, action, runs, fast
if inside then
  mode, action, runs, fast = inside.mode, inside.action, inside.runs, inside.fast
else
  package.path = "spec/?.lua;lua/?.lua;lua/?/init.lua;" .. package.path
  package.cpath = assert(arg[1], "usage: lua fuzz/reentry.lua BUILD MODE ACTION [RUNS] [fast]") .. "/?.so;"
    .. package.cpath
  mode, action, runs, fast = arg[2], arg[3], tonumber(arg[4]) or 200, arg[5] == "fast"
end
local MODES = { blocking = true, tasks = true, ngx = true, ngxtasks = true, nvim = true, nvimtasks = true }
assert(MODES[mode], "MODE: blocking, tasks, ngx, ngxtasks, nvim or nvimtasks")

-- For a run hosted elsewhere (Neovim, nginx): a file's bytes, or "".
local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local text = f:read("*a")
  f:close()
  return text
end

-- How long a hosted run may take: less than the timeout(1) that
-- reentry.sh puts around this process, so a hang ends here, where nginx,
-- Neovim and the sandbox are stopped, rather than leaving them running.
local HOSTED_LIMIT_S = 100

-- Ends a hosted run: its report, then FAILED (exit status 1) when the
-- report says so or `why` tells what went wrong around it.
local function finish(report, why)
  io.write(report)
  if why or report:find("FAILED", 1, true) then
    if why then print(why) end
    print("FAILED")
    os.exit(1)
  end
  os.exit(0)
end

if not inside and (mode == "nvim" or mode == "nvimtasks") then
  -- One headless Neovim runs the whole run; its tasks are driven by the
  -- editor's loop (drivers/uv.lua) while vim.wait waits for each.
  local sandbox = require("support.sandbox")
  local nginx = require("support.nginx") -- for its LuaJIT build of kombo.core
  local root = nginx.root()
  nginx.build_luajit(root)
  local sb = sandbox.start()
  local out, err_out = os.tmpname(), os.tmpname()
  local function q(v) return "'" .. tostring(v):gsub("'", "'\\''") .. "'" end
  os.execute(("REENTRY_ROOT=%s REENTRY_MODE=%s REENTRY_ACTION=%s REENTRY_RUNS=%d REENTRY_FAST=%s REENTRY_OUT=%s"
    .. " REENTRY_URL=%s REENTRY_KEY=%s REENTRY_ID=%s timeout %d nvim --headless -u NONE -i NONE -n"
    .. " -c %s -c 'qa!' </dev/null 2>%s")
    :format(q(root), mode, q(action), runs, fast and "1" or "0", q(out), q(sb.url), q(sb.api_key),
      q(sb.integration_id), HOSTED_LIMIT_S, q("luafile " .. root .. "/fuzz/reentry.lua"), q(err_out)))
  sb:stop()
  -- What Neovim printed: the errors of failed tasks, raised through
  -- vim.schedule as editor errors (drivers/uv.lua), and the script's own.
  local report, printed = slurp(out), slurp(err_out)
  os.remove(out)
  os.remove(err_out)
  finish(report, report == "" and ("Neovim wrote nothing (the script raised, Neovim died, or it ran past %d s): %s")
    :format(HOSTED_LIMIT_S, printed:sub(-2000)) or nil)
end

if not inside and (mode == "ngx" or mode == "ngxtasks") then
  -- The whole run is one request, so the handler's coroutine, its
  -- cosockets and its light threads live through every collection.
  local socket = require("socket")
  local sandbox = require("support.sandbox")
  local nginx = require("support.nginx")
  local sb = sandbox.start()
  local server = nginx.start({
    init = ("REENTRY_SANDBOX = { url = %q, api_key = %q, integration_id = %q, root = %q }"):format(sb.url, sb.api_key,
      sb.integration_id, nginx.root()),
    locations = { ["/reentry"] = [[
      REENTRY = { mode = ngx.var.arg_mode, action = ngx.var.arg_action, runs = tonumber(ngx.var.arg_runs),
        fast = ngx.var.arg_fast == "1", sandbox = REENTRY_SANDBOX }
      -- loadfile, not dofile: dofile's C call would keep the calls from
      -- yielding to nginx.
      assert(loadfile(REENTRY_SANDBOX.root .. "/fuzz/reentry.lua"))()
    ]] },
  })
  local c = assert(socket.connect("127.0.0.1", server.port))
  c:settimeout(HOSTED_LIMIT_S)
  assert(c:send(("GET /reentry?mode=%s&action=%s&runs=%d&fast=%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    .. "Connection: close\r\n\r\n"):format(mode, action, runs, fast and "1" or "0")))
  local ok, status, body = pcall(server.receive, server, c)
  -- The master logs a worker's death as it reaps it, after the request
  -- has failed.
  if not ok then socket.sleep(0.5) end
  local log = server:log()
  server:stop()
  sb:stop()
  -- A worker that died (a crash in the C core) is respawned by the master:
  -- only its log tells.
  local why = log:match("[^\n]*exited on signal[^\n]*")
  if not ok or status ~= 200 then
    local lines = { "the request failed: " .. tostring(status) }
    for line in log:gmatch("[^\n]*%[error%][^\n]*") do lines[#lines + 1] = line:sub(1, 400) end
    lines[#lines + 1] = why
    why = table.concat(lines, "\n")
  end
  finish((ok and body or "") .. "\n", why)
end

local kombo = require("kombo")
local sb = inside and inside.sandbox or require("support.sandbox").start()
local said = {}
local say = print
if inside and inside.out then
  say = function(s) said[#said + 1] = s end
elseif inside then
  say = function(s) ngx.say(s) end -- luacheck: ignore 113
end
local function new_client()
  return assert(kombo.new({ api_key = sb.api_key, integration_id = sb.integration_id, server_url = sb.url,
    retries = { strategy = "none" } }))
end

local client, other = nil, new_client()
-- Writes take a place among the integration's writes in flight (the
-- governor), which a finalizer gives back when its holder drops it.
local application = assert(other.ats:get_applications({ page_size = 1 })).data.results[1].id
local function write(c, text)
  return c.ats:add_application_note({ application_id = application,
    body = { content = text, content_type = "PLAIN_TEXT" } })
end
-- Bounded, so a finalizer that makes work (a task, a walk) cannot keep
-- the run going for ever with a collector that never pauses.
local MAX_ACTS = 5000
local acts = 0
local ACTIONS = {
  close = function() if client then client:close() end end,
  call = function() if client then client.ats:get_tags() end end,
  walk = function()
    local page = other.ats:get_tags({ page_size = 2 })
    if page then for _ in page:items() do end end
  end,
  closeother = function()
    other:close()
    other = new_client()
  end,
  spawn = function() kombo.spawn(function() return other.ats:get_tags() end) end,
  run = function() kombo.run() end,
  wait = function()
    local task = kombo.spawn(function() return 1 end)
    task:wait()
  end,
  write = function() write(other, "from a finalizer") end,
  map = function() kombo.map({ 1, 2, 3 }, function() return other.ats:get_tags() end) end,
  raise = function() error("raised by a finalizer") end,
}
local act = assert(ACTIONS[action], "ACTION: close, call, walk, closeother, spawn, run, wait, write, map or raise")

local armed = true
local function arm()
  local function gc()
    if not armed or acts >= MAX_ACTS then return end
    acts = acts + 1
    -- What the SDK raises to the finalizer (kombo.run refusing to run
    -- inside itself, say) is the finalizer's to catch, as a user's would.
    pcall(act)
    arm()
  end
  if rawget(_G, "newproxy") then
    getmetatable(newproxy(true)).__gc = gc -- luacheck: ignore 113
  else
    setmetatable({}, { __gc = gc })
  end
end
arm()
if fast then
  if _VERSION == "Lua 5.4" then
    collectgarbage("incremental", 100, 400)
  elseif _VERSION == "Lua 5.3" then
    -- (with no pause at all, 5.3 ran no finalizer)
    collectgarbage("setpause", 100)
    collectgarbage("setstepmul", 400)
  else
    collectgarbage("setpause", 0)
    collectgarbage("setstepmul", 100)
  end
end

-- A write, a call or a walk's first 30 items, raising what the call returned.
local function work(i)
  local page, err
  if i % 3 == 0 then
    page, err = write(client, "run " .. i)
    if not page then error(err, 0) end
  elseif i % 2 == 0 then
    page, err = client.ats:get_applications({ page_size = 5 })
    if not page then error(err, 0) end
    local n = 0
    for _ in page:items() do
      n = n + 1
      if n > 30 then break end
    end
  else
    page, err = client.ats:get_jobs({ page_size = 3 })
    if not page then error(err, 0) end
  end
end

local outcomes, failed = {}, false
local function note(ok, err)
  local what = "answered"
  if not ok then
    if type(err) == "table" and type(rawget(err, "kind")) == "string" then
      what = "error " .. err.kind .. " " .. tostring(rawget(err, "field") or rawget(err, "reason")
        or rawget(err, "status"))
      -- Every request here is one the sandbox takes: its refusal means the
      -- request was not the one made (a body another body got into, say).
      if err.kind == "api" then
        what, failed = what .. ": " .. tostring(rawget(err, "message")):sub(1, 120), true
      end
    else
      what = "RAW " .. tostring(err):match("^[^\n]*"):sub(1, 120)
      failed = true
    end
  end
  outcomes[what] = (outcomes[what] or 0) + 1
end

for i = 1, runs do
  client = new_client()
  if mode == "nvimtasks" then
    -- The editor's loop drives the task while vim.wait runs it.
    local ended = false
    local task = kombo.spawn(function(k)
      local ok, err = pcall(work, k)
      ended = true
      if not ok then error(err, 0) end
    end, i)
    if not vim.wait(60000, function() return ended end, 1) then -- luacheck: ignore 113
      note(false, "the task did not end in 60 s")
    end
    local done, why = task:wait()
    note(done ~= nil or why == nil, why)
  elseif mode == "tasks" or mode == "ngxtasks" then
    local task = kombo.spawn(work, i)
    local ok, err = pcall(kombo.run)
    if not ok then note(false, "kombo.run raised: " .. tostring(err)) end
    local done, why = task:wait()
    note(done ~= nil or why == nil, why)
  else
    note(pcall(work, i))
  end
end
armed = false
if not inside then sb:stop() end

local lines = {}
for what, n in pairs(outcomes) do lines[#lines + 1] = ("  %5d %s"):format(n, what) end
table.sort(lines)
say(("%s%s %s %s%s: %d runs, the finalizer acted %d times"):format(_VERSION, rawget(_G, "jit") and " (LuaJIT)" or "",
  mode, action, fast and " fast" or "", runs, acts))
say(table.concat(lines, "\n"))
if failed then
  say("FAILED")
  if not inside then os.exit(1) end
end
if inside and inside.out then
  local f = assert(io.open(inside.out, "wb"))
  f:write(table.concat(said, "\n"), "\n")
  f:close()
end
