-- The only Lua module that knows Lua versions apart (as csrc/compat.h is
-- for C): what 5.1 and LuaJIT spell differently from 5.2+.

local select = select

local _M = {}

--- unpack(t, i, j): table.unpack, or 5.1's global unpack.
_M.unpack = table.unpack or unpack -- luacheck: ignore 143

--- pack(...) -> { n = select("#", ...), ... }: table.pack, which 5.1 lacks.
_M.pack = table.pack or function(...) return { n = select("#", ...), ... } end

--- Can a for-in iterator yield here (everything but PUC Lua 5.1, where the
-- VM calls the iterator across a C boundary)?
_M.YIELD_IN_FOR = not (_VERSION == "Lua 5.1" and rawget(_G, "jit") == nil)

return _M
