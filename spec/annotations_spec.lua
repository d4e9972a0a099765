-- library/kombo.lua, the LuaLS annotations: every operation of the table is
-- declared in its group with its alias, its parameters class has every
-- parameter (and `body` where the operation takes one), its body class every
-- top-level field, and every class it refers to is declared; the client's
-- options are the ones the README documents and kombo.new accepts.

local operations = require("kombo.operations")
local kombo = require("kombo")

local read_file = require("support.files").read

-- class name -> { field = type }
local function classes_of(text)
  local classes, current = {}, nil
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    local name = line:match("^%-%-%-@class ([%w_%.]+)") or line:match("^%-%-%-@alias ([%w_%.]+)")
    if name then
      current = {}
      classes[name] = current
    else
      local field, t = line:match("^%-%-%-@field ([%w_%[%]\"%-%.]+)%?? (%S+)")
      -- A function or table type has spaces: it runs to the end of the line.
      if t and (t:match("^fun%(") or t:match("^{")) then t = line:match("^%-%-%-@field %S+ (.*)$") end
      if field and current then
        current[(field:gsub('^%["(.*)"%]$', "%1"))] = t
      elseif not line:match("^%-%-%-") then
        current = nil
      end
    end
  end
  return classes
end

local function pascal(s)
  s = s:gsub("[^%w]+", "_")
  return (s:gsub("^(%l)", string.upper):gsub("_(%w)", string.upper))
end

describe("library/kombo.lua", function()
  local text, classes

  setup(function()
    text = read_file("library/kombo.lua")
    classes = classes_of(text)
  end)
  -- The suite runs in one Lua state: what a spec keeps, every later
  -- collection walks.
  teardown(function() text, classes = nil, nil end)

  it("is a ---@meta file for require('kombo') that loads as Lua", function()
    assert.equal("---@meta kombo\n", text:sub(1, 15))
    assert.truthy(loadfile("library/kombo.lua"))
  end)

  it("declares every operation in its group, with its alias, params and result", function()
    local n = 0
    for _, g in ipairs(operations.groups) do
      assert.truthy(classes["kombo." .. g], g)
      assert.truthy(classes["kombo.Client"][g] == "kombo." .. g, g)
      for _, op in ipairs(operations.load(g)) do
        n = n + 1
        local decl = ("function %s:%s(params, opts) end\n%s.%s = %s.%s\n"):format(g, op.name, g, op.alias, g, op.name)
        local at = text:find(decl, 1, true)
        assert.truthy(at, g .. "." .. op.name)
        local prefix = "kombo." .. g .. "." .. pascal(op.alias)
        local head = text:sub(1, at):match(".*\n\n(.*)$")
        assert.truthy(head:find("---@param params%??%s" .. prefix:gsub("%p", "%%%0") .. "Params\n"), op.name)
        assert.truthy(head:find(("---`%s %s`"):format(op.method, op.path), 1, true), op.name)
        local returns = head:match("%-%-%-@return (%S+)|nil\n%-%-%-@return kombo%.Error|nil\n")
        assert.equal(prefix .. (op.paginated and "Page" or "Result"), returns)
        assert.truthy(classes[returns], returns)
        -- Parameters: path, query, body.
        local params = classes[prefix .. "Params"]
        assert.truthy(params, prefix .. "Params")
        local want = {}
        for _, p in ipairs(op.path_params) do want[p] = true end
        for _, q in ipairs(op.query) do want[q.name] = true end
        if op.body then want.body = true end
        if op.paginated then want.resume = true end
        local got = {}
        for k in pairs(params) do got[k] = true end
        assert.same(want, got)
        -- The body's top-level fields.
        if op.body and op.body.properties and next(op.body.properties) then
          local body = classes[params.body:gsub("|kombo%.Null$", "")]
          assert.truthy(body, op.name .. " body class")
          for k in pairs(op.body.properties) do assert.truthy(body[k], op.name .. " body." .. k) end
        end
      end
    end
    local declared = 0
    for _ in text:gmatch("\nfunction [%w_]+:[%w_]+%(params, opts%) end\n") do declared = declared + 1 end
    assert.equal(n, declared)
  end)

  it("declares every class it refers to", function()
    local n = 0
    for line in (text .. "\n"):gmatch("([^\n]*)\n") do
      local types = line:match("^%-%-%-@field %S+ (%S+)") or line:match("^%-%-%-@param %S+ (%S+)")
        or line:match("^%-%-%-@return (%S+)") or line:match("^%-%-%-@class %S+: (%S+)")
        or line:match("^%-%-%-@alias %S+ (%S+)")
      if types and (types:match("^fun%(") or types:match("^{")) then types = line:match("^%-%-%-@field %S+ (.*)$") end
      for name in (types or ""):gmatch("kombo[%w_%.]*") do
        assert.truthy(classes[name], name .. " in: " .. line)
        n = n + 1
      end
    end
    assert.is_true(n > 1000)
  end)

  it("types a page's items as the elements of data.results", function()
    local page = classes["kombo.ats.GetJobsPage"]
    local item = page.items:match("fun%(%): (%S+)$")
    local result = classes["kombo.ats.GetJobsResult"]
    local data = classes[result.data]
    assert.equal(item .. "[]", data.results)
    assert.truthy(classes[item].stages)
  end)

  -- The document says so in a parameter's prose only ("⚠️ Deprecated - Use the `outcomes` filter instead.").
  it("marks the deprecated query parameters, here and in docs/operations.md, with what replaces them", function()
    local ops = read_file("docs/operations.md")
    for _, c in ipairs({
      { "kombo.ats.GetApplicationsParams", "outcome", "outcomes" },
      { "kombo.ats.GetJobsParams", "status", "statuses" },
      { "kombo.hris.GetEmployeesParams", "employment_status", "employment_statuses" },
      { "kombo.hris.GetAbsencesParams", "time_from", "date_from" },
      { "kombo.hris.GetAbsencesParams", "time_until", "date_until" },
    }) do
      local class, field, instead = c[1], c[2], c[3]
      local block = text:match("\n%-%-%-@class " .. class:gsub("%.", "%%.") .. "\n(.-)\n\n")
      local line = block and ("\n" .. block .. "\n"):match("\n(%-%-%-@field " .. field .. "%?[^\n]*)")
      assert.truthy(line, class .. "." .. field)
      assert.truthy(line:find(" Deprecated: use " .. instead .. "$"), line)
      local row = "\n| `" .. field .. "` | query | [^\n]-%*%*Deprecated%*%*: use `" .. instead .. "`%. |\n"
      assert.truthy(ops:find(row), field)
    end
    -- and nothing else is
    local _, n = text:gsub(" Deprecated: use ", "")
    assert.equal(5, n)
  end)

  it("gives kombo.Error the fields of the README's table of them", function()
    local section = read_file("README.md"):match("\n## Errors\n.-\n| field | meaning |\n(.-)\n\n")
    local documented = {}
    for names in section:gmatch("\n| (`[^|]-) |") do
      for name in names:gmatch("`([%w_]+)`") do documented[name] = true end
    end
    local declared = {}
    for name in pairs(classes["kombo.Error"]) do declared[name] = true end
    assert.same(documented, declared)
  end)

  -- What a call sends, never what it reads back: a result's date-time is a string.
  it("types every date-time parameter and body field as a string or an os.time() number, as calls take them",
    function()
      local build = require("kombo.build")
      local n = 0
      for _, g in ipairs(operations.groups) do
        for _, op in ipairs(operations.load(g)) do
          local prefix = "kombo." .. g .. "." .. pascal(op.alias)
          for _, q in ipairs(op.query) do
            if q.schema.format == "date-time" then
              assert.equal("string|number", classes[prefix .. "Params"][q.name]:match("^%S+"), q.name)
              local params = { [q.name] = os.time() }
              for _, p in ipairs(op.path_params) do params[p] = "x" end
              assert.truthy(build.request(op, params, true), op.name .. "?" .. q.name)
              n = n + 1
            end
          end
          local body = op.body and op.body.properties and classes[classes[prefix .. "Params"].body]
          for k, s in pairs(body and op.body.properties or {}) do
            if s.format == "date-time" then
              assert.equal("string|number", body[k]:gsub("|kombo%.Null$", ""), op.name .. ".body." .. k)
              n = n + 1
            end
          end
        end
      end
      assert.is_true(n > 40, n)
      assert.equal("string|kombo.Null", classes["kombo.ats.GetJobsResult.Data.ResultsItem"].remote_created_at)
    end)

  it("gives the client's options as the README's table and kombo.new take them", function()
    local options = classes["kombo.Options"]
    local readme = read_file("README.md")
    local section = readme:match("## Configuration: `kombo%.new%(opts%)`(.-)\n## ")
    local documented = {}
    for name in section:gmatch("\n| `([%w_]+)` |") do documented[name] = true end
    local declared = {}
    for name in pairs(options) do declared[name] = true end
    assert.same(documented, declared)
    -- kombo.new knows each of them (a wrong type is named, not "not a known option").
    for name in pairs(options) do
      local opts = { api_key = "k", [name] = coroutine.create(function() end) }
      local _, err = kombo.new(opts)
      assert.equal(name, err.field)
      assert.is_nil(err.message:find("not a known option", 1, true), name)
    end
  end)
end)
