-- The blocking driver: one kept-alive libcurl easy handle per client, and
-- a plain sleep between attempts.

local core = require("kombo.core")

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

function _M.close(client)
  if client._handle then
    client._handle:close()
    client._handle = nil
  end
end

return _M
