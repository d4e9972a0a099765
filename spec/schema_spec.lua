-- The operation table (generated, so checked against the documents in
-- reference/: every operation they have, grouped and named as
-- kombo-sdk-operations.md says) and schema checking, table-driven.

package.path = "tools/?.lua;" .. package.path

local schema = require("kombo.schema")
local operations = require("kombo.operations")
local model = require("genlib.model")
local cjson = require("cjson")

local NULL = schema.null

local by_name = {}
for _, op in ipairs(operations.load("ats")) do by_name[op.name] = op end

local function query_param(op_name, name)
  for _, q in ipairs(by_name[op_name].query) do
    if q.name == name then return q end
  end
end

local read_file = require("support.files").read

describe("operations table", function()
  local m

  setup(function() m = model.load("reference") end)
  teardown(function() m = nil end) -- the documents are large; later specs need not carry them

  -- method + path of every operation of a document.
  local function doc_operations(path)
    local doc, set, n = cjson.decode(read_file(path)), {}, 0
    for p, item in pairs(doc.paths) do
      for method in pairs(item) do
        if ({ get = 1, put = 1, post = 1, patch = 1, delete = 1 })[method] then
          set[method:upper() .. " " .. p], n = true, n + 1
        end
      end
    end
    return set, n
  end

  it("has every operation of both documents, each once", function()
    local main, n_main = doc_operations("reference/kombo-openapi.json")
    local extra, n_extra = doc_operations("reference/kombo-openapi-additions.json")
    local seen, total = {}, 0
    for _, g in ipairs(operations.groups) do
      for _, op in ipairs(operations.load(g)) do
        local key = op.method .. " " .. op.path
        assert.is_nil(seen[key], key)
        assert.is_true(main[key] or extra[key], key)
        seen[key], total = true, total + 1
      end
    end
    for key in pairs(main) do assert.is_true(seen[key], key) end
    for key in pairs(extra) do assert.is_true(seen[key], key) end
    assert.equal(n_main + n_extra, total)
    assert.equal(110, n_main)
    assert.equal(6, n_extra)
  end)

  it("groups and names them as kombo-sdk-operations.md does, the alias the camelCase of the name", function()
    local md = read_file("reference/kombo-sdk-operations.md")
    assert.same(m.group_order, operations.groups)
    for _, g in ipairs(operations.groups) do
      local ops = operations.load(g)
      assert.equal(#m.groups[g], #ops, g)
      for i, op in ipairs(ops) do
        local want = m.groups[g][i]
        assert.same({ want.name, want.alias, want.method, want.path, want.paginated, want.integration },
          { op.name, op.alias, op.method, op.path, op.paginated, op.integration })
        -- The markdown's row for this method and path names it so.
        local row = md:match("\n|[^\n]-| " .. op.method .. " | `" .. op.path:gsub("%p", "%%%0") .. "` |[^\n]*")
        assert.truthy(row, op.method .. " " .. op.path)
        assert.truthy(row:find("`" .. g .. "." .. op.name .. "`", 1, true), row)
        assert.truthy(row:find("`" .. g .. "." .. op.alias .. "`", 1, true), row)
        assert.equal(op.name, (op.alias:gsub("(%l)(%u)", "%1_%2"):lower()))
      end
    end
  end)

  it("lists path parameters in order, a cursor where it pages, a body where the document has one", function()
    local doc = cjson.decode(read_file("reference/kombo-openapi.json"))
    local add = cjson.decode(read_file("reference/kombo-openapi-additions.json"))
    -- Lists that answer with data.next and data.results, whose cursor the
    -- document leaves out (and so kombo-sdk-operations.md says "pages: no"):
    -- the SDK pages them all the same, with a `cursor` of its own.
    local omitted = { "hris.get_skills", "hris.get_employee_skill_assignments", "hris.get_job_positions",
      "lms.get_users", "lms.get_courses" }
    local named, cursor_omitted, paged_beyond = {}, {}, {}
    for _, full in ipairs(omitted) do named[full] = true end
    for _, g in ipairs(operations.groups) do
      for _, op in ipairs(operations.load(g)) do
        local spec = (doc.paths[op.path] or add.paths[op.path])[op.method:lower()]
        local listed = false
        for _, p in ipairs(spec.parameters or {}) do listed = listed or (p["in"] == "query" and p.name == "cursor") end
        if op.paginated and not listed then paged_beyond[#paged_beyond + 1] = g .. "." .. op.name end
        if named[g .. "." .. op.name] then
          cursor_omitted[op] = true
          assert.equal("cursor", op.query[#op.query].name)
          assert.same({ type = "string" }, op.query[#op.query].schema)
        end
      end
    end
    assert.same(omitted, paged_beyond)
    local md = read_file("reference/kombo-sdk-operations.md")
    for _, full in ipairs(omitted) do
      assert.truthy(md:find("`" .. full .. "` | no | no |", 1, true), full)
    end
    for _, op in ipairs(operations.all()) do
      local item = doc.paths[op.path] or add.paths[op.path]
      local spec = item[op.method:lower()] or add.paths[op.path][op.method:lower()]
      local names = {}
      for name in op.path:gmatch("{([^}]+)}") do names[#names + 1] = name end
      assert.same(names, op.path_params)
      assert.equal(spec.requestBody ~= nil, op.body ~= nil, op.name)
      local has_cursor, needs_integration = false, false
      for _, p in ipairs(spec.parameters or {}) do
        if p["in"] == "query" and p.name == "cursor" then has_cursor = true end
        if p["in"] == "header" and p.name == "X-Integration-Id" then needs_integration = true end
      end
      assert.equal(has_cursor, op.paginated and not cursor_omitted[op], op.name)
      assert.equal(needs_integration, op.integration, op.name)
    end
  end)

  it("keeps query parameters in the document's order with list and boolean flags", function()
    local names, lists, booleans = {}, {}, {}
    for _, q in ipairs(by_name.get_applications.query) do
      names[#names + 1] = q.name
      if q.list then lists[#lists + 1] = q.name end
      if q.boolean then booleans[#booleans + 1] = q.name end
    end
    assert.are.same({ "cursor", "page_size", "updated_after", "include_deleted", "ids", "remote_ids", "outcome",
      "outcomes", "job_ids", "job_remote_ids", "current_stage_ids", "remote_created_after" }, names)
    assert.are.same({ "ids", "remote_ids", "outcomes", "job_ids", "job_remote_ids", "current_stage_ids" }, lists)
    assert.are.same({ "include_deleted" }, booleans)
    assert.are.same({ type = "integer", minimum = 1, maximum = 250 }, query_param("get_jobs", "page_size").schema)
    assert.are.same({ "OPEN", "CLOSED", "DRAFT", "ARCHIVED" }, query_param("get_jobs", "status").schema.enum)
  end)

  it("checks each item of a list filter against the items the document accepts", function()
    local roles = operations.load("ats")
    local scopes
    for _, op in ipairs(roles) do
      if op.name == "get_roles" then
        for _, q in ipairs(op.query) do if q.name == "scopes" then scopes = q end end
      end
    end
    assert.is_true(scopes.list)
    assert.same({ "SYSTEM", "JOB" }, scopes.schema.enum)
  end)

  -- The rule reads prose, so where it applies is pinned here: a change of
  -- the document's wording shows up as a change of this set.
  it("takes a list filter's items from its description where only the prose lists them", function()
    local filters = { statuses = "status", employment_types = "employment_type", visibilities = "visibility",
      outcomes = "outcome", employment_statuses = "employment_status", types = "type" }
    local found = {}
    for _, op in ipairs(m.operations) do
      for _, q in ipairs(op.query) do
        if q.prose_enum then
          found[#found + 1] = op.group .. "." .. op.name .. "?" .. q.name
          -- The values are the ones the results' field it filters on has
          -- (documented as an enum, or any string besides it).
          local item = model.convert(m.doc, op.response_doc, "response").properties.data.properties.results.items
          local field = item.properties[filters[q.name]]
          assert.same((field.any_of and field.any_of[1] or field).enum, q.schema.enum, q.name)
        end
      end
    end
    assert.same({ "ats.get_applications?outcomes", "ats.get_jobs?statuses", "ats.get_jobs?employment_types",
      "ats.get_jobs?visibilities", "hris.get_employees?employment_statuses", "hris.get_performance_reviews?types" },
      found)
    assert.same({ "OPEN", "CLOSED", "DRAFT", "ARCHIVED" }, query_param("get_jobs", "statuses").schema.enum)
  end)

  it("constrains a path parameter where the document does", function()
    local tools
    for _, op in ipairs(operations.load("general")) do if op.name == "get_tools" then tools = op end end
    assert.same({ "hris", "ats", "assessment" }, tools.path_schemas.category.enum)
  end)

  -- The keys kombo.schema reads; prose and unknown keywords never reach the table.
  local SCHEMA_KEYS = {
    type = true, enum = true, format = true, pattern = true, min_length = true, max_length = true,
    minimum = true, maximum = true, exclusive_minimum = true, exclusive_maximum = true, min_items = true,
    max_items = true, items = true, properties = true, required = true, additional = true, any_of = true,
    nullable = true,
  }

  -- Every schema table reachable from the operations: fn(schema, where).
  local function each_schema(fn)
    local function walk(s, where)
      fn(s, where)
      for k, v in pairs(s.properties or {}) do walk(v, where .. "." .. k) end
      if s.items then walk(s.items, where .. "[]") end
      for i, b in ipairs(s.any_of or {}) do walk(b, where .. "|" .. i) end
    end
    for _, op in ipairs(operations.all()) do
      for _, q in ipairs(op.query) do walk(q.schema, op.name .. "?" .. q.name) end
      if op.body then walk(op.body, op.name .. ".body") end
      for k, v in pairs(op.path_schemas or {}) do walk(v, op.name .. "/" .. k) end
    end
  end

  it("carries required body fields and no prose", function()
    assert.are.same({ "stage_id" }, by_name.move_application_to_stage.body.required)
    assert.are.same({ "candidate", "application" }, by_name.create_candidate.body.required)
    assert.are.same({ "first_name", "last_name", "email_address" },
      by_name.create_candidate.body.properties.candidate.required)
    assert.are.same({ "tracked_at" }, by_name.import_tracked_application.body.required)
    each_schema(function(s, where)
      for k in pairs(s) do assert.is_true(SCHEMA_KEYS[k], where .. ": " .. tostring(k)) end
    end)
  end)

  -- Canonical text of a schema, to tell distinct ones apart.
  local function canon(v)
    if type(v) ~= "table" then return type(v) == "string" and string.format("%q", v) or tostring(v) end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = tostring(k) end
    table.sort(keys)
    local parts = {}
    for i, k in ipairs(keys) do parts[i] = k .. "=" .. canon(v[k] == nil and v[tonumber(k)] or v[k]) end
    return "{" .. table.concat(parts, ",") .. "}"
  end

  it("refers to a shared schema instead of repeating it", function()
    -- One table for every date-time filter, whatever the group.
    local date_time = query_param("get_applications", "updated_after").schema
    local uses, distinct, n_distinct = 0, {}, 0
    for _, op in ipairs(operations.all()) do
      for _, q in ipairs(op.query) do
        if canon(q.schema) == canon(date_time) then
          assert.equal(date_time, q.schema, op.name .. " " .. q.name)
        end
      end
    end
    each_schema(function(s)
      if s.pattern == date_time.pattern then
        uses = uses + 1
        if not distinct[canon(s)] then distinct[canon(s)], n_distinct = true, n_distinct + 1 end
      end
    end)
    assert.is_true(uses >= 30)
    -- Each distinct schema with the date-time pattern is written once in all
    -- the generated files.
    local needle = string.format("%q", date_time.pattern):gsub("%p", "%%%0")
    local count = 0
    local files = { "shared" }
    for _, g in ipairs(operations.groups) do files[#files + 1] = g end
    for _, name in ipairs(files) do
      local _, n = read_file("lua/kombo/operations/" .. name .. ".lua"):gsub(needle, "")
      count = count + n
    end
    assert.equal(n_distinct, count)
  end)
end)

describe("schema.check", function()
  local PAGE_SIZE = { type = "integer", minimum = 1, maximum = 250 }
  local STATUS = { type = "string", enum = { "OPEN", "CLOSED", "DRAFT", "ARCHIVED" } }
  local DATE = { type = "string", format = "date-time",
    pattern = "^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?)?Z?$" }
  local create_candidate = by_name.create_candidate.body
  local import = by_name.import_tracked_application.body
  local candidate_body = require("support.values").candidate_body

  -- { description, schema, value, field given, nil when valid | { field, expected } }
  local CASES = {
    { "integer in range", PAGE_SIZE, 250, "page_size" },
    { "integral float is an integer", PAGE_SIZE, 250.0, "page_size" },
    { "integer below range", PAGE_SIZE, 0, "page_size", { "page_size", "an integer from 1 to 250" } },
    { "integer above range", PAGE_SIZE, 251, "page_size", { "page_size", "an integer from 1 to 250" } },
    { "fraction is no integer", PAGE_SIZE, 2.5, "page_size", { "page_size", "an integer from 1 to 250" } },
    { "numeric string is no integer", PAGE_SIZE, "10", "page_size", { "page_size", "an integer from 1 to 250" } },
    { "NaN", { type = "number" }, 0 / 0, "x", { "x", "a finite number" } },
    { "infinity", { type = "number" }, math.huge, "x", { "x", "a finite number" } },
    { "exclusive bound", { type = "number", exclusive_minimum = 0 }, 0, "x", { "x", "a number > 0" } },
    { "enum member", STATUS, "OPEN", "status" },
    { "enum is case-sensitive", STATUS, "open", "status", { "status", "one of OPEN, CLOSED, DRAFT, ARCHIVED" } },
    { "string for string", { type = "string" }, "x", "x" },
    { "number for string", { type = "string" }, 1, "x", { "x", "a string" } },
    { "boolean", { type = "boolean" }, false, "x" },
    { "string for boolean", { type = "boolean" }, "true", "x", { "x", "a boolean" } },
    { "date-time", DATE, "2024-04-12T14:33:47.000Z", "d" },
    { "date only", DATE, "2024-04-12", "d" },
    { "date-time with offset", DATE, "2024-04-12T14:33:47+02:00", "d",
      { "d", "a date-time such as 2024-04-12T14:33:47.000Z" } },
    { "not a date", DATE, "yesterday", "d", { "d", "a date-time such as 2024-04-12T14:33:47.000Z" } },
    { "email", { type = "string", format = "email" }, "a@b.c", "e" },
    { "bad email", { type = "string", format = "email" }, "a b", "e", { "e", "an email address" } },
    { "uri", { type = "string", format = "uri" }, "https://x.test/a", "u" },
    { "bad uri", { type = "string", format = "uri" }, "not a uri", "u", { "u", "a URI" } },
    { "translated pattern", { type = "string", pattern = "^[A-Z]{2}$" }, "DE", "c" },
    { "pattern mismatch", { type = "string", pattern = "^[A-Z]{2}$" }, "DEU", "c",
      { "c", "a string matching ^[A-Z]{2}$" } },
    { "min length counts characters", { type = "string", min_length = 2 }, "é", "s",
      { "s", "a string of at least 2 characters" } },
    { "null where nullable", { type = "string", nullable = true }, NULL, "x" },
    { "null where not nullable", { type = "string" }, NULL, "x", { "x", "a string" } },
    { "anything", {}, { 1, 2 }, "x" },
    { "function is no JSON", {}, print, "x", { "x", "a JSON value" } },
    { "empty table as array", { type = "array", items = { type = "string" } }, {}, "a" },
    { "empty table as object", { type = "object" }, {}, "o" },
    { "array element", { type = "array", items = { type = "string" } }, { "a", 2 }, "a", { "a[2]", "a string" } },
    { "holes are no array", { type = "array" }, { 1, nil, 3 }, "a", { "a", "an array (keys 1..n only)" } },
    { "mixed table is no array", { type = "array" }, { 1, x = 2 }, "a", { "a", "an array (keys 1..n only)" } },
    { "array is no object", { type = "object" }, { 1 }, "o", { "o", "an object" } },
    { "closed object", { type = "object", properties = { a = {} }, additional = false }, { a = 1, b = 2 }, "o",
      { "o.b", "not an allowed field" } },
    { "min items", { type = "array", min_items = 1 }, {}, "a", { "a", "an array of at least 1 item" } },
    { "missing required body field", by_name.move_application_to_stage.body, {}, "body",
      { "body.stage_id", "required" } },
    { "wrong type of body field", by_name.move_application_to_stage.body, { stage_id = 7 }, "body",
      { "body.stage_id", "a string" } },
    { "nested wrong type", create_candidate,
      candidate_body({ candidate = { first_name = "A", last_name = "B", email_address = 42 } }), "body",
      { "body.candidate.email_address", "an email address" } },
    { "nested missing field", create_candidate,
      candidate_body({ candidate = { first_name = "A", email_address = "a@b.c" } }), "body",
      { "body.candidate.last_name", "required" } },
    { "attachment fields are checked per element", create_candidate,
      candidate_body({ attachments = { { name = "cv.pdf", type = "CV" }, { name = "x", type = "PHOTO" } } }), "body",
      { "body.attachments[2].type", "one of CV, COVER_LETTER, OTHER" } },
    { "attachment missing name", create_candidate,
      candidate_body({ attachments = { { type = "CV" } } }), "body", { "body.attachments[1].name", "required" } },
    { "valid candidate", create_candidate, candidate_body({ attachments = {}, remote_fields = {} }), "body" },
    { "nullable nested field", by_name.move_application_to_stage.body,
      { stage_id = "s", remote_fields = { greenhouse = { post_headers = { ["On-Behalf-Of"] = NULL } } } }, "body" },
    { "any_of picks the fitting branch", create_candidate,
      candidate_body({ screening_question_answers = { { question_id = "q", answer = { name = 1 } } } }), "body",
      { "body.screening_question_answers[1].answer.name", "a string" } },
    { "any_of accepts any branch", create_candidate,
      candidate_body({ screening_question_answers = { { question_id = "q", answer = { "a", "b" } },
        { question_id = "r", answer = true } } }), "body" },
    { "any_of lists its branches", create_candidate,
      candidate_body({ screening_question_answers = { { question_id = "q", answer = print } } }), "body",
      { "body.screening_question_answers[1].answer",
        "a string or a boolean or a number or an array or a date-time such as 2024-04-12T14:33:47.000Z"
        .. " or an object" } },
    { "discriminated union", import,
      { tracked_at = "2024-01-01", erecruiter = { id_type = "application_and_job_remote_ids",
        application_remote_id = "a" } }, "body", { "body.erecruiter.job_remote_id", "required" } },
    { "nullable required field given null", import, { tracked_at = NULL }, "body" },
    { "no field given: paths start at the key", by_name.move_application_to_stage.body, {}, nil,
      { "stage_id", "required" } },
    { "no field given: the value itself", PAGE_SIZE, 0, nil, { "value", "an integer from 1 to 250" } },
  }

  for _, c in ipairs(CASES) do
    it(c[1], function()
      local ok, field, expected = schema.check(c[2], c[3], c[4])
      if c[5] then
        assert.is_nil(ok)
        assert.are.same(c[5], { field, expected })
      else
        assert.is_true(ok, tostring(field) .. ": " .. tostring(expected))
      end
    end)
  end
end)

describe("schema.check of a table with a metatable", function()
  local NOTE = { type = "object", required = { "content" }, properties = { content = { type = "string" } } }
  local raising = { __index = function() error("read through __index") end,
    __pairs = function() error("read through __pairs") end, __len = function() error("read through __len") end }

  it("reads it raw, whatever its metamethods", function()
    assert.is_true(schema.check(NOTE, setmetatable({ content = "x" }, raising)))
    assert.same({ nil, "content", "required" }, { schema.check(NOTE, setmetatable({}, raising)) })
    assert.is_true(schema.check({ type = "array", max_items = 1 }, setmetatable({ "a" }, raising)))
  end)

  it("refuses it when the value is about to be sent, kombo.array's mark alone excepted", function()
    local PLAIN = "a plain table (this one has a metatable, whose fields the checks would not see): copy its"
      .. " fields into one"
    assert.same({ nil, "body", PLAIN }, { schema.check(NOTE, setmetatable({ content = "x" }, raising), "body", true) })
    assert.same({ { field = "body", expected = PLAIN } },
      schema.check_all(NOTE, setmetatable({ content = "x" }, {}), "body", true))
    assert.is_true(schema.check({ type = "array" }, require("kombo").array(), "ids", true))
    assert.same({ nil, "ids", "an object" },
      { schema.check({ type = "object" }, require("kombo").array(), "ids", true) })
    -- An array with another metatable is told how to mark it.
    assert.same({ nil, "ids", PLAIN .. ", or mark an array with kombo.array(t)" },
      { schema.check({ type = "array" }, setmetatable({ "a" }, {}), "ids", true) })
  end)

  it("takes OpenResty's lua-cjson array marks (array_mt, empty_array_mt) as arrays", function()
    local saved = { cjson.array_mt, cjson.empty_array_mt, package.loaded["kombo.schema"] }
    cjson.array_mt, cjson.empty_array_mt = {}, {}
    package.loaded["kombo.schema"] = nil
    local ok, err = pcall(function()
      local fresh = require("kombo.schema")
      assert.is_true(fresh.check({ type = "array" }, setmetatable({ "a" }, cjson.array_mt), "ids", true))
      assert.is_true(fresh.check({ type = "array" }, setmetatable({}, cjson.empty_array_mt), "ids", true))
      assert.equal("array", fresh.kind(setmetatable({}, cjson.empty_array_mt), true))
      assert.is_nil(fresh.kind(setmetatable({}, {}), true))
    end)
    cjson.array_mt, cjson.empty_array_mt, package.loaded["kombo.schema"] = saved[1], saved[2], saved[3]
    assert(ok, err)
  end)
end)

describe("schema.lua_pattern", function()
  local CASES = {
    { "^[A-Z]{2}$", "^[A-Z][A-Z]$" },
    { "^[\\w.-]+\\/[\\w.-]+$", "^[%w_%.%-]+/[%w_%.%-]+$" },
    { "^a{1,3}b?$", "^aa?a?b?$" },
    { "^\\d{4}-\\d{2}(T\\d{2})?$", nil },
    { "^(a|b)$", nil },
  }
  for _, c in ipairs(CASES) do
    it("translates " .. c[1], function()
      assert.are.equal(c[2], schema.lua_pattern(c[1]))
    end)
  end
end)
