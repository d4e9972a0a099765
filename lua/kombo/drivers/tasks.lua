-- kombo.spawn/run: tasks whose operations yield instead of blocking, all
-- driven over one libcurl multi handle in the C core.
--
-- A task waits by yielding WAIT with what it waits for ("send" or
-- "sleep"); the scheduler starts the transfer or the timer and resumes the
-- task with the outcome. step() never blocks longer than it is told, so
-- the same scheduler runs under kombo.run() (blocking waits) and under an
-- editor's event loop (a timer calling step(0); see drivers/uv.lua).
--
-- Each kombo client has at most client._max_connections transfers in
-- flight; further sends wait in a FIFO queue and start as others finish.
-- A queued request is not handed to libcurl, so its timeout only starts
-- when it does.

local core = require("kombo.core")

local co_create, co_resume, co_status, co_yield = coroutine.create, coroutine.resume, coroutine.status, coroutine.yield
local traceback = debug.traceback
local type, error, pcall, tostring, remove, huge = type, error, pcall, tostring, table.remove, math.huge
local setmetatable, rawget = setmetatable, rawget
local compat = require("kombo.compat")
local pack, unpack = compat.pack, compat.unpack
local now_ms = core.now_ms

local _M = {}

_M.WAIT = setmetatable({}, { __tostring = function() return "kombo.WAIT" end })
local WAIT = _M.WAIT

-- Resumes a waiting task with an error to raise where it waits.
local RAISE = {}

-- Scheduler state; one per Lua state, which is what a Lua user expects of
-- kombo.spawn (like coroutines themselves).
local ready = {}        -- { task, args } to resume, in order
local timers = {}       -- { at = ms, task = task }
local inflight = 0
local queued = 0        -- sends waiting for a connection, over all clients
local multi = nil       -- created on first use, closed when idle
local current = nil     -- the task being resumed
local failures = {}     -- errors raised by tasks, oldest first
local received = 0      -- response bytes since kombo.run last gave memory back
-- A burst that moved this much gives its memory back when kombo.run ends.
local RELEASE_BYTES = 64 * 1024 * 1024
-- kombo client -> { active = n, queue = { first, last, ... }, spare = { core clients } }.
-- Weak keys: a client nobody holds any more takes its state and spare
-- handles with it (the state holds no reference to its client, which 5.1's
-- weak tables need).
local per_client = setmetatable({}, { __mode = "k" })

--- The task being run, or nil outside tasks.
function _M.current() return current end

function _M.send(client, req)
  local r = pack(co_yield(WAIT, "send", client, req))
  if r[1] == RAISE then error(r[2], 0) end
  return unpack(r, 1, r.n)
end

function _M.sleep(ms) co_yield(WAIT, "sleep", ms) end

local function _state(client)
  local st = per_client[client]
  if not st then
    st = { active = 0, queue = { first = 1, last = 0 }, spare = {} }
    per_client[client] = st
  end
  return st
end

local function _add(client, spare, task, req)
  local handle = remove(spare) or core.easy(client._handle_opts)
  multi = multi or core.multi()
  local ok, err = pcall(multi.add, multi, handle, req, { task = task, client = client, handle = handle })
  if not ok then
    spare[#spare + 1] = handle
    error(err, 0)
  end
end

-- Hands the transfer to libcurl on a spare handle (or a new one). What
-- fails here is raised in the task, where it waits to send.
local function _start(client, st, task, req)
  local ok, err = pcall(_add, client, st.spare, task, req)
  if ok then
    st.active = st.active + 1
    inflight = inflight + 1
  else
    ready[#ready + 1] = { task, pack(RAISE, err) }
  end
end

-- A transfer of client's finished: keep its handle (up to the cap) and
-- start the oldest queued sends while there is room.
local function _finished(client, handle)
  local st = per_client[client]
  local max = client._max_connections
  st.active = st.active - 1
  inflight = inflight - 1
  local spare = st.spare
  if #spare < max and not client._closed then
    spare[#spare + 1] = handle
  else
    handle:close()
  end
  local q = st.queue
  while q.first <= q.last and st.active < max do
    local item = q[q.first]
    q[q.first] = nil
    q.first = q.first + 1
    queued = queued - 1
    _start(client, st, item[1], item[2])
  end
end

local function _resume(task, args)
  current = task
  local r = pack(co_resume(task.co, unpack(args, 1, args.n)))
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
    ready[#ready + 1] = { task, pack() }
  elseif r[3] == "send" then
    local client, req = r[4], r[5]
    local st = _state(client)
    local q = st.queue
    if st.active < client._max_connections and q.first > q.last then
      _start(client, st, task, req)
    else
      q.last = q.last + 1
      q[q.last] = { task, req }
      queued = queued + 1
    end
  else
    timers[#timers + 1] = { at = now_ms() + r[4], task = task }
  end
end

--- kombo.spawn(fn, ...) starts a task; it runs at the next step.
function _M.spawn(fn, ...)
  if type(fn) ~= "function" then error("kombo.spawn expects a function", 2) end
  ready[#ready + 1] = { { co = co_create(fn) }, pack(...) }
  if _M.on_spawn then _M.on_spawn() end
end

--- Is there anything left to do?
function _M.busy()
  return #ready > 0 or inflight > 0 or queued > 0 or #timers > 0
end

--- Runs what is ready, then waits at most wait_ms for transfers or timers.
function _M.step(wait_ms)
  while #ready > 0 do
    -- A batch at a time: removing from the front of a long list is quadratic.
    local batch = ready
    ready = {}
    for i = 1, #batch do _resume(batch[i][1], batch[i][2]) end
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
      local token, res = done[i][1], done[i][2]
      if res then received = received + #res.body end
      _finished(token.client, token.handle)
      ready[#ready + 1] = { token.task, pack(done[i][2], done[i][3]) }
    end
  elseif #timers > 0 and #ready == 0 then
    core.sleep_ms(wait)
  end
  now = now_ms()
  local i = 1
  while i <= #timers do
    if timers[i].at <= now then
      ready[#ready + 1] = { remove(timers, i).task, pack() }
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

--- kombo.run() -> true | nil, errors: drives every spawned task to its
-- end, blocking. A task that raises does not stop the others; errors
-- lists what each failed task raised, in the order they failed.
function _M.run()
  if current then error("kombo.run called inside a task", 2) end
  while _M.busy() do _M.step(1000) end
  if received >= RELEASE_BYTES then
    -- The burst's responses are garbage now: collect them, then let the
    -- allocator return the pages, so the process goes back near where it
    -- was before the burst instead of staying at its peak.
    received = 0
    collectgarbage("collect")
    core.release_memory()
  end
  local f = _M.take_failures()
  if #f > 0 then return nil, f end
  return true
end

--- Closes client's spare handles (client:close()); a transfer still in
-- flight closes its handle when it finishes.
function _M.close(client)
  local st = per_client[client]
  if not st then return end
  local spare = st.spare
  st.spare = {}
  for i = 1, #spare do spare[i]:close() end
end

return _M
