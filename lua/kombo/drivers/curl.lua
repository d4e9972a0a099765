-- The blocking driver: one kept-alive libcurl easy handle per client, and
-- a plain sleep between attempts.

require("kombo.compat").interpreted_module()
local core = require("kombo.core")

local pairs, setmetatable, remove, now_ms = pairs, setmetatable, table.remove, core.now_ms

local _M = {}

function _M.send(client, req)
  local handle = client._handle
  if not handle then
    handle = core.easy(client._handle_opts)
    client._handle = handle
  elseif handle:busy() then
    -- Re-entered from a finalizer, hook or logger while this client's
    -- handle still holds a response: a handle of its own for this call.
    local spare = core.easy(client._handle_opts)
    local res, fail = spare:perform(req)
    spare:close()
    return res, fail
  end
  return handle:perform(req)
end

_M.sleep = core.sleep_ms

-- Prefetch (page.lua): a page's request is sent at once (easy:start) on a
-- handle of its own; its answer is taken in whenever the walk pumps it
-- and the kernel holds what arrives in between, so it comes in
-- while the caller works, on the caller's thread. A client has at most
-- max_connections such handles busy, each on its own kept-alive
-- connection; past that start returns nil and the page is fetched when
-- reached.

--- start(client, req) -> prefetch | nil
function _M.start(client, req)
  local busy = client._prefetching
  if not busy then
    busy = setmetatable({}, { __mode = "k" })
    client._prefetching, client._prefetch_spare = busy, {}
  end
  local handle = remove(client._prefetch_spare)
  if not handle then
    local n = 0
    for _ in pairs(busy) do n = n + 1 end
    if n >= client._max_connections then return nil end
    handle = core.easy(client._handle_opts)
  end
  handle:start(req)
  busy[handle] = true
  return { client = client, handle = handle }
end

local function _release(p)
  local client, handle = p.client, p.handle
  local busy, spare = client._prefetching, client._prefetch_spare
  if client._closed or not busy then return handle:close() end
  busy[handle] = nil
  spare[#spare + 1] = handle
end

--- pump(prefetch): moves the transfer on without waiting.
function _M.pump(p)
  p.handle:pump()
end

--- finish(prefetch) -> response | nil, failure, ms the answer waited.
function _M.finish(p)
  local res, fail, ended = p.handle:finish()
  _release(p)
  return res, fail, now_ms() - ended
end

--- cancel(prefetch): stops the transfer; its connection is closed. A
-- prefetch dropped without either is stopped by the handle's finalizer.
function _M.cancel(p)
  p.handle:cancel()
  _release(p)
end

function _M.close(client)
  if client._handle then
    client._handle:close()
    client._handle = nil
  end
  local busy, spare = client._prefetching, client._prefetch_spare
  if busy then
    for handle in pairs(busy) do handle:close() end
    for i = 1, #spare do spare[i]:close() end
    client._prefetching, client._prefetch_spare = nil, nil
  end
end

return _M
