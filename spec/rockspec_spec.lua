-- The two rocks install with `luarocks make --deps-mode=none` and nothing
-- else on the command line, under Lua 5.1, 5.3, 5.4 and LuaJIT, each into a
-- temporary tree:
--   kombo (kombo-*.rockspec): the SDK; the Makefile builds kombo.core into
--     build/rock/<interpreter>/ and installs it with lua/kombo/ and the
--     `kombo` command, which LuaRocks wraps;
--   kombo-sandbox (sandbox/kombo-sandbox-*.rockspec): the server and its
--     command, without the SDK.
-- LuaRocks itself, not these specs, finds Debian's multiarch libcurl; the
-- builds' object files stay in build/ between runs, so only the first run
-- compiles.
local socket = require("socket")
local sandbox = require("support.sandbox")

-- Interpreters by name, and how LuaRocks is pointed at each: Debian's
-- LuaRocks 3.8 finds lua5.1 before luajit for --lua-version=5.1, so LuaJIT
-- takes a config naming the interpreter and its headers.
local LUAJIT_CONFIG = 'lua_interpreter = "luajit"\nvariables = { LUA_INCDIR = "/usr/include/luajit-2.1" }\n'
local VERSIONS = {
  { name = "5.1", lua = "lua5.1", abi = "5.1" },
  { name = "5.3", lua = "lua5.3", abi = "5.3" },
  { name = "5.4", lua = "lua5.4", abi = "5.4" },
  { name = "LuaJIT", lua = "luajit", abi = "5.1", config = LUAJIT_CONFIG },
}

-- What luarocks starts must not inherit the `make test` it runs under, the
-- sanitizer runtime `make asan` preloads into busted's interpreter, or a
-- module path that could find something other than the tree.
-- make exports the variables of its command line (tools/matrix.sh's
-- LUA_VERSION, BUILD, ...) to what it runs: a nested make must not see them.
local CLEAN_ENV = "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u LD_PRELOAD -u LUA_PATH -u LUA_CPATH "
  .. "-u LUA_VERSION -u LUA -u LUA_INCDIR -u BUILD "
  .. "-u LUA_PATH_5_2 -u LUA_CPATH_5_2 -u LUA_PATH_5_3 -u LUA_CPATH_5_3 -u LUA_PATH_5_4 -u LUA_CPATH_5_4"

local function sh(cmd)
  local p = io.popen("{ " .. cmd .. "; } 2>&1; echo \"exit=$?\"")
  local out = p:read("*a")
  p:close()
  return out, tonumber(out:match("exit=(%d+)%s*$"))
end

local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function one(cmd)
  local out = sh(cmd)
  return (out:gsub("exit=%d+%s*$", ""):gsub("%s+$", ""))
end

local SDK_ROCKSPEC = one("ls kombo-*.rockspec")
local SANDBOX_ROCKSPEC = one("ls sandbox/kombo-sandbox-*.rockspec")

local function load_rockspec(name)
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
  return env
end

local write = require("support.files").write

local function files_under(dir)
  local out = {}
  for line in one("cd " .. quote(dir) .. " 2>/dev/null && find . -type f | sort"):gmatch("[^\n]+") do
    out[#out + 1] = line:gsub("^%./", "")
  end
  return out
end

-- What is in the checkout outside build/ and bench/out/ (where `make bench`
-- writes), ignored files included: a stray kombo/core.so is ignored by
-- .gitignore's *.so, and would shadow build/.
local function checkout_state()
  local set = {}
  for line in one("git -c safe.directory='*' status --porcelain --ignored --untracked-files=all "
    .. "-- . ':!build' ':!bench/out'"):gmatch("[^\n]+") do
    set[line] = true
  end
  return set
end

-- Entries of `after` that `before` lacks: what the build added.
local function added(before, after)
  local out = {}
  for line in pairs(after) do
    if not before[line] then out[#out + 1] = line end
  end
  table.sort(out)
  return out
end

local function tmpdir()
  return one("mktemp -d")
end

-- `luarocks make` of `rockspec` for version `v` into a new tree under
-- `dir`; returns the tree, luarocks' output and its exit status.
local function luarocks_make(v, dir, rockspec, extra)
  local tree = dir .. "/tree"
  local prefix = CLEAN_ENV
  if v.config then
    write(dir .. "/luarocks-config.lua", v.config)
    prefix = prefix .. " LUAROCKS_CONFIG=" .. quote(dir .. "/luarocks-config.lua")
  end
  local out, code = sh(("%s luarocks --lua-version=%s make --deps-mode=none --tree %s %s %s")
    :format(prefix, v.abi, quote(tree), rockspec, extra or ""))
  return tree, out, code
end

describe("rockspecs", function()
  local dirs = {}
  teardown(function()
    for _, d in ipairs(dirs) do os.execute("rm -rf " .. quote(d)) end
  end)
  local function newdir()
    local d = tmpdir()
    dirs[#dirs + 1] = d
    return d
  end

  it("pass luarocks lint", function()
    for _, name in ipairs({ SDK_ROCKSPEC, SANDBOX_ROCKSPEC }) do
      local out, code = sh("luarocks lint " .. name)
      assert.equal(0, code, name .. ": " .. out)
    end
  end)

  it("kombo builds with the Makefile and lists no source file; only the Makefile's rock targets build it", function()
    local spec = load_rockspec(SDK_ROCKSPEC)
    assert.equal("make", spec.build.type)
    assert.is_nil(spec.build.modules)
    assert.is_nil(spec.build.install)
    assert.equal("rock", spec.build.build_target)
    assert.equal("rock-install", spec.build.install_target)
    -- The command goes where LuaRocks wraps what it finds.
    assert.equal("$(BINDIR)", spec.build.install_variables.BINDIR)
    -- Libraries only: LuaRocks' header search misses Debian's multiarch include folder.
    for name, dep in pairs(spec.external_dependencies) do
      assert.is_nil(dep.header, name)
      assert.is_string(dep.library, name)
    end
  end)

  it("kombo-sandbox installs every sandbox module and the command, and nothing of the SDK", function()
    local spec = load_rockspec(SANDBOX_ROCKSPEC)
    local listed = {}
    for mod, file in pairs(spec.build.install.lua) do
      listed[file] = mod
      assert.is_nil(mod:match("^kombo%.") or mod:match("^kombo$"), mod)
    end
    local files = files_under("sandbox/lua")
    assert.is_true(#files > 5)
    for _, f in ipairs(files) do
      local mod = f:gsub("/init%.lua$", ""):gsub("%.lua$", ""):gsub("/", ".")
      assert.equal(mod, listed["sandbox/lua/" .. f], f .. " is not installed as " .. mod)
    end
    local n = 0
    for _ in pairs(listed) do n = n + 1 end
    assert.equal(#files, n)
    assert.same({ ["kombo-sandbox"] = "sandbox/bin/kombo-sandbox" }, spec.build.install.bin)
    local deps = table.concat(spec.dependencies, " ")
    assert.matches("luv", deps)
    assert.is_nil(deps:match("kombo"))
  end)

  it("a missing library or header stops the build with what to install", function()
    local dir = newdir()
    local v = VERSIONS[3]
    local _, out, code = luarocks_make(v, dir, SDK_ROCKSPEC, "CURL_DIR=" .. quote(dir .. "/nowhere"))
    assert.is_not.equal(0, code)
    assert.matches("Could not find library file for CURL", out, 1, true)
    -- Without the compiler's system folders curl/curl.h is missing, as without libcurl4-openssl-dev.
    _, out, code = luarocks_make(v, dir, SDK_ROCKSPEC, "CC='cc -nostdinc'")
    assert.is_not.equal(0, code)
    assert.matches("curl/curl.h not found: install the headers of libcurl (Debian, Ubuntu: libcurl4-openssl-dev",
      out, 1, true)
  end)

  it("make install puts the SDK and the command, naming its interpreter, under PREFIX", function()
    local dir = newdir()
    local out, code = sh(("%s make --no-print-directory install DESTDIR=%s PREFIX=/usr LUA=lua5.4")
      :format(CLEAN_ENV, quote(dir)))
    assert.equal(0, code, out)
    local bin = dir .. "/usr/bin/kombo"
    assert.equal("#!/usr/bin/env lua5.4", one("head -n 1 " .. quote(bin)))
    local share, lib = dir .. "/usr/share/lua/5.4", dir .. "/usr/lib/lua/5.4"
    out, code = sh(("%s LUA_PATH=%s LUA_CPATH=%s %s --version"):format(CLEAN_ENV,
      quote(share .. "/?.lua;" .. share .. "/?/init.lua;;"), quote(lib .. "/?.so;;"), quote(bin)))
    assert.equal(0, code, out)
    assert.matches("^kombo%-lua %d+%.%d+%.%d+ %(Lua 5%.4%)", out)
  end)

  -- `luarocks make` of a rockspec into a fresh tree under v, which must
  -- succeed and leave the checkout as it was: the folder and the tree.
  local function install(v, rockspec)
    local dir = newdir()
    local before = checkout_state()
    local tree, out, code = luarocks_make(v, dir, rockspec)
    assert.equal(0, code, out)
    assert.same({}, added(before, checkout_state()))
    return dir, tree
  end

  for _, v in ipairs(VERSIONS) do
    describe("under " .. v.name, function()
      it("kombo installs with no extra variables, leaves the checkout as it was and works", function()
        local dir, tree = install(v, SDK_ROCKSPEC)

        -- The tree holds kombo.core, exactly the modules of lua/kombo/ and
        -- LuaRocks' wrapper of the command.
        local want = { "bin/kombo", "lib/lua/" .. v.abi .. "/kombo/core.so" }
        for _, f in ipairs(files_under("lua")) do want[#want + 1] = "share/lua/" .. v.abi .. "/" .. f end
        table.sort(want)
        local got, beside = {}, {}
        for _, f in ipairs(files_under(tree)) do
          if not f:match("^lib/luarocks/") then got[#got + 1] = f end
          local kept = f:match("^lib/luarocks/rocks%-[^/]+/kombo/[^/]+/(.*)$")
          if kept then beside[kept] = true end
        end
        assert.same(want, got)
        -- The reference the help points to, and the editor's annotations.
        assert.is_true(beside["docs/operations.md"])
        assert.is_true(beside["library/kombo.lua"])
        for _, f in ipairs(got) do assert.is_nil(f:match("sandbox"), f) end

        local sb = sandbox.start()
        local share, lib = tree .. "/share/lua/" .. v.abi, tree .. "/lib/lua/" .. v.abi
        write(dir .. "/check.lua", ([[
          local tree = %q
          package.path = %q .. ";" .. package.path
          package.cpath = %q .. ";" .. package.cpath
          local function find(name, path)
            for pattern in path:gmatch("[^;]+") do
              local file = pattern:gsub("%%?", (name:gsub("%%.", "/")))
              local f = io.open(file, "rb")
              if f then f:close() return file end
            end
            return ""
          end
          assert(find("kombo", package.path):find(tree, 1, true), find("kombo", package.path))
          assert(find("kombo.core", package.cpath):find(tree, 1, true), find("kombo.core", package.cpath))
          local kombo = require("kombo")
          local c = assert(kombo.new({ api_key = %q, integration_id = %q, server_url = %q }))
          local tags = assert(c.ats:get_tags({ page_size = 3 }))
          io.write(#tags.data.results, " ", tags.status, "\n")
        ]]):format(tree, share .. "/?.lua;" .. share .. "/?/init.lua", lib .. "/?.so",
          sb.api_key, sb.integration_id, sb.url))
        -- Only the tree and the system paths are searched, from a folder
        -- with no lua/ or kombo/ to pick up instead.
        local out, code = sh(("cd %s && %s %s check.lua"):format(quote(dir), CLEAN_ENV, v.lua))
        assert.equal(0, code, out)
        assert.equal("3 success", out:match("^(%d+ %a+)"))

        -- The wrapper runs the command under this interpreter, with the
        -- tree's module paths as `luarocks path --tree` gives them.
        local tree_paths = ("LUA_PATH=%s LUA_CPATH=%s"):format(
          quote(share .. "/?.lua;" .. share .. "/?/init.lua;;"), quote(lib .. "/?.so;;"))
        out, code = sh(("cd %s && %s %s %s/bin/kombo --version"):format(quote(dir), CLEAN_ENV, tree_paths, quote(tree)))
        assert.equal(0, code, out)
        assert.matches("^kombo%-lua %d+%.%d+%.%d+ %(" .. (v.lua == "luajit" and "LuaJIT" or "Lua " .. v.abi), out)
        -- and finds the tree's modules by itself, without those paths
        out, code = sh(("cd %s && %s %s/bin/kombo --version"):format(quote(dir), CLEAN_ENV, quote(tree)))
        assert.equal(0, code, out)
        assert.matches("^kombo%-lua %d+%.%d+%.%d+", out)
        out, code = sh(("cd %s && %s %s KOMBO_API_KEY=%s KOMBO_INTEGRATION_ID=%s KOMBO_SERVER_URL=%s "
          .. "%s/bin/kombo ats get-tags --page-size 3 --output jsonl"):format(quote(dir), CLEAN_ENV, tree_paths,
          quote(sb.api_key), quote(sb.integration_id), quote(sb.url), quote(tree)))
        sb:stop()
        assert.equal(0, code, out)
        local ids = {}
        for id in out:gmatch('"id":"([^"]+)"') do ids[#ids + 1] = id end
        assert.equal(3, #ids, out)
      end)

      it("kombo-sandbox installs and its command runs from the tree without the SDK", function()
        local dir, tree = install(v, SANDBOX_ROCKSPEC)
        for _, f in ipairs(files_under(tree)) do
          assert.is_nil(f:match("^share/lua/[^/]+/kombo/") or f:match("^lib/lua/"), f)
        end
        local out, code = sh(("cd %s && %s %s/bin/kombo-sandbox --help"):format(quote(dir), CLEAN_ENV, quote(tree)))
        assert.equal(0, code, out)
        assert.matches("usage: kombo%-sandbox", out)

        -- It serves, and refuses a bad request with its own validator.
        local p = io.popen(("cd %s && exec %s %s/bin/kombo-sandbox --port 0 --quiet --exit-with-parent")
          :format(quote(dir), CLEAN_ENV, quote(tree)))
        local line = p:read("*l") or ""
        local port, pid = line:match("^kombo%-sandbox listening on http://127%.0%.0%.1:(%d+)/v1 pid=(%d+)$")
        assert.is_not_nil(port, line)
        local c = assert(socket.connect("127.0.0.1", tonumber(port)))
        c:settimeout(5)
        c:send(sandbox.request_text("GET", "/ats/tags?page_size=0"))
        local res = sandbox.read_response(c)
        c:close()
        os.execute("kill " .. pid)
        p:close()
        assert.equal(400, res.status)
        assert.matches("`page_size` must be an integer from 1 to 250", res.body, 1, true)
      end)
    end)
  end
end)
