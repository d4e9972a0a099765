-- Picks how bytes move and how waiting happens for the call being made:
-- inside nginx, cosockets; inside a kombo task, the task scheduler;
-- otherwise blocking libcurl. Every driver has send(client, req) ->
-- response | nil, failure, and sleep(ms).

local _M = {}

-- What a waiting driver yields, so coroutines of our own (page
-- iteration) can tell a wait from a value and pass it through.
_M.WAIT = setmetatable({}, { __tostring = function() return "kombo.WAIT" end })

local blocking = require("kombo.drivers.curl")

function _M.current()
  return blocking
end

function _M.close(client)
  blocking.close(client)
end

return _M
