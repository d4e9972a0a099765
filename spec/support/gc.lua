-- Makes finalizers fire inside the allocations of whatever runs next (a
-- decode, a call), a few times a call rather than once in many; returns a
-- function that puts the collector back as it was. Lua 5.4's standalone
-- interpreter collects in generational mode, where the pause is ignored:
-- it is switched to incremental, with the default pause (a pause of 100
-- would make a finalizer that re-arms itself run thousands of times per
-- call). 5.1, 5.3 and LuaJIT get the short pause, so that a cycle falls
-- inside a call even when the suite's heap is large.
local _M = {}

function _M.eager()
  if _VERSION == "Lua 5.4" then
    local mode = collectgarbage("incremental", 200, 400)
    return function()
      if mode == "generational" then collectgarbage("generational") else collectgarbage("incremental") end
      collectgarbage()
    end
  end
  local pause = collectgarbage("setpause", 100)
  local stepmul = collectgarbage("setstepmul", 1000)
  return function()
    collectgarbage("setpause", pause)
    collectgarbage("setstepmul", stepmul)
    collectgarbage()
  end
end

return _M
