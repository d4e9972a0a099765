-- Pages of cursor-paginated operations: the decoded response with
-- next/pages/items on its metatable, so pairs(page) shows only the JSON.
--
-- Where the next page starts is decided by core.next_query (C); this file
-- only drives iteration.

local core = require("kombo.core")
local call = require("kombo.call")
local errors = require("kombo.errors")
local meta = require("kombo.meta")

local type, error, setmetatable, rawget = type, error, setmetatable, rawget

local _M = {}

local Page = {}
local page_mt = { __index = Page }

-- What a page needs to fetch the next one; weak so a page dropped by the
-- caller takes its context with it.
local context = setmetatable({}, { __mode = "k" })

local function _fetch(client, op, req, base_query, cursor)
  local res, err = call.execute(client, op, req)
  if res and (type(res.data) ~= "table" or type(res.data.results) ~= "table") then
    err = meta.set(errors.new({
      kind = "decode", operation = op.name, message = "page without data.results",
      attempts = (meta.get(res) or {}).attempts,
    }), meta.get(res))
    res = nil
  end
  if not res then
    err.cursor = cursor
    return nil, err
  end
  context[res] = { client = client, op = op, req = req, base_query = base_query }
  return setmetatable(res, page_mt)
end

--- The first page of a paginated operation (req from request.build).
function _M.first(client, op, req)
  local query = req.query
  if req.cursor then
    req.query = core.next_query(query, req.cursor) or query
  end
  return _fetch(client, op, req, query, req.cursor)
end

-- The page after the one whose context and cursor these are; takes no
-- page, so an iterator can let go of the current page before fetching.
local function _follow(ctx, cursor)
  local query = core.next_query(ctx.base_query, cursor)
  if not query then return nil, nil end
  local prev = ctx.req
  local req = { path = prev.path, query = query, op = prev.op, opts = prev.opts, policy = prev.policy }
  return _fetch(ctx.client, ctx.op, req, ctx.base_query, cursor)
end

--- page:next() -> the following page | nil, nil after the last | nil, err
function Page:next()
  return _follow(context[self], rawget(self, "data").next)
end

-- Both iterators are plain closures rather than coroutines: an item costs
-- one table index, not a resume and a yield (about 60 ms over 50,000 items
-- in bench/). A fetch made from inside a kombo task still waits by
-- yielding the task's own coroutine, straight from the driver.

--- for p in page:pages() -- this page and every following one; a failed
-- fetch raises the error object (with err.cursor) out of the loop, and
-- again on any later call.
function Page:pages()
  local p, started, failure = self, false, nil
  return function()
    if failure then error(failure, 0) end
    if not started then
      started = true
      return p
    end
    if not p then return nil end
    local ctx, cursor = context[p], rawget(p, "data").next
    p = nil
    local err
    p, err = _follow(ctx, cursor)
    if err then
      failure = err
      error(err, 0)
    end
    return p
  end
end

--- for item in page:items() -- every element of data.results, across pages.
function Page:items()
  local p = self
  local results = rawget(self, "data").results
  local i, n, failure = 0, #results, nil
  return function()
    while true do
      if i < n then
        i = i + 1
        return results[i]
      end
      if failure then error(failure, 0) end
      if not p then return nil end
      -- Let go of this page before the next one is fetched and decoded:
      -- a page still reachable then is marked by every GC cycle the
      -- decode triggers, which made the walk in bench/ about 40% slower.
      local ctx, cursor = context[p], rawget(p, "data").next
      p, results = nil, nil
      local err
      p, err = _follow(ctx, cursor)
      if err then
        failure = err
        error(err, 0)
      end
      if not p then return nil end
      results = rawget(p, "data").results
      i, n = 0, #results
    end
  end
end

return _M
