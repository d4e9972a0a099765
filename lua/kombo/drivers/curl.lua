-- The blocking driver: one kept-alive libcurl easy handle per client, and
-- a plain sleep between attempts.

local core = require("kombo.core")

local _M = {}

function _M.send(client, req)
  local handle = client._handle
  if not handle then
    handle = core.client(client._handle_opts)
    client._handle = handle
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
