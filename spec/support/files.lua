-- Small helpers the specs share: whole files in and out, a shell command's
-- output and status (on every Lua: popen's close() tells nothing on 5.1).
local _M = {}

--- The whole file at path (raises when it cannot be read).
function _M.read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

--- Writes text to path, replacing it.
function _M.write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

--- Runs cmd in sh; its output (stdout and stderr) and its exit status.
function _M.sh(cmd)
  local p = assert(io.popen("{ " .. cmd .. "; } 2>&1; echo \"exit=$?\""))
  local out = p:read("*a")
  p:close()
  local code = tonumber(out:match("exit=(%d+)%s*$"))
  return (out:gsub("exit=%d+%s*$", "")), code
end

--- s quoted for sh.
function _M.quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

--- A fresh temporary path ending in suffix (nothing is created there).
function _M.tmp(suffix)
  local p = os.tmpname()
  os.remove(p)
  return p .. (suffix or "")
end

--- The interpreter under test ($KOMBO_LUA, default lua5.4) and the folder
--- of its kombo/core.so: $KOMBO_BUILD, else the first folder on the path
--- that has one (busted's --cpath: build/asan under make asan), else the
--- Makefile's build/<v>.
_M.LUA = os.getenv("KOMBO_LUA") or "lua5.4"
local function _loaded_build()
  for dir in package.cpath:gmatch("([^;]*)/%?%.so") do
    local f = io.open(dir .. "/kombo/core.so", "rb")
    if f then
      f:close()
      return dir
    end
  end
end
_M.BUILD = os.getenv("KOMBO_BUILD") or _loaded_build()
  or (_M.LUA:match("luajit") and "build/luajit")
  or ("build/" .. (_M.LUA:match("(%d%.%d)") or "5.4"))

--- Runs Lua `source` in a child interpreter (the Lua and kombo.core under
--- test, this checkout's modules) with `args` as its arg[1..n], after the
--- sh commands in `prefix` (e.g. "ulimit -n 64; "): its output (stdout and
--- stderr) and exit status.
function _M.run_lua(source, args, prefix)
  local script = _M.tmp(".lua")
  _M.write(script, source)
  local words = {}
  for i, a in ipairs(args or {}) do words[i] = _M.quote(a) end
  local out, code = _M.sh(("%sLUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH=%s %s %s %s"):format(
    prefix or "", _M.quote(_M.BUILD .. "/?.so;;"), _M.LUA, _M.quote(script), table.concat(words, " ")))
  os.remove(script)
  return out, code
end

return _M
