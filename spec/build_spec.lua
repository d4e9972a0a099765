-- build.request and build.encode_json: every validation rule names its
-- field, and what goes on the wire is byte-exact. Table-driven, no server.

local build = require("kombo.build")
local operations = require("kombo.operations").load("ats")

local NULL = require("cjson").null

local OPS = {}
for _, op in ipairs(operations) do OPS[op.name] = op end

local candidate_body = require("support.values").candidate_body

describe("build.request rejects", function()
  -- { description, operation, params, field, expected phrase (substring) }
  local CASES = {
    { "params that are not a table", "get_jobs", "status=OPEN", "params", "a table" },
    { "a misspelt parameter", "get_applications", { page_szie = 10 }, "page_szie",
      "not a parameter of get_applications (did you mean page_size?)" },
    { "a misspelt path parameter", "get_application_attachments", { applicationid = "A" }, "applicationid",
      "(did you mean application_id?)" },
    { "the start of a parameter's name", "get_applications", { page = 10 }, "page", "(did you mean page_size?)" },
    { "a parameter of another operation", "get_tags", { job_ids = "x" }, "job_ids", "not a parameter of get_tags" },
    { "a non-string key", "get_tags", { [1] = "x" }, "1", "not a parameter of get_tags" },
    { "a missing path parameter", "move_application_to_stage", { body = { stage_id = "S" } }, "application_id",
      "required" },
    { "an empty path parameter", "get_application_attachments", { application_id = "" }, "application_id",
      "a non-empty string" },
    { "a table as path parameter", "get_candidate_attachments", { candidate_id = { "a" } }, "candidate_id",
      "a non-empty string" },
    { "an enum violation", "get_jobs", { status = "open" }, "status", "one of OPEN, CLOSED, DRAFT, ARCHIVED" },
    { "page_size 0", "get_jobs", { page_size = 0 }, "page_size", "an integer from 1 to 250" },
    { "page_size 251", "get_jobs", { page_size = 251 }, "page_size", "an integer from 1 to 250" },
    { "page_size 2.5", "get_jobs", { page_size = 2.5 }, "page_size", "an integer from 1 to 250" },
    { "page_size as a string", "get_jobs", { page_size = "10" }, "page_size", "an integer from 1 to 250" },
    { "page_size NaN", "get_jobs", { page_size = 0 / 0 }, "page_size", "a finite number" },
    { "include_deleted yes", "get_users", { include_deleted = "yes" }, "include_deleted", "true or false" },
    { "include_deleted 1", "get_users", { include_deleted = 1 }, "include_deleted", "true or false" },
    { "a list param as a number", "get_applications", { ids = 5 }, "ids", "a string" },
    { "a list element that is no string", "get_applications", { job_ids = { "a", 2 } }, "job_ids",
      "a string or a non-empty array of strings" },
    { "an empty list", "get_applications", { ids = {} }, "ids", "a string or a non-empty array of strings" },
    { "a list with holes", "get_applications", { ids = { "a", nil, "c" } }, "ids",
      "a string or a non-empty array of strings" },
    { "a malformed date", "get_applications", { updated_after = "last week" }, "updated_after", "a date-time" },
    { "a cursor that is no string", "get_jobs", { cursor = 5 }, "cursor", "a string" },
    { "a missing body", "move_application_to_stage", { application_id = "A" }, "body", "required" },
    { "a missing required body field", "move_application_to_stage", { application_id = "A", body = {} },
      "body.stage_id", "required" },
    { "a body that is no object", "move_application_to_stage", { application_id = "A", body = "x" }, "body",
      "an object" },
    { "a nested field of the wrong type", "create_candidate",
      { body = candidate_body({ candidate = { first_name = "A", last_name = "B", email_address = 7 } }) },
      "body.candidate.email_address", "an email address" },
    { "an attachment element field", "create_candidate",
      { body = candidate_body({ attachments = { { name = "cv.pdf", type = "CV" }, { name = 1, type = "CV" } } }) },
      "body.attachments[2].name", "a string" },
    { "an array where an object belongs", "create_candidate",
      { body = candidate_body({ remote_fields = { 1, 2 } }) }, "body.remote_fields", "an object" },
    { "a table mixing array and hash keys", "create_candidate",
      { body = candidate_body({ attachments = { { name = "a", type = "CV" }, x = 1 } }) }, "body.attachments",
      "an array" },
    { "a NaN in the body", "create_candidate",
      { body = candidate_body({ screening_question_answers = { { question_id = "q", answer = 0 / 0 } } }) },
      "body.screening_question_answers[1].answer", "a finite number" },
    { "a body on a GET", "get_jobs", { body = {} }, "body", "get_jobs takes no body" },
    { "a required body field on a DELETE", "remove_candidate_tag", { candidate_id = "C", body = { tag = {} } },
      "body.tag.name", "required" },
  }

  for _, c in ipairs(CASES) do
    it(c[1] .. " naming " .. c[4], function()
      local op = OPS[c[2]]
      local req, err = build.request(op, c[3], true)
      assert.is_nil(req)
      assert.are.equal("invalid_request", err.kind)
      assert.are.equal(c[4], err.field)
      assert.are.equal(op.name, err.operation)
      assert.are.equal(0, err.attempts)
      assert.is_truthy(err.message:find(c[5], 1, true), err.message)
      assert.is_truthy(tostring(err):find(c[4], 1, true))
    end)
  end
end)

describe("build.request encodes", function()
  -- { description, operation, params, validate, expected req fields }
  local CASES = {
    { "no params at all", "get_jobs", nil, true, { method = "GET", path = "/ats/jobs", query = "" } },
    { "empty params", "get_tags", {}, true, { path = "/ats/tags", query = "" } },
    { "a path parameter as one segment", "get_application_attachments", { application_id = "../x?y#z" }, true,
      { path = "/ats/applications/..%2Fx%3Fy%23z/attachments" } },
    { "a dot-dot segment harmlessly", "get_application_attachments", { application_id = ".." }, true,
      { path = "/ats/applications/%2E%2E/attachments" } },
    { "a dot segment harmlessly", "get_candidate_attachments", { candidate_id = "." }, true,
      { path = "/ats/candidates/%2E/attachments" } },
    { "spaces, percent and UTF-8 in a segment", "get_application_attachments", { application_id = "a b%é" }, true,
      { path = "/ats/applications/a%20b%25%C3%A9/attachments" } },
    { "an integer path parameter", "get_candidate_attachments", { candidate_id = 42 }, true,
      { path = "/ats/candidates/42/attachments" } },
    { "query params in declared order whatever the table order", "get_applications",
      { job_ids = "J", page_size = 250, updated_after = "2026-01-01T00:00:00.000Z", include_deleted = "false" },
      true, { query = "page_size=250&updated_after=2026-01-01T00%3A00%3A00.000Z&include_deleted=false&job_ids=J" } },
    { "an integral float without .0", "get_jobs", { page_size = 250.0 }, true, { query = "page_size=250" } },
    { "a boolean as text", "get_users", { include_deleted = true }, true, { query = "include_deleted=true" } },
    { "a boolean string as is", "get_users", { include_deleted = "true" }, true, { query = "include_deleted=true" } },
    { "a list given as an array", "get_applications", { ids = { "a b", "c/d" } }, true,
      { query = "ids=a%20b,c%2Fd" } },
    { "a list given as a string, same bytes", "get_applications", { ids = "a b,c/d" }, true,
      { query = "ids=a%20b,c%2Fd" } },
    { "reserved characters in a plain value", "get_jobs", { name_contains = "R&D=1+2 #1" }, true,
      { query = "name_contains=R%26D%3D1%2B2%20%231" } },
    { "the cursor apart from the query", "get_jobs", { cursor = "abc=", page_size = 5 }, true,
      { query = "page_size=5", cursor = "abc=" } },
    { "a body as JSON", "move_application_to_stage", { application_id = "A", body = { stage_id = "S" } }, true,
      { method = "PUT", path = "/ats/applications/A/stage", query = "", body = '{"stage_id":"S"}' } },
    { "empty arrays as [] and empty objects as {} by schema", "create_candidate",
      { body = candidate_body({ attachments = {}, remote_fields = {}, screening_question_answers = {} }) }, true,
      { body = '{"application":{"job_id":"J1"},"attachments":[],"candidate":{"email_address":"ada@example.com",'
        .. '"first_name":"Ada","last_name":"Lovelace"},"remote_fields":{},"screening_question_answers":[]}' } },
    { "null and UTF-8 unchanged", "import_tracked_application",
      { body = { tracked_at = NULL, greenhouse = { id_type = "application_id", application_id = "Zoë/✓" } } }, true,
      { body = '{"greenhouse":{"application_id":"Zoë/✓","id_type":"application_id"},"tracked_at":null}' } },
    { "validate=false: unknown params as query, sorted, after declared ones", "get_jobs",
      { zeta = 1, page_size = "10", alpha = { "x", "y" } }, false, { query = "page_size=10&alpha=x,y&zeta=1" } },
    { "validate=false: enum not checked", "get_jobs", { status = "open" }, false, { query = "status=open" } },
    { "validate=false: body still shaped by schema", "move_application_to_stage",
      { application_id = "A", body = { remote_fields = {} } }, false, { body = '{"remote_fields":{}}' } },
    { "validate=false: a body on a GET goes out", "get_jobs", { body = { a = {} } }, false, { body = '{"a":{}}' } },
  }

  for _, c in ipairs(CASES) do
    it(c[1], function()
      local req, err = build.request(OPS[c[2]], c[3], c[4])
      assert.is_nil(err)
      for k, v in pairs(c[5]) do
        assert.are.equal(v, req[k], k)
      end
      if c[5].cursor == nil then assert.is_nil(req.cursor) end
      if c[5].body == nil then assert.is_nil(req.body) end
      assert.are.equal(OPS[c[2]].method, req.method)
    end)
  end

  it("still requires path parameters with validate=false", function()
    local req, err = build.request(OPS.move_application_to_stage, { body = { stage_id = "S" } }, false)
    assert.is_nil(req)
    assert.are.equal("application_id", err.field)
  end)

  it("still refuses values JSON or a query cannot carry with validate=false", function()
    local _, err = build.request(OPS.get_jobs, { page_size = { a = 1 } }, false)
    assert.are.equal("page_size", err.field)
    _, err = build.request(OPS.move_application_to_stage, { application_id = "A", body = { x = 0 / 0 } }, false)
    assert.are.equal("body.x", err.field)
    assert.are.equal("move_application_to_stage", err.operation)
  end)
end)

describe("build.encode_json", function()
  local ARR = { type = "array", items = { type = "object" } }
  local OBJ = { type = "object", properties = { list = { type = "array" }, map = { type = "object" } } }
  -- { description, value, schema, JSON text }
  local CASES = {
    { "an empty table with no schema", {}, nil, "{}" },
    { "an empty table as array", {}, ARR, "[]" },
    { "an empty table as object", {}, { type = "object" }, "{}" },
    { "empties inside by property schema", { list = {}, map = {}, other = {} }, OBJ,
      '{"list":[],"map":{},"other":{}}' },
    { "array items by item schema", { {}, {} }, { type = "array", items = { type = "array" } }, "[[],[]]" },
    { "null", NULL, nil, "null" },
    { "integral floats as integers", { 250.0, -3.0, 0 }, nil, "[250,-3,0]" },
    { "fractions round-trip", { 0.1, 2.5, 1 / 3 }, nil, "[0.1,2.5,0.3333333333333333]" },
    { "huge numbers", { 1e300 }, nil, "[1e+300]" },
    { "integral floats beyond 2^53 as the integer they are", { 2 ^ 60, -2 ^ 62 }, nil,
      "[1152921504606846976,-4611686018427387904]" },
    { "sorted keys", { b = 1, a = 2, c = { z = true, y = false } }, nil, '{"a":2,"b":1,"c":{"y":false,"z":true}}' },
    { "string escapes, slash plain", { 'q"\\/\n\1' }, nil, '["q\\"\\\\/\\n\\u0001"]' },
    { "UTF-8 bytes unchanged", { "Zoë ✓ 日本" }, nil, '["Zoë ✓ 日本"]' },
    { "kombo.array's empty tables as [] where no schema says", { a = require("kombo").array(), o = {} }, nil,
      '{"a":[],"o":{}}' },
    { "any_of branch that fits an empty table", { answer = {} },
      { type = "object", properties = { answer = { any_of = { { type = "string" }, { type = "array" } } } } },
      '{"answer":[]}' },
  }
  for _, c in ipairs(CASES) do
    it(c[1], function()
      assert.are.equal(c[4], (build.encode_json(c[2], c[3])))
    end)
  end

  -- An id above 2^53 must go out as itself, not as its neighbour double.
  if math.type then
    it("integers beyond 2^53 exactly, in a body and in a path", function()
      local big = math.tointeger("9007199254740993")
      assert.are.equal('{"m":-9223372036854775807,"n":9007199254740993}',
        (build.encode_json({ n = big, m = -math.maxinteger })))
      local req = assert(build.request(OPS.get_application_attachments, { application_id = big }, false))
      assert.are.equal("/ats/applications/9007199254740993/attachments", req.path)
    end)
  end

  -- { description, value, schema, field }
  local BAD = {
    { "NaN", { n = 0 / 0 }, nil, "body.n" },
    { "infinity", { 1, -math.huge }, nil, "body[2]" },
    { "a mixed table", { list = { 1, x = 2 } }, OBJ, "body.list" },
    { "a function", { f = print }, nil, "body.f" },
    { "non-string keys", { [true] = 1 }, nil, "body" },
  }
  for _, c in ipairs(BAD) do
    it("rejects " .. c[1], function()
      local json, err = build.encode_json(c[2], c[3])
      assert.is_nil(json)
      assert.are.equal("invalid_request", err.kind)
      assert.are.equal(c[4], err.field)
    end)
  end

  it("rejects a cyclic table instead of overflowing", function()
    local t = {}
    t.self = t
    local json, err = build.encode_json(t)
    assert.is_nil(json)
    assert.are.equal("invalid_request", err.kind)
    assert.are.equal("body.self", err.field)
    assert.matches("contains itself", err.message, 1, true)
    -- the same table twice side by side is no cycle
    local shared = { a = 1 }
    assert.are.equal('{"x":{"a":1},"y":[{"a":1}]}', (build.encode_json({ x = shared, y = { shared } })))
  end)

  it("still bounds a deep value that is no cycle", function()
    local deep = {}
    local t = deep
    for _ = 1, 1100 do t.n = {}; t = t.n end
    local json, err = build.encode_json(deep)
    assert.is_nil(json)
    assert.matches("nested at most 1000 deep", err.message, 1, true)
  end)

  it("writes what came in a response as it came with as_is: bytes that are not UTF-8, a page's keys", function()
    local page = setmetatable({ name = "caf\233" }, { __index = { next_page = print } })
    assert.equal('{"name":"caf\233"}', (build.encode_json(page, nil, "result", true)))
    local _, err = build.encode_json(page, nil, "result")
    assert.equal("result", err.field)
    _, err = build.encode_json({ name = "caf\233" }, nil, "result")
    assert.equal("result.name", err.field)
  end)

  it("uses the given field prefix", function()
    local _, err = build.encode_json({ 0 / 0 }, nil, "payload")
    assert.are.equal("payload[1]", err.field)
  end)
end)

describe("build.escape", function()
  it("keeps only unreserved characters", function()
    assert.are.equal("AZaz09-._~%20%21%2A%27%28%29%3B%3A%40%26%3D%2B%24%2C%2F%3F%25%23%5B%5D%00",
      build.escape("AZaz09-._~ !*'();:@&=+$,/?%#[]\0"))
  end)
end)

describe("build.request tells where a misplaced field belongs", function()
  it("a body field given among the parameters", function()
    local _, err = build.request(OPS.reject_application, { application_id = "A", rejection_reason_id = "R" }, true)
    assert.equal("rejection_reason_id", err.field)
    assert.matches("inside body = { rejection_reason_id = ... }", err.message, 1, true)
  end)

  it("integration_id given among the parameters", function()
    local _, err = build.request(OPS.get_jobs, { integration_id = "x" }, true)
    assert.equal("integration_id", err.field)
    assert.matches("pass it to kombo.new or as the call's opts", err.message, 1, true)
  end)

  it("reports every problem of a call at once in err.errors", function()
    local _, err = build.request(OPS.get_jobs, { page_size = 0, statuz = "OPEN", updated_after = "yesterday" }, true)
    local fields = {}
    for i, e in ipairs(err.errors) do fields[i] = e.field end
    assert.same({ "statuz", "page_size", "updated_after" }, fields)
    assert.equal("statuz", err.field)
    assert.matches("(and 2 more: see err.errors)", err.message, 1, true)
    assert.equal("invalid_request", err.errors[2].kind)
  end)

  it("reports every problem inside the body too, fields in order, items by index", function()
    local _, err = build.request(OPS.create_candidate, { body = {
      candidate = { first_name = 1, email_address = {} }, application = 5,
      screening_question_answers = { { question_id = "q", answer = 0 / 0 }, { answer = "a" } },
    } }, true)
    local fields = {}
    for i, e in ipairs(err.errors) do fields[i] = e.field end
    assert.same({ "body.application", "body.candidate.last_name", "body.candidate.email_address",
      "body.candidate.first_name", "body.screening_question_answers[1].answer",
      "body.screening_question_answers[2].question_id" }, fields)
    assert.equal("body.application", err.field)
    -- one problem is still the error itself, as check reports it
    local _, one = build.request(OPS.create_candidate, { body = candidate_body({ application = 5 }) }, true)
    assert.equal("body.application", one.field)
    assert.equal(1, #one.errors)
  end)
end)

describe("date-times as os.time() numbers", function()
  local kombo_iso8601 = require("kombo").iso8601
  it("kombo.iso8601 writes UTC with milliseconds", function()
    local kombo = require("kombo")
    assert.equal("1970-01-01T00:00:00.000Z", kombo.iso8601(0))
    assert.equal("2026-12-01T15:04:05.250Z", kombo.iso8601(1796137445.25))
    assert.equal("0001-01-01T00:00:00.000Z", kombo.iso8601(-62135596800))
    assert.equal("9999-12-31T23:59:59.999Z", kombo.iso8601(253402300799.999))
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ$", kombo.iso8601())
  end)

  it("kombo.iso8601 raises for what is not a time, rather than return a date no one asked for", function()
    for _, bad in ipairs({ "2026-01-01", 0 / 0, math.huge, {}, false }) do
      local ok, err = pcall(kombo_iso8601, bad)
      assert.is_false(ok)
      assert.matches("bad argument #1 to 'kombo.iso8601' (seconds since the epoch expected", err, 1, true)
    end
    -- a date with more than four digits of year, or milliseconds by mistake
    for bad, expected in pairs({ [4e11] = "seconds since the epoch (this looks like milliseconds)",
      [1e17] = "seconds since the epoch of a date in years 0001 to 9999",
      [253402300799.9996] = "seconds since the epoch (this looks like milliseconds)",
      -- before year 1 is no millisecond count
      [-62135596801] = "seconds since the epoch of a date in years 0001 to 9999" }) do
      local ok, err = pcall(kombo_iso8601, bad)
      assert.is_false(ok)
      assert.matches("bad argument #1 to 'kombo.iso8601' (" .. expected .. " expected", err, 1, true)
    end
  end)

  it("a date-time query parameter takes a number", function()
    local req = assert(build.request(OPS.get_applications, { updated_after = 1796137445 }, true))
    assert.equal("updated_after=2026-12-01T15%3A04%3A05.000Z", req.query)
  end)

  it("a date-time body field takes a number", function()
    local op = OPS.import_tracked_application
    local fields = {}
    local function find(s, path)
      if type(s) ~= "table" then return end
      if s.format == "date-time" then fields[#fields + 1] = path end
      for k, p in pairs(s.properties or {}) do find(p, path .. "." .. k) end
    end
    find(op.body, "body")
    assert.is_true(#fields > 0, "no date-time field in import_tracked_application's body")
    local name = fields[1]:match("^body%.([%w_]+)$")
    if name then
      local json = build.encode_json({ [name] = 0 }, op.body)
      assert.equal('{"' .. name .. '":"1970-01-01T00:00:00.000Z"}', json)
    end
  end)
end)
