-- Pages of cursor-paginated operations: the decoded response with
-- next/pages/items on its metatable, so pairs(page) shows only the JSON.
--
-- Where the next page starts is decided by core.next_query (C); this file
-- only drives iteration, on coroutines.

local core = require("kombo.core")
local attempts = require("kombo.attempts")
local build = require("kombo.build")
local errors = require("kombo.errors")
local meta = require("kombo.meta")
local null = require("cjson").null

local drivers = require("kombo.drivers")
local blocking = require("kombo.drivers.curl")
local tasks = require("kombo.drivers.tasks")

local type, error, setmetatable, getmetatable, rawget, pcall, next, find =
  type, error, setmetatable, getmetatable, rawget, pcall, next, string.find
local co_create, co_yield, co_status =
  coroutine.create, coroutine.yield, coroutine.status
local compat = require("kombo.compat")
compat.interpreted_module()
local pack, unpack, unpacked = compat.pack, compat.unpack, compat.unpacked
local WAIT = drivers.WAIT
-- What a walk's producer yields a page with, told apart from a yield of the
-- caller's own code running on it.
local PAGE = setmetatable({}, { __tostring = function() return "kombo.PAGE" end })

-- Resumes one of the walk's coroutines until it yields a wait (WAIT), a
-- page (PAGE) or ends. The caller's own code runs on them too (a logger, a
-- hook, an api_key function): a yield of its is passed on to whoever
-- resumed this code, as it would be with no coroutine of the SDK's between
-- them, and where nothing can take it the yield returns nothing.
local function _resume(co, ...)
  local r = pack(tasks.resume(co, ...))
  while r[1] and r[2] ~= WAIT and r[2] ~= PAGE and co_status(co) ~= "dead" do
    local args = compat.yieldable() and pack(co_yield(unpack(r, 2, r.n))) or pack()
    r = pack(tasks.resume(co, unpacked(args)))
  end
  return r
end

local _M = {}

local Page = {}
local page_mt = { __index = Page }

-- What a page needs to fetch the next one; weak so a page dropped by the
-- caller takes its context with it.
local context = setmetatable({}, { __mode = "k" })

-- ctx.seen is shared by every page of one walk: cursor -> the index of the
-- page whose `next` it was (0 for a cursor the caller passed in).
-- What makes a page one the walk cannot follow, or nil. A page that is not
-- what the API documents ends the walk with an error instead of quietly
-- short: a null among the results would end items() there, results sent as
-- a JSON object would yield nothing, and a `next` that is not a string, or
-- is an empty one, would read as the last page.
local function _malformed(data)
  local results = type(data) == "table" and data.results
  if type(results) ~= "table" then return "page without data.results" end
  -- This runs for every page of every walk, so by index, not pairs, and a
  -- C call (type) for the first item only: a server that sends results of
  -- another kind sends them all so, but a null may be anywhere.
  local n = #results
  for i = 1, n do
    local v = results[i]
    if v == null or v == nil then return ("data.results[%d] is null, not an object"):format(i) end
  end
  if n > 0 and type(results[1]) ~= "table" then
    return ("data.results[1] is %s, not an object"):format(type(results[1]))
  end
  -- Past the sequence there is nothing: a key there is a hole (a null the
  -- decoder left out, with null_as_nil) or a key of an object. next() from
  -- the border finds them because the decoder's arrays live in the array
  -- part (lua_createtable at the JSON length, then rawseti): for a table
  -- built otherwise it might not.
  local k = next(results, n > 0 and n or nil)
  if k ~= nil then
    if type(k) ~= "number" then return "data.results is not an array" end
    for i = n + 1, k do
      if results[i] == nil then return ("data.results[%d] is null, not an object"):format(i) end
    end
  end
  local nxt = data.next
  if nxt == "" then return "data.next is an empty string, not a cursor or null" end
  if nxt ~= nil and nxt ~= null and type(nxt) ~= "string" then
    return ("data.next is %s, not a cursor (a string) or null"):format(type(nxt))
  end
end

-- What a page needs to fetch the next one (context's values).
local function _context(client, op, req, base_query, seen, index)
  return { client = client, op = op, req = req, base_query = base_query, seen = seen, index = index }
end

local function _fetch(client, op, req, base_query, cursor, seen, index)
  local res, err = attempts.run(client, op, req)
  local malformed = res and _malformed(res.data)
  if malformed then
    err = meta.set(errors.new({
      kind = "decode", operation = op.name, message = malformed,
      attempts = (meta.get(res) or {}).attempts,
    }), meta.get(res))
    res = nil
  end
  if not res then
    err.cursor = cursor
    err.resume = req.filters and build.resume(op, req.filters, cursor)
    return nil, err
  end
  context[res] = _context(client, op, req, base_query, seen, index)
  return setmetatable(res, page_mt)
end

--- The first page of a paginated operation (req from build.request).
function _M.first(client, op, req)
  local query = req.query
  local seen = {}
  if req.cursor then
    req.query = core.next_query(query, req.cursor) or query
    seen[req.cursor] = 0
  end
  return _fetch(client, op, req, query, req.cursor, seen, 1)
end

-- The page after the one whose context and cursor these are; takes no
-- page, so an iterator can let go of the current page before fetching.
-- A server that sends a cursor of this walk again (the same `next`, or one
-- pointing back to an earlier page) would have the walk fetch forever.
local function _follow(ctx, cursor, driver, job)
  local query = core.next_query(ctx.base_query, cursor)
  if not query then return nil, nil end
  if find(cursor, attempts.REDACTED, 1, true) then
    -- The decode put the marker where the key was: the server's cursor
    -- cannot be sent back without the key, which the SDK never shows.
    return nil, meta.set(errors.new({
      kind = "pagination", reason = "cursor_holds_key", operation = ctx.op.name, attempts = 0, cursor = cursor,
      message = "the server's next cursor holds the API key (redacted here); the walk cannot go on without"
        .. " sending the key in a URL",
    }), { attempts = 0, elapsed_ms = 0 })
  end
  local seen = ctx.seen
  local from = seen[cursor]
  if from ~= nil and from ~= ctx.index then
    return nil, meta.set(errors.new({
      kind = "pagination", reason = "cursor_repeated", operation = ctx.op.name, attempts = 0, cursor = cursor,
      message = "the server sent cursor " .. cursor .. " again in the same walk; fetching it would loop forever",
    }), { attempts = 0, elapsed_ms = 0 })
  end
  seen[cursor] = ctx.index
  local prev = ctx.req
  local req = {
    path = prev.path, query = query, op = prev.op, opts = prev.opts, policy = prev.policy, server_cursor = cursor,
    filters = prev.filters, driver = driver,
  }
  if job then job.req = req end
  return _fetch(ctx.client, ctx.op, req, ctx.base_query, cursor, seen, ctx.index + 1)
end

-- Prefetch: the page after the one the caller holds is requested at once
-- and read when the caller reaches it, at most one page ahead. Its fetch
-- (_follow: hooks, logger, attempts) runs on a coroutine of its own, with
-- the tasks driver, whose sends and sleeps yield them here (a call made
-- meanwhile by a finalizer on that coroutine keeps its own driver). The
-- first send goes to the driver's start, which returns at once; the
-- answer, and any retry after it, is taken when the page is reached, so a
-- failure raises there and the retries happen as they would have without
-- prefetch.
-- The last page has no cursor; _follow, which makes the next query once,
-- ends a fetch for any other cursor it cannot use before it sends.
-- The page after a prefetched one is requested earlier still, as soon as
-- that one's answer is in and before it is decoded (_join), from the
-- cursor read off the raw answer: by the driver's receive where its finish
-- would decode (the blocking driver's), off the text finish hands back
-- otherwise (tasks, OpenResty).
local function _wanted(ctx, cursor)
  local opts = ctx.req.opts
  local on = opts and opts.prefetch
  if on == nil then on = ctx.client._prefetch end
  return on and type(cursor) == "string"
end

local function _prefetch(ctx, cursor, in_for)
  if not _wanted(ctx, cursor) then return nil end
  local driver = drivers.current()
  -- Inside nginx, code that cannot yield has the blocking driver, and no
  -- coroutine of nginx's to fetch ahead on.
  if driver == blocking and drivers.ngx then return nil end
  -- A for-in iterator cannot yield on PUC Lua 5.1 (_next_page), so a
  -- task there waits for its prefetch blocking.
  if in_for and driver == tasks and not compat.YIELD_IN_FOR then driver = blocking end
  if not driver.start then return nil end
  local co = co_create(_follow)
  local job = { co = co, driver = driver, cursor = cursor, request = drivers.request() }
  local r = _resume(co, ctx, cursor, tasks, job)
  if not r[1] then
    job.raised = r[2]
  elseif co_status(co) == "dead" then
    job.outcome = r
  else
    job.wait = r -- WAIT, "send", client, req
    local ok, pending, guard = pcall(driver.start, r[4], r[5])
    if ok then job.pending, job.guard = pending, guard end
  end
  return job
end

-- A wait of the fetch's coroutine, served as the caller's own would be.
local function _serve(...)
  return drivers.serve(drivers.current(), ...)
end

-- A walk stopped before reaching the prefetched page.
local function _cancel(job)
  local pending = job and job.pending
  if pending and job.request == drivers.request() then
    job.pending = nil
    job.driver.cancel(pending)
  end
end

-- The page after the one being joined, requested early (_join): kept as
-- that page's prefetch when the cursor it was requested with is the page's
-- decoded data.next; otherwise (a page that failed, or whose cursor the
-- raw bytes told otherwise) cancelled, and its cursor forgotten by the walk.
local function _adopt(early, ctx, p, ...)
  if early then
    local next_ctx = p and context[p]
    if next_ctx and rawget(p, "data").next == early.cursor then
      next_ctx.job = early
    else
      _cancel(early)
      if ctx.seen[early.cursor] == ctx.index + 1 then ctx.seen[early.cursor] = nil end
    end
  end
  return p, ...
end

-- The next cursor a driver's answer still in text (tasks, OpenResty) gives
-- plainly: a hint, as a driver's receive gives one (core.peek_next).
local function _plain_next(res)
  local body = type(res) == "table" and res.json == nil and res.status >= 200 and res.status < 300 and res.body
  return type(body) == "string" and core.peek_next(body) or nil
end

-- The prefetched page: its answer, then the rest of its fetch.
local function _join(job, ctx, cursor, in_for)
  if job.raised then error(job.raised, 0) end
  local r = job.outcome
  if r then return unpack(r, 2, r.n) end
  -- Fetched again instead: for a closed client (which sends nothing
  -- more); for code that is not the task that fetched it ahead (a
  -- coroutine of the caller's, or where PUC 5.1 cannot yield: blocking, as
  -- every call there is); from another nginx request (a page kept in a
  -- global), whose coroutine and socket are not this request's to touch
  -- (_cancel leaves the socket for nginx to close).
  if ctx.client._closed or (job.driver == tasks and not tasks.current())
    or job.request ~= drivers.request() then
    _cancel(job)
    return _follow(ctx, cursor)
  end
  local pending = job.pending
  job.pending = nil
  local args, early
  if pending then
    -- The early request goes out before the answer is decoded: before
    -- finish where finish decodes, after it where finish hands back text.
    local driver, cursor_after = job.driver
    if driver.receive then
      cursor_after = driver.receive(pending)
    else
      args = pack(driver.finish(pending))
      cursor_after = _plain_next(args[1])
    end
    -- A cursor holding the key would be redacted by the decode: not sent.
    if cursor_after and job.req and not attempts.holds_key(ctx.client, cursor_after) then
      early = _prefetch(_context(ctx.client, ctx.op, job.req, ctx.base_query, ctx.seen, ctx.index + 1), cursor_after,
        in_for)
    end
    if driver.receive then args = pack(driver.finish(pending)) end
  else
    args = pack(_serve(unpack(job.wait, 3, job.wait.n)))
  end
  local co = job.co
  while true do
    r = _resume(co, unpacked(args))
    if not r[1] then _adopt(early, ctx); error(r[2], 0) end
    if co_status(co) == "dead" then return _adopt(early, ctx, unpack(r, 2, r.n)) end
    args = pack(_serve(unpack(r, 3, r.n)))
  end
end

-- The prefetch next() started for the page ctx describes, if it is for
-- this cursor; the caller takes it over.
local function _take(ctx, cursor)
  local job = ctx.job
  if job and job.cursor == cursor then
    ctx.job = nil
    return job
  end
end

-- page.next() (a dot, not a colon) passes no page, or another table as
-- one: said as operations say it, never a raw error or an empty walk.
local function _misuse(self, method)
  if context[self] then return nil end
  -- A table with the pages' methods that is not a page the SDK returned
  -- (a copy) is called rightly, on the wrong table.
  if type(self) == "table" and getmetatable(self) == page_mt then
    return errors.invalid("page", ("a page an operation returned: page:%s() on a copy of one has no walk to"
      .. " follow"):format(method))
  end
  return errors.invalid("call", ("a method call with a colon: page:%s(), not page.%s()"):format(method, method))
end

--- page:next() -> the following page | nil, nil after the last | nil, err.
-- The page it returns has its own next page in flight already.
function Page:next()
  local ctx = context[self]
  if not ctx then return nil, _misuse(self, "next") end
  local cursor = rawget(self, "data").next
  local job = _take(ctx, cursor)
  -- Where nginx's code cannot yield, a cosocket's answer cannot be waited
  -- for: the page is fetched again, blocking.
  if job and not (job.outcome or job.raised) and drivers.ngx_stuck() then _cancel(job); job = nil end
  local p, err
  if job then p, err = _join(job, ctx, cursor) else p, err = _follow(ctx, cursor) end
  if p then
    local next_ctx = context[p]
    next_ctx.job = next_ctx.job or _prefetch(next_ctx, rawget(p, "data").next)
  end
  return p, err
end

-- Iteration runs on a coroutine that fetches one page per resume: the
-- iterators resume it only when a page is used up, so an item costs a table
-- index, not a resume. The producer lets go of a page before the next one
-- is fetched and decoded: a page still reachable then would be marked by
-- every GC cycle the decode triggers (bench/profile.sh shows the cost).
-- walk.job is the prefetch in flight, for the loop's closing value;
-- walk.first, or walk.ctx and walk.cursor, where the walk goes on, for a
-- walk that has to go on without its coroutine (_next_page: creating one
-- never yields, resuming one may).
local function _producer(first, walk)
  return co_create(function()
    local p = first
    first = nil
    while p do
      local ctx, cursor = context[p], rawget(p, "data").next
      -- Held here, not by the page: dropping the iterator cancels it.
      local job = _take(ctx, cursor)
      -- A task's prefetch from next() is waited for by yielding, which a
      -- for-in iterator cannot do on PUC 5.1: fetched ahead again, there.
      if job and job.driver == tasks and not compat.YIELD_IN_FOR and not (job.outcome or job.raised) then
        _cancel(job)
        job = nil
      end
      job = job or _prefetch(ctx, cursor, true)
      walk.job, walk.first, walk.ctx, walk.cursor = job, nil, ctx, cursor
      co_yield(PAGE, p)
      p = nil -- luacheck: ignore 311 (dropped before the fetch, not after it)
      local err
      if job then p, err = _join(job, ctx, cursor, true) else p, err = _follow(ctx, cursor) end
      job, walk.job = nil, nil -- luacheck: ignore 311 (not held while the caller works)
      if err then error(err, 0) end
    end
  end)
end

-- The closing value of a for-in loop (Lua 5.4): a loop left early cancels
-- its prefetch at once. Elsewhere, and for a walk dropped without a loop,
-- collecting the walk does.
local walk_mt = { __close = function(walk) _cancel(walk.job); walk.job = nil end }

-- The producer's next page, or nil after the last; raises a failed fetch.
-- A driver that waits by yielding WAIT (kombo tasks, Neovim) is passed on
-- to whoever resumes the caller; where a for-in iterator cannot yield (PUC
-- Lua 5.1) the wait is served right here, blocking.
local function _next_page(walk)
  if walk.co and (drivers.ngx_stuck() or walk.request ~= drivers.request()) then
    -- nginx's coroutine.resume cannot run where the code cannot yield:
    -- the walk goes on without its coroutine or a prefetch, blocking.
    _cancel(walk.job)
    walk.job, walk.co = nil, nil
  end
  local co = walk.co
  if not co then
    local p = walk.first
    if p then
      walk.first = nil
    elseif walk.ctx then
      local err
      p, err = _follow(walk.ctx, walk.cursor)
      if err then error(err, 0) end
    end
    walk.ctx, walk.cursor = p and context[p], p and rawget(p, "data").next
    return p
  end
  -- A walk that ended stays ended, for whoever asks (the loop again,
  -- another coroutine sharing the iterator).
  if co_status(co) == "dead" then return nil end
  local args = pack()
  while true do
    local r = _resume(co, unpacked(args))
    if not r[1] then error(r[2], 0) end
    if co_status(co) == "dead" then return nil end
    if r[2] == PAGE then return r[3] end
    if compat.YIELD_IN_FOR then
      args = pack(co_yield(unpack(r, 2, r.n)))
    else
      args = pack(drivers.serve(blocking, unpack(r, 3, r.n)))
    end
  end
end

local function _walk(first)
  local walk = setmetatable({ first = first, request = drivers.request() }, walk_mt)
  -- nginx refuses coroutine.create where it refuses cosockets (the log
  -- phase): there the walk has none, and its first fetch says why it fails.
  if drivers.ngx_usable() then walk.co = _producer(first, walk) end
  return walk
end

--- for p in page:pages() -- this page and every following one; a failed
-- fetch raises the error object (with err.cursor) out of the loop, and
-- again on any later call.
function Page:pages()
  local failure = _misuse(self, "pages")
  local walk = not failure and _walk(self)
  return function()
    if failure then error(failure, 0) end
    local ok, p = pcall(_next_page, walk)
    if not ok then failure = p; error(p, 0) end
    return p
  end, nil, nil, walk
end

-- Items between two pumps of a prefetch whose driver is pumped (libcurl's:
-- the blocking one, and the tasks one for a task that works without
-- yielding): often enough that the kernel's socket buffers never fill
-- while the caller works on items, rarely enough to cost nothing.
local PUMP_ITEMS = 16

--- for item in page:items() -- every element of data.results, across pages.
function Page:items()
  local failure = _misuse(self, "items")
  local walk = not failure and _walk(self)
  local results, i, n, mark = nil, 0, 0, 0
  return function()
    while true do
      if i < n then
        i = i + 1
        if i >= mark then
          mark = i + PUMP_ITEMS
          local job = walk.job
          local pending = job and job.pending
          if pending and job.driver.pump then job.driver.pump(pending) end
        end
        return results[i]
      end
      if failure then error(failure, 0) end
      results = nil
      local ok, p = pcall(_next_page, walk)
      if not ok then failure = p; error(p, 0) end
      if not p then return nil end
      results = rawget(p, "data").results
      i, n, mark = 0, #results, 0
    end
  end, nil, nil, walk
end

return _M
