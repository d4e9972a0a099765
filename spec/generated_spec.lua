-- Everything `make operations` generates (the operation table, docs/operations.md,
-- library/kombo.lua) is what tools/gen-operations.lua makes of the documents in
-- reference/ today, byte for byte; and the set of operations comes from those
-- documents alone: change them and the generator follows, or stops when they
-- disagree.

local LUA = os.getenv("KOMBO_LUA") or "lua5.4"

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

local write_file = require("support.files").write

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1; echo \"__exit=$?\"", "r"))
  local out = p:read("*a")
  p:close()
  return tonumber(out:match("__exit=(%d+)\n$")), (out:gsub("__exit=%d+\n$", ""))
end

local function tmpdir()
  local path = os.tmpname()
  os.remove(path)
  assert(os.execute("mkdir -p " .. path))
  return path
end

-- Every file under `dir`, relative to it, sorted.
local function files_under(dir)
  local p = assert(io.popen("cd " .. dir .. " && find . -type f | sort"))
  local list = {}
  for line in p:lines() do list[#list + 1] = line:sub(3) end
  p:close()
  return list
end

local function generate(out, reference)
  return sh(LUA .. " tools/gen-operations.lua --out " .. out .. (reference and (" --reference " .. reference) or ""))
end

describe("generated files", function()
  local out

  setup(function()
    out = tmpdir()
    local code, msg = generate(out)
    assert(code == 0, msg)
  end)
  teardown(function() os.execute("rm -rf " .. out) end)

  it("are reproduced byte for byte from reference/", function()
    local list = files_under(out)
    assert.same({
      "docs/operations.md", "library/kombo.lua", "lua/kombo/operations.lua",
      "lua/kombo/operations/ai_apply.lua", "lua/kombo/operations/assessment.lua", "lua/kombo/operations/ats.lua",
      "lua/kombo/operations/cli/ai_apply.lua", "lua/kombo/operations/cli/assessment.lua",
      "lua/kombo/operations/cli/ats.lua", "lua/kombo/operations/cli/connect.lua",
      "lua/kombo/operations/cli/custom.lua", "lua/kombo/operations/cli/general.lua",
      "lua/kombo/operations/cli/hris.lua", "lua/kombo/operations/cli/lms.lua",
      "lua/kombo/operations/connect.lua", "lua/kombo/operations/custom.lua", "lua/kombo/operations/general.lua",
      "lua/kombo/operations/hris.lua", "lua/kombo/operations/lms.lua", "lua/kombo/operations/shared.lua",
      "lua/kombo/webhook_events.lua",
    }, list)
    for _, rel in ipairs(list) do
      local committed = read_file(rel)
      assert.truthy(committed, rel .. " is not committed; run `make operations`")
      assert.is_true(committed == read_file(out .. "/" .. rel), rel .. " differs; run `make operations`")
    end
    -- Nothing generated is left over in the tree from an earlier layout.
    local tree = files_under("lua/kombo/operations")
    for i, rel in ipairs(tree) do tree[i] = "lua/kombo/operations/" .. rel end
    local want = {}
    for _, rel in ipairs(list) do
      if rel:match("^lua/kombo/operations/") then want[#want + 1] = rel end
    end
    assert.same(want, tree)
  end)

  it("--check passes on the tree and names a stale file", function()
    assert.equal(0, (sh(LUA .. " tools/gen-operations.lua --check")))
    local copy = tmpdir()
    assert(os.execute("cp -r " .. out .. "/. " .. copy))
    write_file(copy .. "/docs/operations.md", "stale\n")
    local code, msg = sh(LUA .. " tools/gen-operations.lua --check --out " .. copy)
    assert.equal(1, code)
    assert.matches("docs/operations.md is stale", msg, 1, true)
    os.execute("rm -rf " .. copy)
  end)

  it("are loadable Lua", function()
    for _, rel in ipairs(files_under(out)) do
      if rel:match("%.lua$") then assert.truthy(loadfile(out .. "/" .. rel), rel) end
    end
  end)
end)

describe("the set of operations", function()
  local ref

  before_each(function()
    ref = tmpdir()
    assert(os.execute("cp reference/*.json reference/*.md " .. ref))
  end)
  after_each(function() os.execute("rm -rf " .. ref) end)

  -- Runs the generator over the edited documents in `ref`; returns exit code, output, out dir.
  local function regenerate()
    local out = tmpdir()
    local code, msg = generate(out, ref)
    return code, msg, out
  end

  it("follows the documents: a new path and its markdown row make a new operation", function()
    local cjson = require("cjson")
    local add = cjson.decode(read_file(ref .. "/kombo-openapi-additions.json"))
    add.paths["/ats/widgets"] = { get = {
      operationId = "GetAtsWidgets", summary = "Get widgets",
      parameters = { { name = "X-Integration-Id", ["in"] = "header", required = true, schema = { type = "string" } },
        { name = "cursor", ["in"] = "query", schema = { type = "string" } } },
      responses = { ["200"] = { description = "ok", content = { ["application/json"] = {
        schema = { type = "object", properties = { status = { type = "string" } } } } } } },
    } }
    write_file(ref .. "/kombo-openapi-additions.json", cjson.encode(add))
    local md = read_file(ref .. "/kombo-sdk-operations.md")
    md = md:gsub("(\n## 4%.)", "\n| 2 | GET | `/ats/widgets` | `ats.getWidgets` | `ats.get_widgets` | GetAtsWidgets"
      .. " | yes | no | no |\n%1", 1)
    write_file(ref .. "/kombo-sdk-operations.md", md)
    local code, msg, out = regenerate()
    assert.equal(0, code, msg)
    local ats = read_file(out .. "/lua/kombo/operations/ats.lua")
    assert.truthy(ats:find('name = "get_widgets",\n    alias = "getWidgets",', 1, true))
    assert.truthy(read_file(out .. "/docs/operations.md"):find("#### `ats.get_widgets`", 1, true))
    assert.truthy(read_file(out .. "/library/kombo.lua"):find("function ats:get_widgets(params, opts) end", 1, true))
    os.execute("rm -rf " .. out)
  end)

  -- { when, pattern, replacement in kombo-sdk-operations.md, the generator's message }
  for _, case in ipairs({
    { " does not name an operation of the documents", "\n| %d+ | GET | `/ats/tags` |[^\n]*", "",
      "GET /ats/tags is in the documents but kombo-sdk-operations.md does not name it" },
    { " names an operation no document has", "`/ats/tags`", "`/ats/labels`",
      "names GET /ats/labels, which no document has" },
    { "'s pages column contradicts the document", "(`ats%.get_tags` | GetAtsTags | )yes", "%1no",
      "GET /ats/tags: pages says no but the document has a cursor" },
    -- The SDK pages /hris/skills by its answer's shape, but the column tells
    -- the official SDKs' reading of the document's parameters, which list no cursor.
    { "'s pages column claims a cursor the document omits", "(`hris%.get_skills` | )no", "%1yes",
      "GET /hris/skills: pages says yes but the document has no cursor" },
  }) do
    it("stops when the markdown" .. case[1], function()
      local md = read_file(ref .. "/kombo-sdk-operations.md")
      md = md:gsub(case[2], case[3], 1)
      write_file(ref .. "/kombo-sdk-operations.md", md)
      local code, msg = regenerate()
      assert.equal(1, code)
      assert.matches(case[4], msg, 1, true)
    end)
  end
end)
