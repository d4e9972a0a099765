-- The operation reference, docs/operations.md (generated from reference/ by
-- `make operations`; spec/generated_spec.lua checks it is current): it names
-- every operation with its group, alias, method and path, lists every
-- parameter and top-level body field, and every example call in it passes
-- the SDK's own validation. Every operation the README calls exists.

local operations = require("kombo.operations")
local build = require("kombo.build")

local read_file = require("support.files").read

-- The part of docs/operations.md about one operation.
local function part_of(doc, group, name)
  local heading = "\n#### `" .. group .. "." .. name .. "`\n"
  local b = doc:find(heading, 1, true)
  if not b then return nil end
  local e = doc:find("\n#### `", b + 1, true) or doc:find("\n## ", b + 1, true) or #doc
  return doc:sub(b, e)
end

-- Runs a chunk of example code against a client whose operations only
-- build the request (no I/O); returns the operations it called.
local function run_example(code, label)
  local called = {}
  local client = {}
  for _, g in ipairs(operations.groups) do
    local by_name = {}
    for _, op in ipairs(operations.load(g)) do by_name[op.name] = op end
    client[g] = setmetatable({}, { __index = function(_, name)
      return function(_, params)
        local op = assert(by_name[name], "no operation " .. g .. "." .. name)
        local req, err = build.request(op, params, true)
        assert(req, label .. ": " .. tostring(err))
        called[#called + 1] = g .. "." .. name
        -- A result any field of which is another such result, so example
        -- code can read and walk it; items() ends at once.
        local any
        any = setmetatable({}, { __index = function(_, k)
          if type(k) ~= "string" then return nil end
          if k == "items" or k == "pages" then return function() return function() return nil end end end
          return any
        end })
        return any
      end
    end })
  end
  local env = {
    assert = assert, print = function() end, ipairs = ipairs, error = error, tostring = tostring,
    client = client,
    kombo = { attachment = function(path)
      return { name = path:match("[^/]+$"), content_type = "application/pdf", data = "JVBERi0=", type = "CV" }
    end },
  }
  local chunk = assert((loadstring or load)(code, "=" .. label, "t", env)) -- luacheck: ignore 143
  if setfenv then setfenv(chunk, env) end -- luacheck: ignore 143
  chunk()
  return called
end

describe("docs/operations.md", function()
  local doc

  setup(function()
    doc = read_file("docs/operations.md")
  end)

  it("names every operation with its group, alias, method and path", function()
    for _, g in ipairs(operations.groups) do
      assert.truthy(doc:find("\n## `client." .. g .. "`\n", 1, true), g)
      for _, op in ipairs(operations.load(g)) do
        local part = part_of(doc, g, op.name)
        assert.truthy(part, g .. "." .. op.name)
        assert.truthy(part:find(("`client.%s:%s(params, opts)`, alias `%s`: `%s %s`"):format(g, op.name, op.alias,
          op.method, op.path), 1, true), op.name)
        assert.truthy(doc:find(("| `%s` | `%s %s` |"):format(op.alias, op.method, op.path), 1, true), op.name)
      end
    end
  end)

  it("lists every parameter and top-level body field of every operation", function()
    for _, g in ipairs(operations.groups) do
      for _, op in ipairs(operations.load(g)) do
        local part = part_of(doc, g, op.name)
        for _, p in ipairs(op.path_params) do assert.truthy(part:find("| `" .. p .. "`* | path |", 1, true)) end
        for _, q in ipairs(op.query) do
          assert.truthy(part:find("| `" .. q.name .. "`" .. (q.required and "*" or "") .. " | query |", 1, true),
            op.name .. "?" .. q.name)
        end
        for k in pairs(op.body and op.body.properties or {}) do
          assert.truthy(part:find("| `" .. k .. "`", 1, true), op.name .. " body." .. k)
        end
        for _, r in ipairs(op.body and op.body.required or {}) do
          assert.truthy(part:find("| `" .. r .. "`* |", 1, true), op.name .. " body." .. r .. " marked required")
        end
      end
    end
  end)

  it("lists the fields of every operation's result that has any", function()
    package.path = "tools/?.lua;" .. package.path
    local model = require("genlib.model")
    local m = model.load("reference")
    local listed = 0
    for _, g in ipairs(m.group_order) do
      for _, op in ipairs(m.groups[g]) do
        local data = model.convert(m.doc, op.response_doc, op.name).properties.data
        local fields = data and data.properties
        if op.paginated and fields and fields.results and fields.results.items.properties then
          fields = fields.results.items.properties
        end
        if fields and next(fields) then
          local part = part_of(doc, g, op.name)
          local table_head = part:find("| result: `data", 1, true)
          assert.truthy(table_head, g .. "." .. op.name)
          for k in pairs(fields) do
            assert.truthy(part:find("| `" .. k .. "`", table_head, true), g .. "." .. op.name .. " result " .. k)
          end
          listed = listed + 1
        end
      end
    end
    local _, tables = doc:gsub("\n| result: `data", "")
    assert.equal(listed, tables)
    assert.is_true(listed > 50)
  end)

  it("has one example per operation, and each passes the SDK's validation", function()
    for _, g in ipairs(operations.groups) do
      for _, op in ipairs(operations.load(g)) do
        local part = part_of(doc, g, op.name)
        local code = part:match("```lua\n(.-)```")
        assert.truthy(code, op.name)
        assert.same({ g .. "." .. op.name }, run_example(code, g .. "." .. op.name))
      end
    end
  end)

  it("shows passthrough reaching an ATS's own endpoint, and the example passes validation", function()
    local section = doc:match("\n## Passthrough[^\n]*\n(.-)\n## ")
    assert.truthy(section)
    local code = section:match("```lua\n(.-)```")
    assert.same({ "general.send_passthrough_request" }, run_example(code, "passthrough"))
    assert.truthy(code:find('tool = "greenhouse"', 1, true))
  end)
end)

describe("docs/operations.md on attachment restrictions", function()
  it("passes the actions' answer to kombo.attachment, and the example passes validation", function()
    local section = read_file("docs/operations.md"):match("\n## Attachment restrictions\n(.-)\n## ")
    assert.truthy(section)
    local code = section:match("```lua\n(.-)```")
    assert.truthy(code:find("kombo.attachment(", 1, true))
    assert.same({ "ats.get_add_candidate_attachment_action", "ats.add_candidate_attachment" },
      run_example(code, "restrictions"))
  end)
end)

describe("README", function()
  it("calls only operations that exist, in their groups", function()
    local readme = read_file("README.md")
    local n = 0
    for g, name in readme:gmatch("client%.([%a_]+):([%a_][%w_]*)%(") do
      local known = name == "operation" -- the README's placeholder

      for _, op in ipairs(operations.load(g) or {}) do
        if op.name == name or op.alias == name then known = true end
      end
      assert.is_true(known, "client." .. g .. ":" .. name)
      n = n + 1
    end
    assert.is_true(n > 0)
  end)
end)
