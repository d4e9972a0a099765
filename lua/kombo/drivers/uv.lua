-- Neovim: kombo.spawn tasks driven by the editor's libuv loop, so a request
-- never freezes the editor and no kombo.run() is needed.
--
-- While tasks are busy a repeating uv timer calls the scheduler's
-- non-blocking step(0); it stops when they are done. Task code runs in a
-- libuv callback ("fast" context), where most of the editor API is off
-- limits: hand results to editor code with vim.schedule, e.g.
--
--   kombo.spawn(function()
--     local tags, err = client.ats:get_tags()
--     vim.schedule(function() show(tags, err) end)
--   end)
--
-- An error raised inside a task is re-raised through vim.schedule, so it
-- shows up like any other Lua error in the editor (with its traceback),
-- unless a task:wait has taken it by the end of the scheduler's step in
-- which the task failed: the wait returns the error, and handling it is
-- the waiter's.

require("kombo.compat").interpreted_module()
local tasks = require("kombo.drivers.tasks")

local type, error, tostring, pcall, rawget, getmetatable = type, error, tostring, pcall, rawget, getmetatable

local _M = {}

--- Milliseconds between two scheduler steps while tasks are busy.
_M.interval_ms = 5

local timer = nil

local function _vim() return rawget(_G, "vim") end

-- tostring(v), or what v is when its __tostring raises: the report runs
-- in a libuv callback, where a raise would drop the other tasks' errors.
local function _text(v)
  local ok, s = pcall(tostring, v)
  if ok and type(s) == "string" then return s end
  return "a " .. type(v) .. " whose __tostring raised"
end

local function _report(e)
  local vim = _vim()
  local mt = type(e) == "table" and getmetatable(e)
  if type(e) == "table" and rawget(e, "traceback") ~= nil then
    e = _text(e) .. "\n" .. _text(rawget(e, "traceback"))
  elseif type(mt) == "table" and rawget(mt, "__tostring") then
    e = _text(e)
  elseif type(e) ~= "string" then
    -- Neovim shows a table without __tostring as [NULL]: say what it was.
    e = "kombo: a task raised " .. _text(e) .. " (a " .. type(e) .. ", not a message)"
  end
  vim.schedule(function() error(e, 0) end)
end

local function _tick()
  -- A task that spins the loop itself must not get the scheduler resumed
  -- under it. The scheduler's own mark, not one of ours: a hook raising as
  -- this pcall returns would leave ours set, and no tick would step again.
  if tasks.stepping() then return end
  local ok, err = pcall(tasks.step, 0)
  if not ok then _report(err) end
  -- A failure a task:wait took (called before the task failed, or in the
  -- same step) is the waiter's to handle: reported, it would be shown
  -- twice.
  local failures = tasks.take_failures()
  for i = 1, #failures do
    if not failures.tasks[i].waited then _report(failures[i]) end
  end
  if not tasks.busy() and timer then timer:stop() end
end

local function _start()
  if not timer then
    local vim = _vim()
    local uv = vim.uv or vim.loop
    timer = uv.new_timer()
  end
  if not timer:is_active() then timer:start(0, _M.interval_ms, _tick) end
end

--- install(): from now on kombo.spawn starts the editor-driven scheduler.
-- Called by kombo.drivers when loaded inside Neovim; calling it again is
-- harmless.
function _M.install()
  tasks.on_spawn = _start
  if tasks.busy() then _start() end
end

--- Is the editor loop driving tasks right now?
function _M.active()
  return timer ~= nil and timer:is_active()
end

return _M
