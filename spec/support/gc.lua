-- Makes the collector incremental with short pauses and large steps, so
-- finalizers fire inside the allocations of whatever runs next (a decode, a
-- call), a few times a call rather than once in many; returns a function
-- that puts the collector back as it was. (A pause of 100 starts a new
-- cycle as soon as one ends: a finalizer that re-arms itself then runs
-- thousands of times per call.) Lua 5.4's standalone interpreter
-- collects in generational mode, where the pause is ignored: switch to
-- incremental for the duration.
local _M = {}

function _M.eager()
  if _VERSION == "Lua 5.4" then
    local mode = collectgarbage("incremental", 200, 400)
    return function()
      if mode == "generational" then collectgarbage("generational") else collectgarbage("incremental") end
      collectgarbage()
    end
  end
  local pause = collectgarbage("setpause", 200)
  local stepmul = collectgarbage("setstepmul", 400)
  return function()
    collectgarbage("setpause", pause)
    collectgarbage("setstepmul", stepmul)
    collectgarbage()
  end
end

return _M
