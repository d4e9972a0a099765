-- The sandbox answers in the shapes of Kombo's OpenAPI document: the ATS
-- endpoints' 200 responses, and its error envelopes, are checked
-- against the response schemas of the document itself (types, enums,
-- required fields, nullability, date-time formats).
--
-- The document is the repository's reference/kombo-openapi.json (specs run
-- from the checkout's root), or $KOMBO_OPENAPI to try another version.
local cjson = require("cjson").new()
local sandbox = require("support.sandbox")

local NULL = cjson.null

local function load_doc()
  local path = os.getenv("KOMBO_OPENAPI") or "reference/kombo-openapi.json"
  local f = assert(io.open(path, "rb"))
  local text = f:read("*a")
  f:close()
  return cjson.decode(text)
end

-- A small validator for the OpenAPI schema keywords the responses use.
local function validator(doc)
  local check

  local function resolve(ref)
    local node = doc
    for part in ref:gsub("^#/", ""):gmatch("[^/]+") do node = node[part] end
    return node
  end

  local function kind(v)
    if v == NULL then return "null" end
    local t = type(v)
    if t == "number" then return v == math.floor(v) and "integer" or "number" end
    if t ~= "table" then return t end
    if next(v) == nil then return "empty" end
    return v[1] ~= nil and "array" or "object"
  end

  local function type_ok(want, k)
    if want == k then return true end
    if want == "number" and k == "integer" then return true end
    return k == "empty" and (want == "array" or want == "object")
  end

  check = function(s, v, path, errs)
    if s["$ref"] then return check(resolve(s["$ref"]), v, path, errs) end
    for _, sub in ipairs(s.allOf or {}) do check(sub, v, path, errs) end
    local choice = s.anyOf or s.oneOf
    if choice then
      local any = false
      for _, sub in ipairs(choice) do
        local e = {}
        check(sub, v, path, e)
        if #e == 0 then any = true break end
      end
      if not any then errs[#errs + 1] = path .. ": matches no anyOf/oneOf branch" end
    end
    local k = kind(v)
    local types = type(s.type) == "table" and s.type or { s.type }
    if k == "null" then
      local ok = s.nullable == true or s.type == nil and s.enum == nil and s.const == nil
      for _, t in ipairs(types) do ok = ok or t == "null" end
      for _, e in ipairs(s.enum or {}) do ok = ok or e == NULL end
      if not ok and not choice then errs[#errs + 1] = path .. ": null is not allowed" end
      return
    end
    if s.type then
      local ok = false
      for _, t in ipairs(types) do ok = ok or type_ok(t, k) end
      if not ok then
        errs[#errs + 1] = ("%s: %s where %s was expected"):format(path, k, table.concat(types, "|"))
        return
      end
    end
    if s.enum then
      local ok = false
      for _, e in ipairs(s.enum) do ok = ok or e == v end
      if not ok then errs[#errs + 1] = path .. ": " .. tostring(v) .. " is not in the enum" end
    end
    if s.const ~= nil and s.const ~= v then errs[#errs + 1] = path .. ": not " .. tostring(s.const) end
    if s.format == "date-time" and k == "string"
      and not v:match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ$") then
      errs[#errs + 1] = path .. ": " .. v .. " is not an ISO 8601 date-time with milliseconds"
    end
    if k == "object" or k == "empty" then
      for _, r in ipairs(s.required or {}) do
        if type(v) == "table" and v[r] == nil then errs[#errs + 1] = path .. "." .. r .. ": required" end
      end
      for name, sub in pairs(s.properties or {}) do
        if type(v) == "table" and v[name] ~= nil then check(sub, v[name], path .. "." .. name, errs) end
      end
    elseif k == "array" and s.items then
      for i, item in ipairs(v) do check(s.items, item, path .. "[" .. i .. "]", errs) end
    end
  end

  return function(s, v)
    local errs = {}
    check(s, v, "response", errs)
    return errs
  end
end

describe("kombo-sandbox conformance to the OpenAPI document", function()
  local sb, doc, validate

  setup(function()
    doc = load_doc()
    validate = validator(doc)
    sb = sandbox.start()
  end)
  teardown(function() if sb then sb:stop() end end)

  local function call(method, path, body)
    local status, decoded, raw = sb:request(method, path, body)
    return status, decoded, raw
  end

  -- Check a 200 answer of `method path` against the document's schema for `spec_path`.
  local function conforms(method, spec_path, path, body)
    local status, decoded, raw = call(method, path, body)
    assert.equal(200, status, raw)
    local s = doc.paths[spec_path][method:lower()].responses["200"].content["application/json"].schema
    local errs = validate(s, decoded)
    local first = {}
    for i = 1, math.min(#errs, 5) do first[i] = errs[i] end
    assert.same({}, first)
    return decoded
  end

  it("lists: every record of every list endpoint, deleted ones included", function()
    for _, p in ipairs({ "/ats/applications", "/ats/candidates", "/ats/tags", "/ats/application-stages",
      "/ats/jobs", "/ats/users", "/ats/offers", "/ats/rejection-reasons", "/ats/interviews" }) do
      local cursor
      repeat
        local page = conforms("GET", p, p .. "?page_size=250&include_deleted=true"
          .. (cursor and ("&cursor=" .. cursor) or ""))
        cursor = page.data.next ~= NULL and page.data.next or nil
      until not cursor
    end
  end)

  it("writes and attachment lists", function()
    local jobs = conforms("GET", "/ats/jobs", "/ats/jobs?status=OPEN&page_size=1")
    local job = jobs.data.results[1]
    local person = { first_name = "Grace", last_name = "Hopper", email_address = "grace@example.com",
      location = { city = "Arlington", country = "US" },
      additional_email_addresses = { { type = "WORK", email_address = "g@navy.example" } },
      social_links = { { url = "https://example.com/grace" } } }
    local cand = conforms("POST", "/ats/candidates", "/ats/candidates", {
      candidate = person, application = { job_id = job.id, stage_id = job.stages[2].id },
      source = { name = "Conference" },
    }).data
    local app_id = cand.applications[1].id
    local other = { first_name = "Alan", last_name = "Turing", email_address = "alan@example.com" }
    conforms("POST", "/ats/jobs/{job_id}/applications", "/ats/jobs/" .. job.id .. "/applications", {
      candidate = other, screening_question_answers = { { question_id = "q1", answer = "yes" } },
    })
    local app_path = "/ats/applications/" .. app_id
    local cand_path = "/ats/candidates/" .. cand.id
    local att = { attachment = { name = "cv.pdf", type = "CV", content_type = "application/pdf", data = "JVBERi0=" } }
    local reasons = conforms("GET", "/ats/rejection-reasons", "/ats/rejection-reasons")
    for _, w in ipairs({
      { "PUT", "/ats/applications/{application_id}/stage", app_path .. "/stage", { stage_id = job.stages[3].id } },
      { "POST", "/ats/applications/{application_id}/result-links", app_path .. "/result-links",
        { label = "Score", url = "https://example.com/score", details = { custom_field_name_prefix = "x:",
          attributes = { { key = "score", value = "93" } } } } },
      { "POST", "/ats/applications/{application_id}/notes", app_path .. "/notes",
        { content = "Strong", content_type = "PLAIN_TEXT" } },
      { "POST", "/ats/applications/{application_id}/attachments", app_path .. "/attachments", att },
      { "POST", "/ats/candidates/{candidate_id}/attachments", cand_path .. "/attachments", att },
      { "POST", "/ats/candidates/{candidate_id}/result-links", cand_path .. "/result-links",
        { label = "Score", url = "https://example.com/score" } },
      { "POST", "/ats/candidates/{candidate_id}/tags", cand_path .. "/tags", { tag = { name = "Pioneer" } } },
      { "DELETE", "/ats/candidates/{candidate_id}/tags", cand_path .. "/tags", { tag = { name = "Pioneer" } } },
      { "POST", "/ats/applications/{application_id}/reject", app_path .. "/reject",
        { rejection_reason_id = reasons.data.results[1].id } },
      { "POST", "/ats/import-tracked-application", "/ats/import-tracked-application",
        { tracked_at = "2025-02-11T15:37:37.000Z",
          smartrecruiters = { id_type = "candidate_and_job_remote_ids", candidate_remote_id = "1",
            job_remote_id = "2" } } },
    }) do
      conforms(w[1], w[2], w[3], w[4])
    end
    local atts = conforms("GET", "/ats/applications/{application_id}/attachments", app_path .. "/attachments")
    assert.equal("cv.pdf", atts.data.results[1].file_name)
    atts = conforms("GET", "/ats/candidates/{candidate_id}/attachments", cand_path .. "/attachments")
    assert.equal(2, #atts.data.results)
  end)

  it("errors: the envelope of the document for auth, validation and unknown ids", function()
    local s = doc.components.responses.ErrorResponseATS.content["application/json"].schema
    local st, bad = sb:request("GET", "/ats/tags", nil, { authorization = "Bearer wrong" })
    assert.equal(401, st)
    assert.same({}, validate(s, bad))
    for _, case in ipairs({
      { 400, "GET", "/ats/tags?page_size=1000" },
      { 400, "POST", "/ats/candidates", { candidate = {} } },
      { 404, "GET", "/ats/applications/nope/attachments" },
      { 400, "POST", "/ats/jobs/" .. select(2, call("GET", "/ats/jobs?status=CLOSED")).data.results[1].id
        .. "/applications", { candidate = { first_name = "a", last_name = "b", email_address = "c@d.example" } } },
    }) do
      local status, decoded, raw = call(case[2], case[3], case[4])
      assert.equal(case[1], status, raw)
      assert.same({}, validate(s, decoded))
    end
  end)
end)
