-- Pages of cursor-paginated operations: the decoded response with
-- next/pages/items on its metatable, so pairs(page) shows only the JSON.
--
-- Where the next page starts is decided by core.next_query (C); this file
-- only drives iteration with coroutines.

local core = require("kombo.core")
local call = require("kombo.call")
local drivers = require("kombo.drivers")
local errors = require("kombo.errors")
local meta = require("kombo.meta")

local type, error, setmetatable, rawget, select = type, error, setmetatable, rawget, select
local co_create, co_resume, co_yield, co_status =
  coroutine.create, coroutine.resume, coroutine.yield, coroutine.status
local unpack = table.unpack or unpack -- luacheck: ignore 143
local WAIT = drivers.WAIT

local _M = {}

local Page = {}
local page_mt = { __index = Page }

-- What a page needs to fetch the next one; weak so a page dropped by the
-- caller takes its context with it.
local context = setmetatable({}, { __mode = "k" })

local function _pack(...) return { n = select("#", ...), ... } end

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

--- page:next() -> the following page | nil, nil after the last | nil, err
function Page:next()
  local ctx = context[self]
  local data = rawget(self, "data")
  local cursor = data.next
  local query = core.next_query(ctx.base_query, cursor)
  if not query then return nil, nil end
  local prev = ctx.req
  local req = { path = prev.path, query = query, op = prev.op, opts = prev.opts, policy = prev.policy }
  return _fetch(ctx.client, ctx.op, req, ctx.base_query, cursor)
end

-- An iterator over what producer yields, run in its own coroutine. A
-- driver that waits by yielding WAIT (kombo tasks, Neovim) is passed
-- through to whoever resumes us, so iteration works inside tasks too.
local function _iterate(producer)
  local co = co_create(producer)
  return function()
    local args = _pack()
    while true do
      local r = _pack(co_resume(co, unpack(args, 1, args.n)))
      if not r[1] then error(r[2], 0) end
      if co_status(co) == "dead" then return nil end
      if r[2] ~= WAIT then return r[2] end
      args = _pack(co_yield(unpack(r, 2, r.n)))
    end
  end
end

--- for p in page:pages() -- this page and every following one; a failed
-- fetch raises the error object (with err.cursor) out of the loop.
function Page:pages()
  local first = self
  return _iterate(function()
    local p = first
    first = nil
    while p do
      co_yield(p)
      local err
      p, err = p:next()
      if err then error(err, 0) end
    end
  end)
end

--- for item in page:items() -- every element of data.results, across pages.
function Page:items()
  local first = self
  return _iterate(function()
    local p = first
    first = nil
    while p do
      local results = p.data.results
      for i = 1, #results do co_yield(results[i]) end
      local err
      p, err = p:next()
      if err then error(err, 0) end
    end
  end)
end

return _M
