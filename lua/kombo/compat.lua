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

--- interpreted(fn) -> fn, kept out of LuaJIT's trace compiler. LuaJIT
-- 2.1 builds still shipped by distributions can compile a pairs() loop
-- into a trace that never exits (LuaJIT issues 744 and 1000): seen in the
-- SDK as a call hanging at full CPU when a finalizer re-entered it mid-walk.
-- Per-call loops over tables of the server's making go through here.
local jit = rawget(_G, "jit")
function _M.interpreted(fn)
  if jit and jit.off then jit.off(fn) end
  return fn
end

return _M
