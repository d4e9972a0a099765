-- The README's operation reference is what tools/gen-readme-operations.lua
-- makes of lua/kombo/operations.lua today (so it cannot drift), names every
-- operation and alias, and every example call in it passes the SDK's own
-- validation.

local operations = require("kombo.operations")
local build = require("kombo.build")

local LUA = os.getenv("KOMBO_LUA") or "lua5.4"
local BEGIN, END = "<!-- operations:begin -->", "<!-- operations:end -->"

local function read_file(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local function write_file(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

-- Runs the generator; returns exit code, stdout.
local function generate(args)
  local p = assert(io.popen(LUA .. " tools/gen-readme-operations.lua " .. (args or "") .. " 2>/dev/null;"
    .. " echo \"__exit=$?\"", "r"))
  local out = p:read("*a")
  p:close()
  return tonumber(out:match("__exit=(%d+)\n$")), (out:gsub("__exit=%d+\n$", ""))
end

-- The section of `text`, markers and the line end after END included.
local function section_of(text)
  local b = assert(text:find(BEGIN, 1, true), "no begin marker")
  local _, e = assert(text:find(END .. "\n", b, true))
  return text:sub(b, e)
end

describe("README operations section", function()
  local section

  setup(function()
    section = section_of(read_file("README.md"))
  end)

  it("is exactly what the generator writes now (run `make readme` when this fails)", function()
    local code, out = generate()
    assert.equal(0, code)
    assert.equal(out, section)
    assert.equal(0, (generate("--check README.md")))
  end)

  it("names every operation with its alias, method and path", function()
    for _, op in ipairs(operations) do
      assert.truthy(section:find("\n#### `" .. op.name .. "`\n", 1, true), op.name)
      assert.truthy(section:find("alias `" .. op.alias .. "`: `" .. op.method .. " " .. op.path .. "`", 1, true),
        op.name)
    end
  end)

  it("lists every parameter and top-level body field of every operation", function()
    for _, op in ipairs(operations) do
      local b = section:find("\n#### `" .. op.name .. "`\n", 1, true)
      local e = section:find("\n#### `", b + 1, true) or #section
      local part = section:sub(b, e)
      for _, p in ipairs(op.path_params or {}) do assert.truthy(part:find("| `" .. p .. "`* | path |", 1, true)) end
      for _, q in ipairs(op.query or {}) do assert.truthy(part:find("| `" .. q.name .. "`", 1, true), q.name) end
      for k in pairs(op.body and op.body.properties or {}) do
        assert.truthy(part:find("| `" .. k .. "`", 1, true), op.name .. " body." .. k)
      end
      for _, r in ipairs(op.body and op.body.required or {}) do
        assert.truthy(part:find("| `" .. r .. "`* |", 1, true), op.name .. " body." .. r .. " marked required")
      end
    end
  end)

  it("has one example per operation, and each passes the SDK's validation", function()
    local by_name = {}
    for _, op in ipairs(operations) do by_name[op.name] = op end
    local called, blocks = {}, 0
    for heading, code in section:gmatch("\n#### `([%w_]+)`\n.-```lua\n(.-)```") do
      blocks = blocks + 1
      local ats = setmetatable({}, { __index = function(_, name)
        return function(_, params)
          assert.equal(heading, name)
          local req, err = build.request(by_name[name], params, true)
          assert(req, tostring(err))
          called[name] = true
          local page = {}
          function page.items() return function() return nil end end
          return page
        end
      end })
      local env = {
        assert = assert, print = print,
        client = { ats = ats },
        kombo = { attachment = function(path)
          return { name = path:match("[^/]+$"), content_type = "application/pdf", data = "JVBERi0=", type = "CV" }
        end },
      }
      local chunk = assert((loadstring or load)(code, "=README " .. heading, "t", env)) -- luacheck: ignore 143
      if setfenv then setfenv(chunk, env) end -- luacheck: ignore 143
      chunk()
    end
    assert.equal(#operations, blocks)
    for _, op in ipairs(operations) do assert.is_true(called[op.name], op.name) end
  end)

  it("--check fails on a stale copy, and a rewrite fixes only the section", function()
    local path = os.tmpname()
    local text = "# Title\n\nbefore\n" .. BEGIN .. "\nold text\n" .. END .. "\nafter\n"
    write_file(path, text)
    assert.equal(1, (generate("--check " .. path)))
    assert.equal(0, (generate(path)))
    local rewritten = read_file(path)
    assert.equal("# Title\n\nbefore\n" .. section .. "after\n", rewritten)
    assert.equal(0, (generate("--check " .. path)))
    write_file(path, "no markers here\n")
    assert.equal(2, (generate(path)))
    assert.equal("no markers here\n", read_file(path))
    os.remove(path)
  end)
end)
