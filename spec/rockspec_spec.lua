-- The rockspec builds with `luarocks make --deps-mode=none` and the module
-- installed into that tree loads and makes a request.
local sandbox = require("support.sandbox")

local LUA = os.getenv("KOMBO_LUA") or "lua5.4"
local LUA_VERSION = LUA:match("(%d%.%d)") or "5.1"

local function sh(cmd)
  local p = io.popen(cmd .. " 2>&1; echo \"exit=$?\"")
  local out = p:read("*a")
  p:close()
  return out, tonumber(out:match("exit=(%d+)%s*$"))
end

local function rockspec()
  local name = assert(io.popen("ls kombo-*.rockspec")):read("*l")
  local src = assert(io.open(name)):read("*a")
  local env = {}
  local chunk
  if setfenv then -- Lua 5.1 / LuaJIT
    chunk = assert(loadstring(src)) -- luacheck: ignore 143
    setfenv(chunk, env)
  else
    chunk = assert(load(src, name, "t", env))
  end
  chunk()
  return name, env
end

describe("rockspec", function()
  it("lists every Lua module and C source of the project", function()
    local _, spec = rockspec()
    local listed = {}
    for mod, src in pairs(spec.build.modules) do
      if type(src) == "string" then listed[src] = mod
      else for _, c in ipairs(src.sources) do listed[c] = mod end end
    end
    local p = io.popen("find lua csrc -name '*.lua' -o -name '*.c' | grep -v '^csrc/.*fuzz'")
    for file in p:lines() do
      assert.is_not_nil(listed[file], file .. " is not in the rockspec")
      if file:match("%.lua$") then
        local mod = file:gsub("^lua/", ""):gsub("/init%.lua$", ""):gsub("%.lua$", ""):gsub("/", ".")
        assert.equal(mod, listed[file])
      end
    end
    p:close()
  end)

  it("passes luarocks lint", function()
    local out, code = sh("luarocks lint " .. rockspec())
    assert.equal(0, code, out)
  end)

  it("installs with luarocks make --deps-mode=none and the installed module works", function()
    local name = rockspec()
    local tree = os.tmpname()
    os.remove(tree)
    -- Debian keeps curl.h in a multiarch folder LuaRocks does not search.
    local incdir = sh("pkg-config --cflags-only-I libcurl"):match("%-I(%S+)")
    local out, code = sh(("luarocks --lua-version=%s make --deps-mode=none --tree %s %s %s")
      :format(LUA_VERSION, tree, name, incdir and ("CURL_INCDIR=" .. incdir) or ""))
    assert.equal(0, code, out)
    local sb = sandbox.start()
    local script = ([[
      package.path = "%s/share/lua/%s/?.lua;%s/share/lua/%s/?/init.lua;" .. package.path
      package.cpath = "%s/lib/lua/%s/?.so;" .. package.cpath
      local kombo = require("kombo")
      assert(package.searchpath == nil or package.searchpath("kombo.core", package.cpath):find("%s", 1, true))
      local c = assert(kombo.new({ api_key = "%s", integration_id = "%s", server_url = "%s" }))
      local tags = assert(c.ats:get_tags({ page_size = 3 }))
      io.write(#tags.data.results, " ", tags.status, "\n")
    ]]):format(tree, LUA_VERSION, tree, LUA_VERSION, tree, LUA_VERSION, tree,
      sb.api_key, sb.integration_id, sb.url)
    local f = io.open(tree .. "/check.lua", "w")
    f:write(script)
    f:close()
    -- LUA_PATH/LUA_CPATH unset: only the tree and the system paths are searched.
    out, code = sh(("env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 %s %s/check.lua")
      :format(LUA, tree))
    sb:stop()
    os.execute("rm -rf " .. tree)
    assert.equal(0, code, out)
    assert.equal("3 success", out:match("^(%d+ %a+)"))
  end)
end)
