-- The blocking driver: each client's pool of kept-alive libcurl easy
-- handles, one connection each, and a plain sleep between attempts.

require("kombo.compat").interpreted_module()
local core = require("kombo.core")

local pairs, pcall, error, setmetatable, remove = pairs, pcall, error, setmetatable, table.remove

local _M = {}

-- A request takes the handle freed last, whose connection is the likeliest
-- to be open still: a walk's pages, fetched ahead or not, and the calls
-- between them share one connection while they do not overlap, and a
-- second opens only when they do. A client keeps at most max_connections
-- + 1 handles (its prefetches and the call beside them); one taken beyond
-- that, by a call re-entered from a finalizer, hook or logger while the
-- others are busy, is closed when it comes back. `n` counts the handles
-- the pool made and has not closed; `out` (weak) those taken: one never
-- given back (a prefetch dropped with its walk, an answer a finalizer's
-- error cut short) is collected and closed by its own __gc, and the next
-- count drops it.
local function _pool(client)
  local pool = client._pool
  if not pool then
    pool = { free = {}, n = 0, out = setmetatable({}, { __mode = "k" }), ahead = setmetatable({}, { __mode = "k" }) }
    -- A closed client keeps nothing: a pool not its own closes each handle
    -- as it comes back.
    if not client._closed then client._pool = pool end
  end
  return pool
end

local function _count(set)
  local n = 0
  for _ in pairs(set) do n = n + 1 end
  return n
end

local function _take(client, pool)
  local free = pool.free
  local handle = remove(free)
  if not handle then
    handle = core.easy(client._handle_opts)
    pool.n = _count(pool.out) + #free + 1
  end
  pool.out[handle] = true
  return handle
end

local function _give_back(client, pool, handle)
  pool.out[handle] = nil
  if client._pool ~= pool or pool.n > client._max_connections + 1 then
    pool.n = pool.n - 1
    handle:close()
  else
    local free = pool.free
    free[#free + 1] = handle
  end
end

function _M.send(client, req)
  local pool = _pool(client)
  local handle = _take(client, pool)
  local res, fail = handle:perform(req)
  _give_back(client, pool, handle)
  return res, fail
end

_M.sleep = core.sleep_ms

-- Prefetch (page.lua): a page's request is sent at once (easy:start) on a
-- handle of the pool; its answer is taken in whenever the walk pumps it
-- and the kernel holds what arrives in between, so it comes in while the
-- caller works, on the caller's thread. At most max_connections pages are
-- fetched ahead at once; past that start returns nil and the page is
-- fetched when reached.

--- start(client, req) -> prefetch | nil
function _M.start(client, req)
  local pool = _pool(client)
  if _count(pool.ahead) >= client._max_connections then return nil end
  local handle = _take(client, pool)
  local ok, err = pcall(handle.start, handle, req)
  if not ok then
    _give_back(client, pool, handle)
    error(err, 0)
  end
  pool.ahead[handle] = true
  return { client = client, pool = pool, handle = handle }
end

local function _release(p)
  p.pool.ahead[p.handle] = nil
  _give_back(p.client, p.pool, p.handle)
end

--- pump(prefetch): moves the transfer on without waiting.
function _M.pump(p)
  if not p.answer then p.handle:pump() end
end

--- receive(prefetch) -> the page's next cursor | nil: waits for the
-- answer without building it. For a page whose raw bytes give its next
-- cursor plainly (a hint, easy.c's l_receive) the answer leaves the handle,
-- which goes back to the pool at once: the walk requests the following
-- page then, on the same connection, and its transfer runs while this
-- page is decoded (finish).
function _M.receive(p)
  if p.client._closed then return nil end
  local cursor, answer = p.handle:receive()
  if answer then
    p.answer = answer
    _release(p)
  end
  return cursor
end

--- finish(prefetch) -> response | nil, failure, ms nobody waited for it
-- (easy.c's l_finish, or the received answer's build).
function _M.finish(p)
  local answer = p.answer
  if answer then
    p.answer = nil
    return answer:build()
  end
  -- client:close() (a finalizer's, as the walk went on) closed the
  -- handle and stopped its transfer.
  if p.client._closed then
    _release(p)
    return core.failure("other", "its transfer was stopped", true)
  end
  local res, fail, unwaited = p.handle:finish()
  _release(p)
  return res, fail, unwaited
end

--- cancel(prefetch): stops the transfer; its connection is closed. A
-- prefetch dropped without either is stopped by the handle's finalizer
-- (a received answer's buffers go with the answer).
function _M.cancel(p)
  local answer = p.answer
  if answer then
    p.answer = nil
    answer:close()
    return
  end
  p.handle:cancel()
  _release(p)
end

--- close(client): closes every handle of the client's pool, busy or not
-- (one whose answer is being built keeps its buffers until the build
-- ends: easy.c's l_close).
function _M.close(client)
  local pool = client._pool
  if not pool then return end
  client._pool = nil
  for i = 1, #pool.free do pool.free[i]:close() end
  for handle in pairs(pool.out) do handle:close() end
end

return _M
