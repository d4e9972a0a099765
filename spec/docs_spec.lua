-- Every Lua code block of the README and of docs/ runs, against the
-- sandbox: a documented snippet that stopped working fails here. A block
-- runs as written, in an environment where `client` is a sandbox client and
-- kombo.new / kombo.from_env point at the sandbox whatever server a block
-- names (the quick start's is Kombo's own). docs/operations.md's examples
-- are checked against the operations by spec/readme_spec.lua.
local kombo = require("kombo")
local sandbox = require("support.sandbox")

local read_file = require("support.files").read

-- { file, line, code } for each ```lua block of the file.
local function lua_blocks(path)
  local blocks, line, inside, code = {}, 0, nil, nil
  for l in (read_file(path) .. "\n"):gmatch("([^\n]*)\n") do
    line = line + 1
    if inside then
      if l:match("^```%s*$") then
        blocks[#blocks + 1] = { file = path, line = inside, code = table.concat(code, "\n") }
        inside = nil
      else
        code[#code + 1] = l
      end
    elseif l:match("^```lua%s*$") then
      inside, code = line, {}
    end
  end
  return blocks
end

local function documents()
  local files = { "README.md" }
  local p = io.popen("ls docs/*.md")
  for f in p:lines() do
    if f ~= "docs/operations.md" then files[#files + 1] = f end
  end
  p:close()
  return files
end

local function load_in(code, name, env)
  if setfenv then -- Lua 5.1, LuaJIT
    local chunk, err = loadstring(code, name) -- luacheck: ignore 143
    if chunk then setfenv(chunk, env) end
    return chunk, err
  end
  return load(code, name, "t", env)
end

describe("documented Lua code", function()
  local sb

  setup(function() sb = sandbox.start() end)
  teardown(function() sb:stop() end)

  -- kombo as a block sees it: clients talk to the sandbox.
  local function sandboxed(opts)
    local o = {}
    for k, v in pairs(opts or {}) do o[k] = v end
    o.server, o.server_url, o.api_key = nil, sb.url, sb.api_key
    o.integration_id = o.integration_id or sb.integration_id
    return o
  end
  local wrapped = setmetatable({
    new = function(opts) return kombo.new(sandboxed(opts)) end,
    from_env = function(opts) return kombo.new(sandboxed(opts)) end,
  }, { __index = kombo })

  local function environment(printed)
    local env = {
      kombo = wrapped,
      client = assert(kombo.new(sandboxed())),
      require = function(name) if name == "kombo" then return wrapped end return require(name) end,
      print = function(...) printed[#printed + 1] = select("#", ...) end,
      os = setmetatable({ getenv = function(name)
        if name == "KOMBO_API_KEY" then return sb.api_key end
        return os.getenv(name)
      end }, { __index = os }),
      vim = { schedule = function(fn) fn() end, notify = function() end },
    }
    return setmetatable(env, { __index = _G })
  end

  local total = 0
  for _, file in ipairs(documents()) do
    for _, block in ipairs(lua_blocks(file)) do
      total = total + 1
      it(("%s:%d runs"):format(block.file, block.line), function()
        sb:reset()
        local printed = {}
        local env = environment(printed)
        local chunk, err = load_in(block.code, "=" .. block.file .. ":" .. block.line, env)
        assert(chunk, err)
        local ok, raised = pcall(chunk)
        assert(ok, tostring(raised))
        -- tasks a block spawned run to their end, without failing
        local ran, failures = kombo.run()
        assert(ran, failures and tostring(failures[1]))
        -- a block that sets `retries` shows a table kombo.new takes
        if rawget(env, "retries") then assert(kombo.new({ api_key = "k", retries = env.retries })) end
        env.client:close()
      end)
    end
  end

  it("gives the port `make sandbox` listens on", function()
    local port = read_file("Makefile"):match("SANDBOX_ARGS %?= %-%-port (%d+)")
    assert.is_string(port)
    assert.matches('server_url = "http://127.0.0.1:' .. port .. '/v1"', read_file("README.md"), 1, true)
  end)

  it("gives page_size the bounds the operations check", function()
    local readme = read_file("README.md"):gsub("\n", " ")
    local operations = require("kombo.operations")
    for _, g in ipairs(operations.groups) do
      for _, op in ipairs(operations.load(g)) do
        for _, q in ipairs(op.query) do
          if q.name == "page_size" then
            local range = "1.." .. ("%d"):format(q.schema.maximum)
            assert.matches(range .. (q.schema.maximum == 250 and " for most lists" or (" for `" .. g .. "." .. op.name
              .. "`")), readme, 1, true)
          end
        end
      end
    end
  end)

  it("README's sync block counts the same deletions with null_as_nil, which README recommends, as without", function()
    local code
    for _, block in ipairs(lua_blocks("README.md")) do
      if block.code:find("client:sync(", 1, true) then code = block.code end
    end
    local counts = {}
    for i, null_as_nil in ipairs({ false, true }) do
      sb:reset()
      local env = environment({})
      env.client:close()
      env.client = assert(kombo.new(sandboxed({ null_as_nil = null_as_nil })))
      env.print = function(changed, deleted) counts[i] = { changed = changed, deleted = deleted } end
      assert(load_in(code, "=README sync", env))()
      env.client:close()
    end
    assert.same(counts[1], counts[2])
    assert.same({ changed = 600, deleted = 12 }, counts[1])
  end)

  it("says what err.errors holds as a call with two problems returns it", function()
    local readme = read_file("README.md"):gsub("%s+", " ")
    assert.matches("(`err.errors` lists them, the first the one `err` is about, its message without `err`'s count"
      .. " of the others)", readme, 1, true)
    sb:clear_requests()
    local client = sb:client()
    local _, err = client.ats:get_jobs({ page_szie = 5, updated_after = "yesterday" })
    client:close()
    assert.equal(2, #err.errors)
    assert.equal(err.field, err.errors[1].field)
    assert.equal(err.errors[1].message .. " (and 1 more: see err.errors)", err.message)
    assert.equal("updated_after", err.errors[2].field)
    assert.is_nil(err.errors[1].errors)
    assert.same({}, sb:requests())
  end)

  it("found the README's blocks", function()
    assert.is_true(total >= 10, total .. " blocks")
  end)
end)
