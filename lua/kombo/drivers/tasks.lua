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
--
-- A task is also an object: task:wait() gives its function's results, or
-- nil and what it raised. A task that waits for another, or for a write
-- slot (kombo.governor), is parked: it yields WAIT "park" and is made
-- ready again by whoever it waits for (wake).

local core = require("kombo.core")

local co_create, co_resume, co_status, co_yield = coroutine.create, coroutine.resume, coroutine.status, coroutine.yield
local co_running = coroutine.running
local traceback, getinfo = debug.traceback, debug.getinfo
local type, error, pcall, tostring, remove, huge, pairs = type, error, pcall, tostring, table.remove, math.huge, pairs
local setmetatable, rawget, select, next = setmetatable, rawget, select, next
local compat = require("kombo.compat")
compat.interpreted_module()
local pack, unpacked = compat.pack, compat.unpacked
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
-- Tasks waiting for another task or a write slot (task -> true); the set
-- alone says whether any is, so no count can drift from it.
local parked_tasks = {}
local spawned = 0       -- tasks made so far: each task's number, for spawn order
local stepping = nil    -- the thread step() runs on while it runs (MAIN: 5.1's main thread)
local queued = 0        -- sends waiting for a connection, over all clients
local multi = nil       -- created on first use, closed when idle
local current = nil     -- the task being resumed
local failures = {}     -- tasks that raised since kombo.run last returned
local received = 0      -- response bytes since kombo.run last gave memory back
local cancels = {}      -- prefetches to cancel at the next step (finalizers only append)
local armed = {}        -- prefetches being waited for, with a deadline (prefetch -> true)
-- Finished transfers not yet handed over: multi:perform appends to it and
-- _completed empties it. One list for the scheduler's life, so that from
-- libcurl to its task an answer is always held by something that needs
-- no allocation to keep it (a finalizer raising as one was made would
-- lose the answers of a whole turn).
local completing = {}
-- What a finalizer raised in the scheduler's work that carried on past it
-- (a send started on a later try), kept without allocating: step raises
-- it at its end.
local deferred, deferred_raise = false, nil
-- Tries of a step of the scheduler's own (recording what a task did,
-- starting a send) that a finalizer's raise cut short. Each failed try ran
-- a finalizer, which never runs again, and a program may have thousands
-- pending at once: the cap is for finalizers that make new ones, and for
-- a failure that is not a finalizer's.
local TRIES = 4096
-- 5.1, 5.3 and LuaJIT pass on what a finalizer raises from whatever
-- allocation ran the collector (5.1 also as a pcall returns): in the
-- scheduler's own work (answers handed over, transfers started) it would
-- lose a task's answer or deliver it twice. On 5.1 and 5.3 that work runs
-- with the collector held; a task runs with it as its caller left it. On
-- 5.1, whose collector cannot say whether it runs, a caller's stopped
-- collector runs again after a step. LuaJIT runs finalizers on leaving a
-- trace even when stopped (and raising there can crash it), so there the
-- scheduler's work allocates before it changes anything instead.
local HOLD = _VERSION ~= "Lua 5.4" and rawget(_G, "jit") == nil
local gc_running = HOLD and (pcall(collectgarbage, "isrunning") and function() return collectgarbage("isrunning") end
  or function() return true end)
local held = false      -- the collector is stopped by the scheduler
-- A burst that moved this much gives its memory back when kombo.run ends.
local RELEASE_BYTES = 64 * 1024 * 1024
-- kombo client -> { active = n, queue = { first, last, ... }, spare = { core clients } }.
-- Weak keys: a client nobody holds any more takes its state and spare
-- handles with it (the state holds no reference to its client, which 5.1's
-- weak tables need).
local per_client = setmetatable({}, { __mode = "k" })

--- The task being run, or nil outside tasks. Code that cannot yield
-- (a finalizer or a metamethod the collector or the VM runs mid-task, or
-- the scheduler between two resumes) is outside: its calls block.
-- The SDK runs parts of a call on coroutines of its own (a walk's
-- producer, a page fetched ahead), which pass a task's waits on to whoever
-- resumed them; a coroutine of the caller's (coroutine.wrap around a walk,
-- inside a task) does not, and the task's driver would yield its waits to
-- that caller's code. parent[co]: what last resumed the SDK's coroutine co
-- (resume below), so the running code counts as the task's only when every
-- coroutine between it and the task's own is the SDK's.
local yieldable = compat.yieldable
-- Weak values too: in nginx a cosocket wait inside co yields to nginx, and
-- a request that ends there never returns to resume's unlink; the resumer
-- of a live chain is always reachable, so only such leftovers go.
local parent = setmetatable({}, { __mode = "kv" })
-- _hold() -> whether it stopped the collector; _release(that) restarts it.
local function _hold()
  if not HOLD or held or not gc_running() then return false end
  collectgarbage("stop")
  held = true
  return true
end
local function _release(mine)
  if mine then
    held = false
    collectgarbage("restart")
  end
end

local function _current()
  if not (current and yieldable()) then return nil end
  local co, own = co_running(), current.co
  while co ~= own do
    co = parent[co]
    if co == nil then return nil end
  end
  return current
end
_M.current = _current

-- Is step() on thread's stack (nil: the running thread's)?
local function _on_stack(thread)
  local step, level = _M.step, 0
  while true do
    local info
    if thread then info = getinfo(thread, level, "f") else info = getinfo(level, "f") end
    if not info then return false end
    if info.func == step then return true end
    level = level + 1
  end
end

local MAIN = {}

--- Is step() running (so it cannot be entered now)? An error raised past
-- step's own pcall (a debug hook's, as the pcall returns) leaves the mark
-- with no step running: step's frame, gone from its thread's stack, says
-- so, and the mark goes. From a coroutine, 5.1's main thread cannot be
-- looked at: a step there counts as running.
local function _stepping()
  if not stepping then return false end
  local live
  if stepping == MAIN then
    live = co_running() ~= nil or _on_stack(nil)
  else
    live = _on_stack(stepping)
  end
  if not live then stepping = nil end
  return live
end
_M.stepping = _stepping

--- resume(co, ...) -> what coroutine.resume returns: resumes one of the
-- SDK's own coroutines, which passes the waits of a task it runs in on.
-- The link lasts while co runs: kept after it, it would hold what co's
-- stack holds (5.1 and LuaJIT have no ephemerons), a walk's cancelling
-- guard among it.
local function _unlink(co, ...)
  parent[co] = nil
  return ...
end
function _M.resume(co, ...)
  -- Linked only from the task's own code: resumed from a finalizer or a
  -- hook that runs inside the task (which cannot yield), co is not the
  -- task's either, or its waits would park the task under the code it
  -- interrupted.
  parent[co] = _current() and co_running() or nil
  return _unlink(co, co_resume(co, ...))
end

function _M.send(client, req)
  local r = pack(co_yield(WAIT, "send", client, req))
  if r[1] == RAISE then error(r[2], 0) end
  return unpacked(r)
end

function _M.sleep(ms) co_yield(WAIT, "sleep", ms) end

--- park() -> what wake passes: the running task waits until wake(task,
-- ...) is called for it. When every task left is parked and nothing can
-- wake them, each is woken with nil and a message saying so.
function _M.park()
  local me = _current()
  if not me then error("kombo: only a running task can wait for another task or a write slot", 2) end
  parked_tasks[me] = true
  return co_yield(WAIT, "park")
end

-- Puts entry ({ task, args }) on the ready list. Made by the caller
-- first: `ready[#ready + 1] = { ... }` takes the list before it makes the
-- entry, and a finalizer run by that allocation may swap the list (a
-- task:wait or kombo.run of its own, outside the scheduler), which would
-- leave the entry on a list nobody reads.
local function _ready(entry)
  ready[#ready + 1] = entry
end

--- wake(task, ...) -> true, or false when task is not parked (it ended
-- or was woken already): it runs again at the next step, park() there
-- returning ...
function _M.wake(task, ...)
  if not parked_tasks[task] then return false end
  local entry = { task, pack(...) }
  parked_tasks[task] = nil
  _ready(entry)
  return true
end

local STUCK = "kombo: every task left is waiting (for another task or a write slot) and nothing running can"
  .. " wake it: two tasks waiting for each other, or a write slot held by a coroutine of your own that"
  .. " stopped mid-call"

local function _state(client)
  local st = per_client[client]
  if not st then
    st = { active = 0, queue = { first = 1, last = 0 }, spare = {} }
    per_client[client] = st
  end
  return st
end

-- A prefetch (start/finish below) ended: its outcome waits in the record
-- for finish, or goes to the task parked there.
local function _settle(p, args)
  p.done, p.outcome, p.ended = true, args, now_ms()
  armed[p] = nil
  local waiter = p.waiter
  if waiter then
    p.waiter = nil
    _M.wake(waiter, unpacked(args))
  end
end

-- Who waits for a transfer: a task is resumed, a prefetch settled.
local function _deliver(who, args)
  if who.prefetch then _settle(who, args) else _ready({ who, args }) end
end

local function _add(client, spare, task, req)
  local handle = remove(spare) or core.easy(client._handle_opts)
  multi = multi or core.multi()
  local ok, err = pcall(multi.add, multi, handle, req, { task = task, client = client, handle = handle }, task.prefetch)
  if not ok then
    spare[#spare + 1] = handle
    error(err, 0)
  end
  task.handle = handle
end

-- A prefetch's timeout counts from when finish waits for a transfer
-- libcurl has: the time its task worked on the page before is not the
-- request's, and a request queued behind the client's cap is not yet sent.
local function _arm(p)
  p.deadline = now_ms() + p.timeout_ms
  armed[p] = true
end

-- Hands the transfer to libcurl on a spare handle (or a new one). _add
-- changes nothing unless it succeeds, so a finalizer raising as it
-- allocates (it has run, and will not again) costs a try, not the send;
-- what it raised is raised by step once its work is done. What fails
-- every try is the request's own failure, raised in the task, where it
-- waits to send.
local function _start(client, st, task, req)
  local ok, err = pcall(_add, client, st.spare, task, req)
  if not ok then
    local first = err
    for _ = 2, TRIES do
      ok, err = pcall(_add, client, st.spare, task, req)
      if ok then
        if not deferred then deferred, deferred_raise = true, first end
        break
      end
    end
  end
  if ok then
    st.active = st.active + 1
    inflight = inflight + 1
    if task.waiter then _arm(task) end
  else
    _deliver(task, pack(RAISE, err))
  end
end

-- Starts client's oldest queued sends while there is room.
local function _drain(client)
  local st = per_client[client]
  local max = client._max_connections
  local q = st.queue
  while q.first <= q.last and st.active < max do
    local item = q[q.first]
    -- Off the queue once started: a raise in _start (a finalizer's, as it
    -- hands a failure over) leaves it there for the next try.
    _start(client, st, item[1], item[2])
    q[q.first] = nil
    q.first = q.first + 1
    queued = queued - 1
  end
end

-- A transfer of client's finished: keep its handle (up to the cap) and
-- start the oldest queued sends while there is room.
local function _finished(client, handle)
  local st = per_client[client]
  st.active = st.active - 1
  inflight = inflight - 1
  local spare = st.spare
  if #spare < client._max_connections and not client._closed then
    spare[#spare + 1] = handle
  else
    handle:close()
  end
  _drain(client)
end

-- Sends task's request now, or queues it behind the client's cap.
local function _send(client, task, req)
  local st = _state(client)
  local q = st.queue
  if st.active < client._max_connections and q.first > q.last then
    _start(client, st, task, req)
  else
    local item = { task, req }
    q.last = q.last + 1
    q[q.last] = item
    queued = queued + 1
  end
end

-- Stops a prefetch nobody will read: out of its client's queue, or out
-- of the multi handle (libcurl closes its connection), its slot given to
-- the next queued send.
local function _cancel(p)
  if p.done then return end
  p.done = true -- nobody finishes it: the walk let go of it first
  if p.handle then
    multi:remove(p.handle)
    _finished(p.client, p.handle)
    return
  end
  local q = per_client[p.client].queue
  for i = q.first, q.last do
    if q[i] and q[i][1] == p then
      for j = i, q.last - 1 do q[j] = q[j + 1] end
      q[q.last] = nil
      q.last = q.last - 1
      queued = queued - 1
      return
    end
  end
end

-- A task ended: keep its outcome for task:wait and wake those waiting.
-- What ends a task and allocates nothing: its outcome (made by the
-- caller), its place among the failures, its mark as ended.
local function _mark_ended(task, results, failed, err)
  -- The outcome first: the task counts as ended once it has one.
  task.results = results
  if failed then
    task.error = err
    if not task.owned and not task.listed then
      failures[#failures + 1] = task
      task.listed = true
    end
  end
  task.co = nil
  -- Ended while listed as waiting (its own code finished while a wait it
  -- started was pending): nothing may wake it again.
  parked_tasks[task] = nil
end

local function _ended(task, ok, r)
  if ok then _mark_ended(task, r) else _mark_ended(task, pack(nil, r), true, r) end
  -- A walk's prefetch never outlives the task that walked.
  local mine = task.prefetches
  if mine then for p in pairs(mine) do _cancel(p) end end
  local waiters = task.waiters
  if waiters then
    -- Each is woken to return this outcome: it is taken.
    task.waited = true
    for i = 1, #waiters do _M.wake(waiters[i]) end
  end
  task.waiters = nil
end

local function _note_traceback(e, text) e.traceback = text end

-- What a resume of task gave back (ok, ...): its end, or what it waits for.
local function _record(task, co, ok, ...)
  if not ok then
    local e = ...
    if type(e) == "table" then
      -- An error object that refuses a new field (read-only, a proxy)
      -- goes to kombo.run as it was raised.
      if type(rawget(e, "kind")) == "string" then pcall(_note_traceback, e, traceback(co)) end
    else
      local fine, text = pcall(tostring, e)
      e = traceback(co, fine and text or ("a " .. type(e) .. " whose __tostring raised"))
    end
    return _ended(task, false, e)
  end
  if co_status(co) == "dead" then return _ended(task, true, pack(...)) end
  local what, kind, a, b = ...
  if what ~= WAIT then -- a plain coroutine.yield(): let the others run first
    _ready({ task, pack() })
  elseif kind == "send" then
    _send(a, task, b)
  elseif kind ~= "park" then
    timers[#timers + 1] = { at = now_ms() + a, task = task }
  end
end

local UNRECORDED = "kombo: what the task did could not be recorded: a finalizer raised each time it was tried"
local UNRECORDED_RESULTS = pack(nil, UNRECORDED)

-- Records what task's resume gave back, kept as arguments (the stack holds
-- them: no table to make, so none a finalizer could stop being made). A
-- finalizer raising as _record allocates (5.1's, 5.3's and LuaJIT's run
-- wherever the collector does) has run and will not again: _record, whose
-- every step can be repeated, is tried again, and the first raise is
-- raised after, for the scheduler's caller.
local function _recorded(task, co, mine, ...)
  current = nil
  if mine then _hold() end
  local ok, raised = pcall(_record, task, co, ...)
  if ok then return end
  for _ = 2, TRIES do
    if pcall(_record, task, co, ...) then error(raised, 0) end
  end
  -- Ended allocating nothing (what is made could run a finalizer again);
  -- tasks waiting for it are woken as stuck ones are.
  if task.co then _mark_ended(task, UNRECORDED_RESULTS, true, UNRECORDED) end
  error(raised, 0)
end

local function _resume(task, args)
  local co = task.co
  current = task
  -- The task runs with the collector as the caller has it.
  local mine = held
  _release(mine)
  return _recorded(task, co, mine, co_resume(co, unpacked(args)))
end

local Task = {}
Task.__index = Task

--- task:wait() -> what the task's function returned | nil, err (what it
-- raised, as kombo.run lists it). Inside another task it yields until the
-- task ends; outside any task it runs the scheduler (every task moves)
-- until the task ends.
function Task:wait()
  if getmetatable(self) ~= Task then return nil, "kombo: a method call with a colon: task:wait(), not task.wait()" end
  if self.co then
    local me = _current()
    if me == self then
      return nil, "kombo: a task cannot wait for itself"
    elseif me then
      local w = self.waiters
      if not w then w = {}; self.waiters = w end
      w[#w + 1] = me
      local _, stuck = _M.park()
      if stuck then return nil, stuck end
    elseif _stepping() then
      return nil, "kombo: task:wait outside a task while the scheduler runs (from a finalizer or a hook):"
        .. " wait inside a task instead"
    else
      while self.co and _M.busy() do _M.step(1000) end
    end
  end
  if self.co then
    -- The scheduler ran dry before the task ended: what it waited for was
    -- lost when a finalizer raised in the scheduler's own code.
    return nil, "kombo: the task was left waiting for an answer the scheduler lost (a finalizer raised in it)"
  end
  self.waited = true
  return unpacked(self.results)
end

local function _spawn(owned, fn, ...)
  spawned = spawned + 1
  -- waited: whether a task:wait has returned, or is woken to return, its
  -- outcome (drivers/uv.lua leaves a failure a wait takes to the waiter);
  -- a field from the start, so that setting it allocates nothing.
  local task = setmetatable({ co = co_create(fn), number = spawned, owned = owned, waited = false }, Task)
  _ready({ task, pack(...) })
  if _M.on_spawn then _M.on_spawn() end
  return task
end

--- kombo.spawn(fn, ...) -> task; it starts at the next step.
function _M.spawn(fn, ...)
  if type(fn) ~= "function" then error("kombo.spawn expects a function", 2) end
  return _spawn(false, fn, ...)
end

--- spawn_owned(fn, ...) -> task: a task whose failure its owner collects
-- with task:wait (kombo.map), so kombo.run does not list it.
function _M.spawn_owned(fn, ...)
  return _spawn(true, fn, ...)
end

--- Is there anything left to do?
function _M.busy()
  return #ready > 0 or inflight > 0 or queued > 0 or #timers > 0 or next(parked_tasks) ~= nil
    or #completing > 0
end

local function _complete(item)
  local token, res = item[1], item[2]
  -- Handed over first (what runs it runs at the next step): a finalizer
  -- raising as that allocates has changed nothing, and it is tried again.
  if not item.handed then
    _deliver(token.task, pack(res, item[3]))
    item.handed = true
    if res then received = received + res.bytes end
  end
  -- Counted once (a queue a raise left undrained, the next step drains).
  if not item.finished then
    item.finished = true
    token.task.handle = nil
    _finished(token.client, token.handle)
  end
end

-- Runs fn on each item of list, in place (a finalizer may append to it
-- as this runs): an item a raise cut short stays, moved down (which
-- allocates nothing), for the next turn, where it is taken up again (a
-- finalizer runs once, so each raise is progress). The first raise, or
-- `raised` given from before, is raised once every item had its turn.
local function _each_kept(list, fn, raised)
  local failed, kept, i = raised ~= nil, 0, 1
  while i <= #list do
    local item = list[i]
    local ok, err = pcall(fn, item)
    if not ok then
      kept = kept + 1
      list[kept] = item
      if not failed then failed, raised = true, err end
    end
    i = i + 1
  end
  for j = #list, kept + 1, -1 do list[j] = nil end
  if failed then error(raised, 0) end
end

-- Hands finished transfers to their tasks or prefetches; what a finalizer
-- raised while perform read them (its result) is raised after.
local function _completed(raised) _each_kept(completing, _complete, raised) end

-- One turn of the multi handle without waiting, what it finished handed
-- over, the collector held (what a task's prefetch does from its code).
local function _turn_held() _completed(multi:perform(0, completing)) end
local function _turn()
  local mine = _hold()
  local ok, err = pcall(_turn_held)
  _release(mine)
  if not ok then error(err, 0) end
end

--- start(client, req) -> prefetch, guard: sends req beside the running
-- task (a page walk's next page) and returns at once; finish(prefetch)
-- waits for its answer. The request goes out now, so the server works
-- while the task does; the answer is read when the scheduler next runs.
-- Its transfer runs without libcurl's timeout (the task may work on its
-- page for longer): finish's wait has it (_arm). Dropping guard (the walk
-- was abandoned) cancels the prefetch.
function _M.start(client, req)
  local p = { prefetch = true, client = client, owner = current, timeout_ms = req.timeout_ms }
  if current then
    local mine = current.prefetches or setmetatable({}, { __mode = "k" })
    current.prefetches = mine
    mine[p] = true
  end
  _send(client, p, req)
  if p.handle then _turn() end
  p.since = now_ms()
  return p, compat.guard(function() cancels[#cancels + 1] = p end)
end

--- finish(prefetch) -> response | nil, failure, ms nobody waited for it
-- (which count toward neither its timeout nor its elapsed time): since it
-- ended, or, not ended yet, since start returned.
function _M.finish(p)
  if p.owner and p.owner.prefetches then p.owner.prefetches[p] = nil end
  local unwaited = now_ms() - (p.ended or p.since)
  local r = p.outcome
  if not p.done then
    p.waiter = current
    if p.handle then _arm(p) end
    r = pack(_M.park())
    if r[1] == nil and type(r[2]) == "string" then error(r[2], 0) end -- stuck (park)
  end
  if r[1] == RAISE then error(r[2], 0) end
  return r[1], r[2], unwaited
end

--- pump(prefetch): moves the transfers on without waiting. items() calls
-- it every few items, so a task that works on its page without yielding
-- still takes the next page's answer in when it comes: its page's time is
-- then the server's, not the caller's work (what it is when the answer
-- waits in the socket for the scheduler). Raises only what a finalizer
-- raises, after every answer is handed over (as start does).
function _M.pump(p)
  if not p.done and p.handle then _turn() end
end

-- A prefetch whose timeout ran out while finish waited: its transfer
-- ends as libcurl's own timeout would have ended it. Each step can be
-- repeated at the next turn when a finalizer's raise cuts it short: the
-- failure is kept before the handle is let go, the handle let go once.
local function _expire(p, now)
  local handle = p.handle
  if handle then
    p.expired = select(2, multi:remove(handle, now - p.deadline + p.timeout_ms))
    p.handle = nil
    _finished(p.client, handle)
  end
  _settle(p, pack(nil, p.expired))
end

--- cancel(prefetch): the walk stopped before reaching its page.
function _M.cancel(p)
  cancels[#cancels + 1] = p
end

local function _step(wait_ms)
  if #cancels > 0 then _each_kept(cancels, _cancel) end
  -- A queue whose draining a raise cut short (the transfer that ended
  -- may have been the last) is drained here.
  if queued > 0 then
    for client in pairs(per_client) do _drain(client) end
  end
  -- One batch per step (removing from the front of a long list would be
  -- quadratic); what it readies runs at the next step, after transfers
  -- have moved, so a task that yields in a loop cannot starve them.
  do -- the batch (answers it handed over) is let go before waiting
    local batch = ready
    ready = {}
    -- 5.1 and LuaJIT pass on what a finalizer raises from whatever
    -- allocation ran it, the scheduler's own: raised after the batch, so
    -- that no task of it is dropped.
    local failed, raised = false, nil
    for i = 1, #batch do
      local ok, err = pcall(_resume, batch[i][1], batch[i][2])
      if not ok and not failed then failed, raised = true, err end
    end
    if failed then error(raised, 0) end
  end
  local now, next_at = now_ms(), huge
  for i = 1, #timers do
    if timers[i].at < next_at then next_at = timers[i].at end
  end
  for p in pairs(armed) do
    if p.deadline < next_at then next_at = p.deadline end
  end
  local wait = wait_ms
  if #ready > 0 then wait = 0 end
  if next_at - now < wait then wait = next_at - now end
  if wait < 0 then wait = 0 end
  if inflight > 0 or #completing > 0 then
    _completed(multi:perform(wait, completing))
  elseif #timers > 0 and #ready == 0 then
    core.sleep_ms(wait)
  elseif next(parked_tasks) ~= nil and #ready == 0 then
    -- Only parked tasks are left: what they wait for can only come back
    -- from a slot whose holder was dropped (a coroutine of the caller's
    -- own, abandoned mid-call), which a full collection releases.
    collectgarbage("collect")
    -- A full collection lets 5.1's collector run again.
    if held then collectgarbage("stop") end
    if #ready == 0 then
      for task in pairs(parked_tasks) do _M.wake(task, nil, STUCK) end
    end
  end
  now = now_ms()
  for p in pairs(armed) do
    if p.deadline <= now then _expire(p, now) end
  end
  local i = 1
  while i <= #timers do
    if timers[i].at <= now then
      _ready({ timers[i].task, pack() })
      remove(timers, i)
    else
      i = i + 1
    end
  end
  if not _M.busy() and multi then
    multi:close()
    multi = nil
  end
end

--- Runs what is ready, then waits at most wait_ms for transfers or timers.
function _M.step(wait_ms)
  if _stepping() then error("kombo: the task scheduler was entered again from inside itself", 2) end
  stepping = co_running() or MAIN
  _hold()
  local ok, err = pcall(_step, wait_ms)
  _release(held)
  stepping = nil
  -- An error out of the scheduler itself (LuaJIT passes on what a
  -- finalizer raises, wherever the collector ran it) leaves no task marked
  -- as running, or every later kombo.run would refuse to start.
  current = nil
  local later, raise = deferred, deferred_raise
  deferred, deferred_raise = false, nil
  if not ok then error(err, 0) end
  if later then error(raise, 0) end
end

local function _by_number(a, b) return a.number < b.number end

--- Takes what the tasks that failed since the last call raised, in the
-- order they were spawned: errors, and errors.tasks (the task of each).
function _M.take_failures()
  local f = failures
  failures = {}
  table.sort(f, _by_number)
  local errs = { tasks = f }
  for i = 1, #f do errs[i] = f[i].error end
  return errs
end

--- kombo.run() -> true | nil, errors: drives every spawned task to its
-- end, blocking. A task that raises does not stop the others; errors
-- lists what each failed task raised, in spawn order (errors.tasks[i] is
-- the task that raised errors[i]).
function _M.run()
  if current then error("kombo.run called inside a task", 2) end
  if _stepping() then error("kombo.run called while the scheduler runs (from a finalizer or a hook)", 2) end
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
