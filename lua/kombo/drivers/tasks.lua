-- kombo.spawn/run: tasks whose operations yield instead of blocking, all
-- driven over one libcurl multi handle in the C core.
--
-- A task waits by yielding WAIT with what it waits for ("send" or
-- "sleep"); the scheduler starts the transfer or the timer and resumes the
-- task with the outcome. step() never blocks longer than it is told, so
-- the same scheduler runs under kombo.run() (blocking waits) and under an
-- editor's event loop (a timer calling step(0); see drivers/uv.lua).

local core = require("kombo.core")

local co_create, co_resume, co_status, co_yield = coroutine.create, coroutine.resume, coroutine.status, coroutine.yield
local traceback = debug.traceback
local select, type, error, remove, huge = select, type, error, table.remove, math.huge
local unpack = table.unpack or unpack -- luacheck: ignore 143
local now_ms = core.now_ms

local _M = {}

_M.WAIT = setmetatable({}, { __tostring = function() return "kombo.WAIT" end })
local WAIT = _M.WAIT

local function _pack(...) return { n = select("#", ...), ... } end

-- Scheduler state; one per Lua state, which is what a Lua user expects of
-- kombo.spawn (like coroutines themselves).
local ready = {}        -- { task, args } to resume, in order
local timers = {}       -- { at = ms, task = task }
local inflight = 0
local multi = nil       -- created on first use, closed when idle
local current = nil     -- the task being resumed
local failures = {}     -- errors raised by tasks, for run() to re-raise
local free = setmetatable({}, { __mode = "k" }) -- kombo client -> spare core clients

--- The task being run, or nil outside tasks.
function _M.current() return current end

function _M.send(client, req) return co_yield(WAIT, "send", client, req) end
function _M.sleep(ms) co_yield(WAIT, "sleep", ms) end

local function _handle_for(client)
  local pool = free[client]
  if pool and #pool > 0 then return remove(pool) end
  return core.client(client._handle_opts)
end

local function _release(client, handle)
  local pool = free[client]
  if not pool then pool = {}; free[client] = pool end
  pool[#pool + 1] = handle
end

local function _resume(task, args)
  current = task
  local r = _pack(co_resume(task.co, unpack(args, 1, args.n)))
  current = nil
  if not r[1] then
    local e = r[2]
    if type(e) == "table" then
      if type(rawget(e, "kind")) == "string" then e.traceback = traceback(task.co) end
    else
      e = traceback(task.co, tostring(e))
    end
    failures[#failures + 1] = e
    return
  end
  if co_status(task.co) == "dead" then return end
  if r[2] ~= WAIT then -- a plain coroutine.yield(): let the others run first
    ready[#ready + 1] = { task, _pack() }
  elseif r[3] == "send" then
    local client, req = r[4], r[5]
    local handle = _handle_for(client)
    multi = multi or core.multi()
    multi:add(handle, req, { task = task, client = client, handle = handle })
    inflight = inflight + 1
  else
    timers[#timers + 1] = { at = now_ms() + r[4], task = task }
  end
end

--- kombo.spawn(fn, ...) starts a task; it runs at the next step.
function _M.spawn(fn, ...)
  if type(fn) ~= "function" then error("kombo.spawn expects a function", 2) end
  ready[#ready + 1] = { { co = co_create(fn) }, _pack(...) }
  if _M.on_spawn then _M.on_spawn() end
end

--- Is there anything left to do?
function _M.busy()
  return #ready > 0 or inflight > 0 or #timers > 0
end

--- Runs what is ready, then waits at most wait_ms for transfers or timers.
function _M.step(wait_ms)
  while #ready > 0 do
    local item = remove(ready, 1)
    _resume(item[1], item[2])
  end
  local now, next_at = now_ms(), huge
  for i = 1, #timers do
    if timers[i].at < next_at then next_at = timers[i].at end
  end
  local wait = wait_ms
  if next_at - now < wait then wait = next_at - now end
  if wait < 0 then wait = 0 end
  if inflight > 0 then
    local done = multi:perform(wait)
    for i = 1, #done do
      local token = done[i][1]
      inflight = inflight - 1
      _release(token.client, token.handle)
      ready[#ready + 1] = { token.task, _pack(done[i][2], done[i][3]) }
    end
  elseif #timers > 0 and #ready == 0 then
    core.sleep_ms(wait)
  end
  now = now_ms()
  local i = 1
  while i <= #timers do
    if timers[i].at <= now then
      ready[#ready + 1] = { remove(timers, i).task, _pack() }
    else
      i = i + 1
    end
  end
  if not _M.busy() and multi then
    multi:close()
    multi = nil
  end
end

--- Takes the errors raised by tasks so far (oldest first).
function _M.take_failures()
  local f = failures
  failures = {}
  return f
end

--- kombo.run(): drives every spawned task to completion, blocking. Every
-- task runs to its end even when one raises; the first error raised is
-- then re-raised here, with the task's traceback.
function _M.run()
  if current then error("kombo.run called inside a task", 2) end
  while _M.busy() do _M.step(1000) end
  local f = _M.take_failures()
  if #f > 0 then error(f[1], 0) end
end

return _M
