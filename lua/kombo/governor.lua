-- The write governor: Kombo refuses more than a cap of one integration's
-- writes ("actions") in flight at once, with a 429
-- PLATFORM.CONCURRENCY_LIMIT_EXCEEDED. Every client of this Lua state (an
-- nginx worker's, a script's, an editor's) keeps at most its
-- max_in_flight_writes writes per integration id in flight; the rest wait
-- in FIFO order. A place is taken before an attempt starts and given back
-- when it ends (attempts.lua), whatever its outcome.
--
-- Kombo's answers to writes carry Concurrency-Limit (the integration's
-- cap) and Concurrency-Remaining (how many more it takes right now). From
-- each answer that carries both, what other processes hold is
--   others = Concurrency-Limit - Concurrency-Remaining - ours in flight
-- (the answered write counted among ours), and the integration's cap is
--   max(1, Concurrency-Limit - the largest `others` of the last 1 to 2 s).
-- Writes of ours still on their way to the server, or answered while this
-- answer travelled, make a single estimate of `others` too small, and so
-- the cap too large; the largest of a second or two of answers is right
-- as soon as one of them was. The cap never goes above a client's
-- max_in_flight_writes, and grows back within two seconds of the others
-- leaving (at once when Concurrency-Limit itself grows).

-- Waiting for a place is the runtime's: a task parks (kombo.spawn), an
-- nginx light thread waits on a semaphore, and a blocking call runs the
-- task scheduler until a task gives a place back. A place whose holder
-- was dropped mid-attempt (a coroutine abandoned by its caller, a killed
-- light thread) is given back when the collector finalizes it.

require("kombo.compat").interpreted_module()
local tasks = require("kombo.drivers.tasks")

local now_ms = require("kombo.core").now_ms

local type, tonumber, setmetatable, getmetatable, floor, huge, pairs =
  type, tonumber, setmetatable, getmetatable, math.floor, math.huge, pairs
local co_running, co_status = coroutine.running, coroutine.status
local newproxy = rawget(_G, "newproxy")

local _M = {}

-- integration id -> { active = writes in flight, held = the places (weak:
-- a place a dropped holder left must stay collectable), cap = the server's cap
-- or nil, others = { since, now, before } (the largest estimates of what
-- others hold in this second and the one before), queue = { first, last,
-- [i] = waiter } }. One small record per integration this process writes to.
local groups = {}
local WEAK_KEYS = { __mode = "k" }

-- How long an estimate of what others hold counts: one window, and the
-- one before it.
local WINDOW_MS = 1000

local function _group(id)
  local g = groups[id]
  if not g then
    g = { active = 0, held = setmetatable({}, WEAK_KEYS), queue = { first = 1, last = 0 } }
    groups[id] = g
  end
  return g
end

local function _limit(g, max)
  local cap = g.cap
  if cap and cap < max then return cap end
  return max
end

local _release

-- A place: released at most once, by release() or, when its holder
-- dropped it, by the collector. Lua 5.1 finalizes only userdata, hence
-- newproxy there.
-- `co`: the coroutine of the call the place is for (the waiter's, when
-- _pump hands it over while another call's coroutine runs), so _reap gives
-- it back only once that call's coroutine is dead.
local function _place(g, co)
  -- Counted before anything is allocated: a collection that finalizes
  -- another place meanwhile must see this one taken.
  g.active = g.active + 1
  local place = { group = g, co = co }
  g.held[place] = true
  local function finalize() _release(place) end
  if newproxy then
    local guard = newproxy(true)
    getmetatable(guard).__gc = finalize
    place.guard = guard
  else
    setmetatable(place, { __gc = finalize })
  end
  return place
end

-- Hands free places to the queue's oldest waiters.
local function _pump(g)
  local q = g.queue
  while q.first <= q.last do
    local w = q[q.first]
    if g.active >= _limit(g, w.max) then return end
    q[q.first] = nil
    q.first = q.first + 1
    if not w.gone then
      w.place = _place(g, w.co)
      if not w.wake() then
        -- Nobody waits for it any more.
        local place = w.place
        w.place = nil
        _release(place)
      end
    end
  end
end

_release = function(place)
  local g = place.group
  if not g then return end
  place.group = nil
  g.held[place] = nil
  local lease = place.lease
  if lease and place.dict:get(lease) == place.token then place.dict:delete(lease) end
  g.active = g.active - 1
  _pump(g)
end

-- Gives back the places whose holder's coroutine is dead: a light thread
-- killed mid-call (ngx.thread.kill) is still referenced by its request, so
-- the collector cannot give its place back before the request ends.
-- Returns whether one was.
-- nginx's coroutine.status raises in the phases without cosockets (log,
-- init_worker, ...), where a finalizer may run this: a holder whose status
-- cannot be read counts as alive. (It tells another request's coroutine
-- apart only in a Lua module built with exdata2, as OpenResty's LuaJIT is.)
local function _dead(co)
  local ok, status = pcall(co_status, co)
  return ok and status == "dead"
end

local function _reap(g)
  local any = false
  for place in pairs(g.held) do
    local co = place.co
    if co and place.group and _dead(co) then
      _release(place)
      any = true
    end
  end
  return any
end

local ngx_wait
do
  local ngx = rawget(_G, "ngx")
  if type(ngx) == "table" and type(ngx.get_phase) == "function" then
    local semaphore = require("ngx.semaphore")
    -- Waits on a semaphore the releasing request posts. A light thread
    -- killed meanwhile is still handed its place, under its own (dead)
    -- coroutine: the next write that finds every place taken reaps it.
    ngx_wait = function(w, g)
      local sema = semaphore.new(0)
      w.wake = function()
        sema:post(1)
        return true
      end
      return function()
        while not w.place do
          local ok, err = sema:wait(1)
          if not ok and err ~= "timeout" then return err end
          if not ok then _reap(g) end
        end
      end
    end
  end
end

-- A place among the worker's (or the process's) writes in flight.
local function _take_local(client, id, driver)
  local g = _group(id)
  local max = client._max_in_flight_writes
  local q = g.queue
  if q.first > q.last and (g.active < _limit(g, max) or (_reap(g) and g.active < _limit(g, max))) then
    return _place(g, co_running()), false
  end
  local w = { max = max, co = co_running() }
  q.last = q.last + 1
  q[q.last] = w
  if ngx_wait and driver.phase_ok then
    ngx_wait(w, g)()
    if w.place then return w.place, true end
    -- This context cannot wait (nginx refused the semaphore): go over
    -- the cap rather than spin.
    w.gone = true
    return _place(g, w.co), true
  end
  local task = tasks.current()
  if task then
    w.wake = function() return tasks.wake(task) end
    local _, stuck = tasks.park()
    if w.place then return w.place, true end
    w.gone = true
    return nil, stuck
  end
  -- Blocking: the places are held by tasks, which move only when the
  -- scheduler runs (in an editor loop, say); run it until one comes back.
  w.wake = function() return true end
  while not w.place and tasks.busy() and not tasks.stepping() do tasks.step(1000) end
  if w.place then return w.place, true end
  -- Nothing that runs can give one back (a call from a finalizer while
  -- the scheduler runs, or places held by dropped coroutines not yet
  -- collected): this call goes over the cap rather than wait forever.
  w.gone = true
  return _place(g, w.co), true
end

-- Across nginx workers (the shared_dict option): place number k of
-- integration `id` is the key "kombo:<id>:<k>" of the lua_shared_dict,
-- taken with safe_add() (which fails while another worker holds it), for
-- k from 1 to the cap. A place is a lease: it expires on its own one
-- second after the longest its attempt may last, so the places of a
-- worker that crashed come back at most that late.
--
-- Writes that find every place taken wait their turn across workers: the
-- worker whose write ends would otherwise hand the place to its own next
-- write at once, and another worker's would never find one free. A waiter
-- draws a ticket ("kombo:<id>:tickets") and marks it waiting
-- ("kombo:<id>:waiting:<ticket>"); a free place goes to no write while a
-- lower ticket is marked. The first in line looks every 5 ms, the others
-- less often the further back they are, at most every 100 ms. A mark
-- lapses MARK_TTL_S after its waiter last looked, so one killed while
-- waiting holds up the others at most that long. "kombo:<id>:served"
-- spares the scans the tickets of waiters long gone.
local LEASE_FIRST_S, LEASE_MAX_S = 0.005, 0.1
local AHEAD_MOST = floor(LEASE_MAX_S / LEASE_FIRST_S)
local MARK_TTL_S = 1
local leases = 0

-- A free place for `token`: true; false when all are taken; nil when the
-- dict cannot hold one (full or failing: the worker's own count still holds).
local function _free_place(dict, place, prefix, limit, token, ttl)
  for k = 1, limit do
    local key = prefix .. k
    local ok, err = dict:safe_add(key, token, ttl)
    if ok then
      place.lease, place.dict, place.token = key, dict, token
      return true
    end
    if err ~= "exists" then return nil end
  end
  return false
end

-- How many waiters with a ticket below `ticket` still wait, counted up to
-- AHEAD_MOST; moves "served" past the leading tickets nobody waits on.
local function _ahead(dict, prefix, ticket)
  local served = dict:get(prefix .. "served") or 0
  local last = dict:get(prefix .. "tickets") or 0
  if last > ticket - 1 then last = ticket - 1 end
  local n, done = 0, served
  for t = served + 1, last do
    if dict:get(prefix .. "waiting:" .. t) then
      n = n + 1
      if n >= AHEAD_MOST then break end
    elseif done == t - 1 then
      done = t
    end
  end
  if done > served then dict:safe_set(prefix .. "served", done) end
  return n
end

-- can_wait false: code that cannot yield (a finalizer), whose pause would
-- hold up the whole worker, its own writes' places too: with none free,
-- it goes over the cap.
local function _lease(dict, place, id, limit, lease_ms, can_wait)
  local ngx = rawget(_G, "ngx")
  leases = leases + 1
  local token = ngx.worker.pid() .. ":" .. leases
  local ttl = (lease_ms or 0) / 1000 + 1
  local prefix = "kombo:" .. id .. ":"
  local ticket, mark, waited = huge, nil, false
  while true do
    local ahead = _ahead(dict, prefix, ticket)
    if ahead == 0 and _free_place(dict, place, prefix, limit, token, ttl) ~= false then
      if mark then dict:delete(mark) end
      return waited
    end
    if not can_wait then return waited end
    if not mark then
      ticket = dict:incr(prefix .. "tickets", 1, 0)
      if not ticket then return waited end
      mark = prefix .. "waiting:" .. ticket
    end
    dict:safe_set(mark, true, MARK_TTL_S)
    waited = true
    local pause = LEASE_FIRST_S * (ahead + 1)
    ngx.sleep(pause < LEASE_MAX_S and pause or LEASE_MAX_S)
  end
end

--- take(client, id, driver, lease_ms) -> place, waited | nil, message: a
-- place among integration `id`'s writes in flight, waiting for one in
-- `driver`'s way (drivers.current()) while they are all taken; with the
-- client's shared_dict, also one of all the nginx workers' places, held
-- at most lease_ms (the attempt's timeout) and one second more.
function _M.take(client, id, driver, lease_ms)
  local place, waited = _take_local(client, id, driver)
  local name = place and client._shared_dict
  if name then
    local leased = _lease(rawget(_G, "ngx").shared[name], place, id, _limit(place.group,
      client._max_in_flight_writes), lease_ms, driver.phase_ok ~= nil)
    waited = waited or leased
  end
  return place, waited
end

-- The largest estimate of what others hold over the last one to two
-- windows, `estimate` included.
local function _others(g, estimate)
  local now = now_ms()
  local o = g.others
  if not o or now - o.since >= 2 * WINDOW_MS then
    o = { since = now, now = estimate, before = 0 }
    g.others = o
  elseif now - o.since >= WINDOW_MS then
    o.since, o.before, o.now = now, o.now, estimate
  elseif estimate > o.now then
    o.now = estimate
  end
  if o.before > o.now then return o.before end
  return o.now
end

--- release(place, headers): the attempt ended; `headers` are its answer's
-- (lower-case names), or nil when there was none.
function _M.release(place, headers)
  local g = place.group
  if not g then return end
  if headers then
    local limit = tonumber(headers["concurrency-limit"])
    local left = tonumber(headers["concurrency-remaining"])
    if limit and left and limit >= 1 and limit < huge and left >= 0 and left < huge then
      local estimate = limit - left - g.active
      local others = _others(g, estimate > 0 and estimate or 0)
      local cap = floor(limit - others)
      if cap < 1 then cap = 1 end
      g.cap = cap
    end
  end
  _release(place)
end

--- state(id) -> { active, cap, queued }: for specs and curious callers.
function _M.state(id)
  local g = groups[id]
  if not g then return { active = 0, queued = 0 } end
  return { active = g.active, cap = g.cap, queued = g.queue.last - g.queue.first + 1 }
end

return _M
