-- Picks how bytes move and how waiting happens for the call being made:
-- inside nginx, cosockets; inside a kombo task, the task scheduler;
-- otherwise blocking libcurl. Every driver has send(client, req) ->
-- response | nil, failure, and sleep(ms).
--
-- Inside Neovim the task scheduler is also hooked into the editor's libuv
-- loop (drivers/uv.lua), so spawned tasks run without kombo.run().

require("kombo.compat").interpreted_module()
local _M = {}

local blocking = require("kombo.drivers.curl")
local tasks = require("kombo.drivers.tasks")

-- What a waiting driver yields, so coroutines of our own (page
-- iteration) can tell a wait from a value and pass it through.
_M.WAIT = tasks.WAIT

-- nginx's Lua module: every call goes through cosockets, whatever the
-- phase; the ngx driver raises a clear error in phases that forbid them
-- rather than silently blocking the worker with libcurl. Code that cannot
-- yield (a finalizer, a debug hook, a C function's callback) cannot wait
-- on a cosocket: nginx's Lua module would resume the request's coroutine
-- for an answer it never waited for. Its calls block on libcurl.
local yieldable = require("kombo.compat").yieldable
local ngx_driver
do
  local ngx = rawget(_G, "ngx")
  if type(ngx) == "table" and type(ngx.socket) == "table" and type(ngx.get_phase) == "function" then
    ngx_driver = require("kombo.drivers.ngx")
  end
end
_M.ngx = ngx_driver

do
  local vim = rawget(_G, "vim")
  if not ngx_driver and type(vim) == "table" and (vim.uv or vim.loop) then
    require("kombo.drivers.uv").install()
  end
end

--- request() -> inside nginx, what tells the request (or timer) running
-- apart; nil elsewhere. A coroutine or a socket belongs to the request
-- that made it: another may neither resume nor close it. The request's
-- address (lua-resty-core) and its ngx.ctx together: a subrequest may
-- share its parent's ctx (ngx.location.capture's ctx option), and an ended
-- request's memory may be the next one's.
local get_request
if ngx_driver then
  local ok, base = pcall(require, "resty.core.base")
  get_request = ok and type(base) == "table" and base.get_request or nil
end
function _M.request()
  if not ngx_driver then return nil end
  local ctx = rawget(_G, "ngx").ctx
  if not get_request then return ctx end
  return tostring(get_request()) .. " " .. tostring(ctx)
end

--- ngx_usable() -> false inside nginx in a phase without cosockets (log,
-- header filter, ...), where nginx also refuses coroutine.create.
function _M.ngx_usable()
  return ngx_driver == nil or (ngx_driver.phase_ok())
end

--- ngx_stuck() -> inside nginx, in a phase with cosockets, in code that
-- cannot yield: calls block, and walks run on no coroutine (the Lua
-- module's coroutine.resume yields to nginx).
function _M.ngx_stuck()
  return ngx_driver ~= nil and ngx_driver.phase_ok() and not yieldable()
end

function _M.current()
  if ngx_driver then return _M.ngx_stuck() and blocking or ngx_driver end
  if tasks.current() then return tasks end
  return blocking
end

--- spawn(fn, ...): a task; inside nginx a light thread of the request.
function _M.spawn(...)
  if ngx_driver then return ngx_driver.spawn(...) end
  return tasks.spawn(...)
end

--- spawn_owned(fn, ...): a task whose failure its owner collects with
-- task:wait, left out of run()'s list (kombo.map's).
function _M.spawn_owned(...)
  if ngx_driver then return ngx_driver.spawn_owned(...) end
  return tasks.spawn_owned(...)
end

--- refusal(what, waits) -> nil where `what` (an HTTP call, or with waits
-- something that waits for tasks) can be done here, or an invalid_request
-- error saying why not: inside nginx, a phase without cosockets, or code
-- that cannot yield; elsewhere, code that cannot yield while the scheduler
-- runs (a finalizer, a coroutine of the caller's own inside a task).
function _M.refusal(what, waits)
  if ngx_driver then return ngx_driver.refusal(what, waits) end
  if not waits or tasks.current() ~= nil or not tasks.stepping() then return nil end
  return require("kombo.errors").invalid("call", what .. " from code that can wait: a task's own code, or outside"
    .. " kombo.run (not a finalizer, a coroutine of your own inside a task, or pcall inside a task on Lua 5.1)")
end

--- run() -> true | nil, errors: drives (plain Lua) or waits for (nginx)
-- every spawned task; errors lists what failed tasks raised.
function _M.run()
  if ngx_driver then return ngx_driver.run() end
  return tasks.run()
end

--- serve(driver, what, ...): does with `driver` what a task yielded WAIT
-- for ("send", client, req | "sleep", ms). For code that holds a WAIT but
-- cannot yield it on: a for-in iterator in PUC Lua 5.1, where the VM calls
-- the iterator across a C boundary (served blocking), and a page fetched
-- ahead of its walk (served in the walker's own driver).
function _M.serve(driver, what, a, b)
  if what == "send" then return driver.send(a, b) end
  if what == "sleep" then return driver.sleep(a) end
  error("kombo: unknown wait " .. tostring(what), 2)
end


--- close(client): the blocking handle and the tasks' spare handles.
function _M.close(client)
  blocking.close(client)
  tasks.close(client)
end

return _M
