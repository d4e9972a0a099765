-- Picks how bytes move and how waiting happens for the call being made:
-- inside nginx, cosockets; inside a kombo task, the task scheduler;
-- otherwise blocking libcurl. Every driver has send(client, req) ->
-- response | nil, failure, and sleep(ms).

local _M = {}

local blocking = require("kombo.drivers.curl")
local tasks = require("kombo.drivers.tasks")

-- What a waiting driver yields, so coroutines of our own (page
-- iteration) can tell a wait from a value and pass it through.
_M.WAIT = tasks.WAIT

function _M.current()
  if tasks.current() then return tasks end
  return blocking
end

function _M.close(client)
  blocking.close(client)
end

return _M
