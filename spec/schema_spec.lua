-- The operation table (generated, so checked against the document and the
-- published list of 23 operations) and schema checking, table-driven.

local schema = require("kombo.schema")
local operations = require("kombo.operations")

local NULL = schema.null

local by_name = {}
for _, op in ipairs(operations) do by_name[op.name] = op end

local function query_param(op_name, name)
  for _, q in ipairs(by_name[op_name].query) do
    if q.name == name then return q end
  end
end

describe("operations table", function()
  -- From ATS_OPERATIONS.md, in its order.
  local EXPECTED = {
    { "get_applications", "getApplications", "GET", "/ats/applications", true },
    { "move_application_to_stage", "moveApplicationToStage", "PUT", "/ats/applications/{application_id}/stage" },
    { "add_application_result_link", "addApplicationResultLink", "POST",
      "/ats/applications/{application_id}/result-links" },
    { "add_application_note", "addApplicationNote", "POST", "/ats/applications/{application_id}/notes" },
    { "get_application_attachments", "getApplicationAttachments", "GET",
      "/ats/applications/{application_id}/attachments" },
    { "add_application_attachment", "addApplicationAttachment", "POST",
      "/ats/applications/{application_id}/attachments" },
    { "reject_application", "rejectApplication", "POST", "/ats/applications/{application_id}/reject" },
    { "get_candidates", "getCandidates", "GET", "/ats/candidates", true },
    { "create_candidate", "createCandidate", "POST", "/ats/candidates" },
    { "get_candidate_attachments", "getCandidateAttachments", "GET", "/ats/candidates/{candidate_id}/attachments" },
    { "add_candidate_attachment", "addCandidateAttachment", "POST", "/ats/candidates/{candidate_id}/attachments" },
    { "add_candidate_result_link", "addCandidateResultLink", "POST", "/ats/candidates/{candidate_id}/result-links" },
    { "add_candidate_tag", "addCandidateTag", "POST", "/ats/candidates/{candidate_id}/tags" },
    { "remove_candidate_tag", "removeCandidateTag", "DELETE", "/ats/candidates/{candidate_id}/tags" },
    { "get_tags", "getTags", "GET", "/ats/tags", true },
    { "get_application_stages", "getApplicationStages", "GET", "/ats/application-stages", true },
    { "get_jobs", "getJobs", "GET", "/ats/jobs", true },
    { "create_application", "createApplication", "POST", "/ats/jobs/{job_id}/applications" },
    { "get_users", "getUsers", "GET", "/ats/users", true },
    { "get_offers", "getOffers", "GET", "/ats/offers", true },
    { "get_rejection_reasons", "getRejectionReasons", "GET", "/ats/rejection-reasons", true },
    { "get_interviews", "getInterviews", "GET", "/ats/interviews", true },
    { "import_tracked_application", "importTrackedApplication", "POST", "/ats/import-tracked-application" },
  }

  it("has the 23 operations in order with their names, aliases, methods and paths", function()
    assert.are.equal(#EXPECTED, #operations)
    for i, e in ipairs(EXPECTED) do
      local op = operations[i]
      assert.are.same({ e[1], e[2], e[3], e[4], e[5] or false },
        { op.name, op.alias, op.method, op.path, op.paginated })
    end
  end)

  it("lists path parameters in order and a body exactly for writes", function()
    for _, op in ipairs(operations) do
      local names = {}
      for name in op.path:gmatch("{([^}]+)}") do names[#names + 1] = name end
      assert.are.same(names, op.path_params)
      assert.are.equal(op.method ~= "GET", op.body ~= nil, op.name)
    end
  end)

  it("keeps query parameters in spec order with list and boolean flags", function()
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

  it("carries required body fields and no prose", function()
    assert.are.same({ "stage_id" }, by_name.move_application_to_stage.body.required)
    assert.are.same({ "candidate", "application" }, by_name.create_candidate.body.required)
    assert.are.same({ "first_name", "last_name", "email_address" },
      by_name.create_candidate.body.properties.candidate.required)
    assert.are.same({ "tracked_at" }, by_name.import_tracked_application.body.required)
    local function walk(t)
      for k, v in pairs(t) do
        assert.are_not.equal("description", k)
        assert.are_not.equal("example", k)
        if type(v) == "table" then walk(v) end
      end
    end
    walk(operations)
  end)

  it("is reproduced byte for byte by the generator", function()
    local doc = "../shared/reference/kombo-openapi.json"
    local f = io.open(doc, "rb")
    if not f then
      pending("the OpenAPI document is not at " .. doc)
      return
    end
    f:close()
    local pipe = assert(io.popen("lua5.4 tools/gen-operations.lua " .. doc))
    local generated = pipe:read("*a")
    pipe:close()
    local committed = assert(io.open("lua/kombo/operations.lua", "rb"))
    local text = committed:read("*a")
    committed:close()
    assert.is_true(#generated > 0)
    assert.are.equal(text, generated)
  end)
end)

describe("schema.check", function()
  local PAGE_SIZE = { type = "integer", minimum = 1, maximum = 250 }
  local STATUS = { type = "string", enum = { "OPEN", "CLOSED", "DRAFT", "ARCHIVED" } }
  local DATE = { type = "string", format = "date-time",
    pattern = "^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?)?Z?$" }
  local create_candidate = by_name.create_candidate.body
  local import = by_name.import_tracked_application.body
  local CANDIDATE = { first_name = "Ada", last_name = "L", email_address = "ada@example.com" }

  local function candidate_body(extra)
    local body = { candidate = {}, application = { job_id = "J1" } }
    for k, v in pairs(CANDIDATE) do body.candidate[k] = v end
    for k, v in pairs(extra or {}) do body[k] = v end
    return body
  end

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
