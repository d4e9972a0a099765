-- The only Lua module that knows Lua versions apart (as csrc/compat.h is
-- for C): what 5.1 and LuaJIT spell differently from 5.2+.

local select = select

local _M = {}

--- unpack(t, i, j): table.unpack, or 5.1's global unpack.
_M.unpack = table.unpack or unpack -- luacheck: ignore 143

--- pack(...) -> { n = select("#", ...), ... }: table.pack, which 5.1 lacks.
_M.pack = table.pack or function(...) return { n = select("#", ...), ... } end

--- unpacked(t) -> every value pack put in t, nils included.
local unpack = _M.unpack
function _M.unpacked(t)
  return unpack(t, 1, t.n)
end

--- Can a for-in iterator yield here (everything but PUC Lua 5.1, where the
-- VM calls the iterator across a C boundary)?
_M.YIELD_IN_FOR = not (_VERSION == "Lua 5.1" and rawget(_G, "jit") == nil)

--- yieldable() -> can the running code yield? Not in the main thread, and
-- not in a finalizer, hook or callback the VM or a C function runs, even
-- inside a coroutine. Where coroutine.isyieldable is missing: PUC 5.1 reads
-- its stack (it cannot yield across any C call, metamethod or for-in
-- iterator); LuaJIT inside nginx (whose Lua module builds a coroutine
-- library without it) reads its stack too, and sees a finalizer or a hook
-- by a count hook that does not fire.
local running, getinfo = coroutine.running, debug.getinfo
-- How a 5.1 frame was called when its caller was Lua code.
local CALLED_FROM_LUA = { ["global"] = true, ["local"] = true, method = true, field = true, upvalue = true }
if coroutine.isyieldable then
  _M.yieldable = coroutine.isyieldable
else
  local jit = rawget(_G, "jit")
  local sethook, gethook, pcall, xpcall = debug.sethook, debug.gethook, pcall, xpcall
  -- stops(level) -> whether the frame at level (getinfo's, from stops)
  -- keeps a yield from passing; nil past the stack's end.
  local stops
  if jit then
    -- LuaJIT yields across pcall, xpcall, metamethods and for-in
    -- iterators, not across any other C function (table.sort's comparator,
    -- a chunk require runs).
    stops = function(level)
      local f = getinfo(level, "l") -- cheap; a C function (or stripped bytecode) has no line
      if f == nil then return nil end
      if f.currentline >= 0 then return false end
      f = getinfo(level, "Sf")
      return f.what == "C" and f.func ~= pcall and f.func ~= xpcall
    end
  else
    -- PUC 5.1 yields across no C function, metamethod or for-in iterator.
    stops = function(level)
      local f = getinfo(level, "Sn")
      if f == nil then return nil end
      if f.what == "C" then return true end
      if not CALLED_FROM_LUA[f.namewhat] and f.what ~= "tail" then
        -- called by the VM (a metamethod, a for-in iterator), unless it is
        -- the coroutine's body or a tail call
        local up = getinfo(level + 1, "S")
        if up ~= nil and up.what ~= "tail" then return true end
      end
      return false
    end
  end
  -- Neither runs a hook while a finalizer or a hook runs (5.1's collector
  -- turns hooks off for a finalizer), and no stack frame shows for sure
  -- that a finalizer was entered from the collector (5.1 names it after
  -- the call its caller was making when the collector ran): a count hook
  -- that does not fire shows it.
  local fired
  local function count() fired = true end
  function _M.yieldable()
    if running() == nil then return false end
    local hook, mask, n = gethook()
    fired = false
    sethook(count, "", 1) -- fires on the next instruction: getting sethook back
    sethook(hook, mask, n)
    if not fired then return false end
    -- 3: the caller's frame, from stops
    local level = 3
    while true do
      local stop = stops(level)
      if stop == nil then return true end
      if stop then return false end
      level = level + 1
    end
  end
  -- Compiled code runs no count hook.
  if jit then jit.off(_M.yieldable) end
end

--- guard(fn) -> an object whose finalizer calls fn: a table with __gc on
-- 5.2+, a newproxy userdata on 5.1 and LuaJIT (whose tables have none).
local newproxy, getmetatable, setmetatable = rawget(_G, "newproxy"), getmetatable, setmetatable
if newproxy and _VERSION == "Lua 5.1" then
  function _M.guard(fn)
    local u = newproxy(true)
    getmetatable(u).__gc = function() fn() end
    return u
  end
else
  function _M.guard(fn)
    return setmetatable({}, { __gc = function() fn() end })
  end
end

--- rawlen(t): the length of t without its __len, which 5.1 and LuaJIT's
-- # never calls on a table.
_M.rawlen = rawget(_G, "rawlen") or function(t) return #t end

--- interpreted_module(): called from a module's main chunk, keeps every
-- function the module defines out of LuaJIT's trace compiler. LuaJIT 2.1
-- builds still shipped by distributions can compile a loop into a trace
-- that never exits when a finalizer re-enters the SDK in the middle of it
-- (LuaJIT issues 744 and 1000: a pairs() loop over a table the re-entrant
-- call changed): seen as a call, or a task scheduler, hanging at full CPU.
-- The SDK's own Lua is a thin layer over C, so the interpreter costs little.
-- LuaJIT refuses any change of mode inside a finalizer: a module that a
-- finalizer loads first stays compilable, rather than failing to load.
local jit = rawget(_G, "jit")
function _M.interpreted_module()
  if jit and jit.off then pcall(jit.off, getinfo(2, "f").func, true) end
end

--- require(name): require, except that a module whose chunk raised can be
-- loaded again. 5.1 and LuaJIT leave a marker in package.loaded that makes
-- every later require of it fail ("loop or previous error"): in nginx,
-- every later request of the worker. A finalizer raises inside whatever
-- allocation ran it, a module's chunk included.
local require, loaded = require, package.loaded
function _M.require(name)
  local before = loaded[name]
  local ok, m = pcall(require, name)
  if ok then return m end
  loaded[name] = before
  error(m, 0)
end

_M.interpreted_module()

return _M
