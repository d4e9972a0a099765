-- The ATS operations the sandbox serves, called through the SDK against it:
-- what arrived at the server (method, path, raw query, headers, the JSON
-- body byte for byte) and what came back (decoded shape, kombo.null,
-- pages, and the state change seen through a later read). Then how error
-- envelopes, undecodable bodies, unknown response fields and
-- opts.validate = false come out of a call.

local kombo = require("kombo")
local operations = require("kombo.operations")
local sandbox = require("support.sandbox")

local NULL = kombo.null
local CV_PATH = "examples/files/ada_lovelace_cv.pdf"

-- Independent of the C encoder, so the attachment bytes are checked against
-- a second implementation.
local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local q = {}
    for k = 3, 0, -1 do
      local v = math.floor(n / 64 ^ k) % 64
      q[#q + 1] = B64:sub(v + 1, v + 1)
    end
    if not b then q[3], q[4] = "=", "=" elseif not c then q[4] = "=" end
    out[#out + 1] = table.concat(q)
  end
  return table.concat(out)
end

local read_file = require("support.files").read

local covered = {}

describe("ATS operations against the sandbox", function()
  local sb, client

  setup(function()
    sb = sandbox.start()
    client = sb:client()
  end)
  teardown(function()
    client:close()
    sb:stop()
  end)
  before_each(function() sb:reset() end)

  -- Fixtures read straight from the sandbox (LuaSocket, not the SDK).
  local function api_get(target)
    local status, doc, raw = sb:request("GET", target)
    assert(status == 200, raw)
    return doc.data
  end

  local function job_by_id(id)
    return api_get("/ats/jobs?ids=" .. id).results[1]
  end

  -- A pending application of an open job that is not in its job's last stage,
  -- with that job and the stage after the current one.
  local function movable_application()
    for _, app in ipairs(api_get("/ats/applications?page_size=250&outcome=PENDING").results) do
      local job = job_by_id(app.job_id)
      local idx = app.current_stage ~= NULL and app.current_stage.index
      if job.status == "OPEN" and idx and idx + 1 < #job.stages then
        return app, job, job.stages[idx + 2]
      end
    end
    error("no movable application in the seed")
  end

  local function open_job()
    return api_get("/ats/jobs?status=OPEN&page_size=1").results[1]
  end

  local function candidate_with_tags()
    for _, c in ipairs(api_get("/ats/candidates?page_size=100").results) do
      if #c.tags > 0 then return c end
    end
    error("no tagged candidate in the seed")
  end

  -- The API requests the sandbox recorded since the last reset.
  local function sent()
    local list = sb:requests()
    assert.is_true(#list >= 1, "nothing reached the sandbox")
    return list[#list], list
  end

  local function assert_headers(req, has_body)
    assert.equal("Bearer " .. sb.api_key, req.headers["authorization"])
    assert.equal(sb.integration_id, req.headers["x-integration-id"])
    if has_body then
      assert.equal("application/json", req.headers["content-type"])
    else
      assert.is_nil(req.headers["content-type"])
      assert.equal("", req.body)
    end
  end

  -- One exchange: exactly one request went out, with these method, path,
  -- query and body; returns it.
  local function assert_sent(method, path, query, body)
    local req, list = sent()
    assert.equal(1, #list)
    assert.equal(method, req.method)
    assert.equal("/v1" .. path, req.path)
    assert.equal(query or "", req.query)
    assert_headers(req, body ~= nil)
    if body ~= nil then assert.equal(body, req.body) end
    return req
  end

  local function assert_success(res, err)
    assert.is_nil(err)
    assert.is_table(res)
    assert.equal("success", res.status)
    assert.is_table(res.data)
  end

  local function op(name, fn)
    covered[name] = true
    describe(name, fn)
  end

  op("get_applications", function()
    it("sends every filter in one query and returns a page", function()
      local app = movable_application()
      sb:clear_requests()
      local page, err = client.ats:get_applications({
        page_size = 25.0, include_deleted = false, job_ids = { app.job_id }, outcome = "PENDING",
        updated_after = "2020-01-01T00:00:00.000Z", current_stage_ids = app.current_stage.id,
      })
      assert_success(page, err)
      assert_sent("GET", "/ats/applications", "page_size=25&updated_after=2020-01-01T00%3A00%3A00.000Z"
        .. "&include_deleted=false&outcome=PENDING&job_ids=" .. app.job_id
        .. "&current_stage_ids=" .. app.current_stage.id)
      assert.is_function(page.next)
      assert.is_function(page.items)
      assert.is_nil(rawget(page, "next"))
      assert.is_true(#page.data.results >= 1)
      for _, a in ipairs(page.data.results) do
        assert.equal("PENDING", a.outcome)
        assert.equal(app.job_id, a.job_id)
        assert.equal(NULL, a.rejection_reason_name)
        assert.equal(NULL, a.rejected_at)
        assert.equal(NULL, a.remote_data)
      end
    end)

    it("follows data.next with the same filters plus the cursor", function()
      -- Without prefetch: the page next() returns would have page 3 in flight.
      local page = assert(client.ats:get_applications({ page_size = 2, outcomes = { "PENDING", "HIRED" } },
        { prefetch = false }))
      assert.is_string(page.data.next)
      local second = assert(page:next())
      local _, list = sent()
      assert.equal(2, #list)
      assert.equal("page_size=2&outcomes=PENDING,HIRED", list[1].query)
      local cursor = page.data.next:gsub("[^%w%-%._~]", function(ch) return ("%%%02X"):format(ch:byte()) end)
      assert.equal("page_size=2&outcomes=PENDING,HIRED&cursor=" .. cursor, list[2].query)
      assert.are_not.equal(page.data.results[1].id, second.data.results[1].id)
    end)

    it("iterates every item of a filtered list across pages", function()
      local app = movable_application()
      local all = api_get("/ats/applications?page_size=250&job_ids=" .. app.job_id).results
      sb:clear_requests()
      local page = assert(client.ats:getApplications({ job_ids = app.job_id, page_size = 3 }))
      local ids = {}
      for a in page:items() do ids[#ids + 1] = a.id end
      assert.equal(#all, #ids)
      for i, a in ipairs(all) do assert.equal(a.id, ids[i]) end
      assert.equal(math.ceil(#all / 3), #sb:requests())
    end)
  end)

  op("move_application_to_stage", function()
    it("PUTs the stage id and the application shows the new current_stage", function()
      local app, _, stage = movable_application()
      sb:clear_requests()
      local res, err = client.ats:move_application_to_stage({ application_id = app.id,
        body = { stage_id = stage.id, remote_fields = {} } })
      assert_success(res, err)
      assert.same({}, res.warnings)
      assert_sent("PUT", "/ats/applications/" .. app.id .. "/stage", "",
        '{"remote_fields":{},"stage_id":"' .. stage.id .. '"}')
      local after = api_get("/ats/applications?ids=" .. app.id).results[1]
      assert.equal(stage.id, after.current_stage.id)
      assert.equal(stage.id, after.current_stage_id)
    end)

    it("sends kombo.null inside remote_fields as null", function()
      local app, _, stage = movable_application()
      sb:clear_requests()
      assert(client.ats:move_application_to_stage({ application_id = app.id, body = { stage_id = stage.id,
        remote_fields = { greenhouse = { post_headers = { ["On-Behalf-Of"] = NULL } } } } }))
      assert.equal('{"remote_fields":{"greenhouse":{"post_headers":{"On-Behalf-Of":null}}},"stage_id":"'
        .. stage.id .. '"}', sent().body)
    end)

    it("keeps an id with path characters in one segment", function()
      local res, err = client.ats:moveApplicationToStage({ application_id = "../x?y#z", body = { stage_id = "S" } })
      assert.is_nil(res)
      local req = sent()
      assert.equal("/v1/ats/applications/..%2Fx%3Fy%23z/stage", req.path)
      assert.equal("", req.query)
      assert.equal(404, err.status)
      assert.matches("../x?y#z", err.message, 1, true)
    end)
  end)

  op("add_application_result_link", function()
    it("POSTs label, url and details with the attributes array", function()
      local app = movable_application()
      local before = sb:counts().result_links
      sb:clear_requests()
      local res, err = client.ats:add_application_result_link({ application_id = app.id, body = {
        label = "Coding test: 87/100", url = "https://tests.example.com/r/42?lang=lua",
        details = { custom_field_name_prefix = "assessment_", attributes = { { key = "score", value = "87" } } },
      } })
      assert_success(res, err)
      assert_sent("POST", "/ats/applications/" .. app.id .. "/result-links", "",
        '{"details":{"attributes":[{"key":"score","value":"87"}],"custom_field_name_prefix":"assessment_"},'
        .. '"label":"Coding test: 87/100","url":"https://tests.example.com/r/42?lang=lua"}')
      assert.equal(before + 1, sb:counts().result_links)
    end)

    it("sends an empty attributes list as []", function()
      local app = movable_application()
      sb:clear_requests()
      assert(client.ats:add_application_result_link({ application_id = app.id, body = {
        label = "L", url = "https://x.example/", details = { custom_field_name_prefix = "p", attributes = {} } } }))
      assert.equal('{"details":{"attributes":[],"custom_field_name_prefix":"p"},"label":"L",'
        .. '"url":"https://x.example/"}', sent().body)
    end)
  end)

  op("add_application_note", function()
    it("POSTs UTF-8 content unchanged", function()
      local app = movable_application()
      local before = sb:counts().notes
      sb:clear_requests()
      local content = "Grüße aus Köln — 候选人很好 ✓ \"quoted\"\nline 2"
      local res, err = client.ats:add_application_note({ application_id = app.id,
        body = { content = content, content_type = "PLAIN_TEXT" } })
      assert_success(res, err)
      assert_sent("POST", "/ats/applications/" .. app.id .. "/notes", "",
        '{"content":"Grüße aus Köln — 候选人很好 ✓ \\"quoted\\"\\nline 2","content_type":"PLAIN_TEXT"}')
      assert.equal(before + 1, sb:counts().notes)
    end)
  end)

  op("get_application_attachments", function()
    it("GETs the list and returns data.results", function()
      local app = movable_application()
      sb:clear_requests()
      local res, err = client.ats:get_application_attachments({ application_id = app.id })
      assert_success(res, err)
      assert_sent("GET", "/ats/applications/" .. app.id .. "/attachments")
      assert.is_table(res.data.results)
      assert.is_nil(res.next) -- not paginated: a plain result, not a page
      for _, a in ipairs(res.data.results) do
        assert.is_string(a.id)
        assert.is_string(a.file_name)
      end
    end)
  end)

  op("add_application_attachment", function()
    it("POSTs the CV as base64 and it is listed afterwards", function()
      local app = movable_application()
      local before = assert(client.ats:get_application_attachments({ application_id = app.id }))
      sb:clear_requests()
      local att = assert(kombo.attachment(CV_PATH))
      local res, err = client.ats:add_application_attachment({ application_id = app.id, body = { attachment = att } })
      assert_success(res, err)
      assert_sent("POST", "/ats/applications/" .. app.id .. "/attachments", "",
        '{"attachment":{"content_type":"application/pdf","data":"' .. base64(read_file(CV_PATH))
        .. '","name":"ada_lovelace_cv.pdf","type":"CV"}}')
      local after = assert(client.ats:get_application_attachments({ application_id = app.id }))
      assert.equal(#before.data.results + 1, #after.data.results)
      local last = after.data.results[#after.data.results]
      assert.equal("ada_lovelace_cv.pdf", last.file_name)
      assert.equal("application/pdf", last.content_type)
      assert.equal("CV", last.type)
    end)
  end)

  op("reject_application", function()
    it("POSTs the reason and a note; the application is DECLINED with that reason", function()
      local app = movable_application()
      local reason = api_get("/ats/rejection-reasons").results[2]
      sb:clear_requests()
      local res, err = client.ats:reject_application({ application_id = app.id,
        body = { rejection_reason_id = reason.id, note = "Thank you — we went another way." } })
      assert_success(res, err)
      assert_sent("POST", "/ats/applications/" .. app.id .. "/reject", "",
        '{"note":"Thank you — we went another way.","rejection_reason_id":"' .. reason.id .. '"}')
      local after = api_get("/ats/applications?ids=" .. app.id).results[1]
      assert.equal("DECLINED", after.outcome)
      assert.equal(reason.name, after.rejection_reason_name)
      assert.is_string(after.rejected_at)
    end)

    it("turns the 404 for an unknown application into an api error", function()
      local res, err = client.ats:reject_application({ application_id = "NoSuchApplication",
        body = { rejection_reason_id = "R" } })
      assert.is_nil(res)
      assert.equal("api", err.kind)
      assert.equal(404, err.status)
      assert.equal("PLATFORM.INPUT_INVALID", err.code)
      assert.equal("The input is invalid.", err.title)
      assert.equal("No application with id NoSuchApplication exists.", err.message)
      assert.matches("^http://127%.0%.0%.1:%d+/_sandbox/requests/%d+$", err.log_url)
      assert.equal("reject_application", err.operation)
      assert.equal(1, err.attempts)
      assert.matches('"status":"error"', err.body, 1, true)
    end)
  end)

  op("get_candidates", function()
    it("filters by email and names, with include_deleted as a boolean", function()
      local c = candidate_with_tags()
      local email = c.email_addresses[1].email_address
      sb:clear_requests()
      local page, err = client.ats:get_candidates({ email = email, first_name = c.first_name,
        include_deleted = true, page_size = 5 })
      assert_success(page, err)
      assert_sent("GET", "/ats/candidates", "page_size=5&include_deleted=true&email="
        .. email:gsub("@", "%%40") .. "&first_name=" .. c.first_name)
      assert.equal(1, #page.data.results)
      local got = page.data.results[1]
      assert.equal(c.id, got.id)
      assert.equal(NULL, got.remote_data)
      assert.equal(#c.tags, #got.tags)
      assert.equal(NULL, page.data.next)
      assert.is_nil(page:next())
    end)
  end)

  op("create_candidate", function()
    it("POSTs the candidate with [] and {} kept and numbers without .0; it then appears", function()
      local job = open_job()
      sb:clear_requests()
      local res, err = client.ats:create_candidate({ body = {
        candidate = { first_name = "Zoë", last_name = "Ångström", email_address = "zoe.angstrom@example.com",
          salary_expectations = { amount = 65000.0, period = "YEAR" }, social_links = {} },
        application = { job_id = job.id, stage_id = job.stages[2].id },
        attachments = {}, screening_question_answers = {}, remote_fields = {},
        source = { name = "Referral" }, gdpr_consent = { given = true },
      } })
      assert_success(res, err)
      assert_sent("POST", "/ats/candidates", "", table.concat({
        '{"application":{"job_id":"', job.id, '","stage_id":"', job.stages[2].id, '"},',
        '"attachments":[],',
        '"candidate":{"email_address":"zoe.angstrom@example.com","first_name":"Zoë","last_name":"Ångström",',
        '"salary_expectations":{"amount":65000,"period":"YEAR"},"social_links":[]},',
        '"gdpr_consent":{"given":true},"remote_fields":{},',
        '"screening_question_answers":[],"source":{"name":"Referral"}}',
      }))
      assert.is_string(res.data.id)
      assert.equal("Zoë", res.data.first_name)
      assert.equal(NULL, res.data.company)
      local found = assert(client.ats:get_candidates({ email = "zoe.angstrom@example.com" }))
      assert.equal(1, #found.data.results)
      assert.equal(res.data.id, found.data.results[1].id)
      assert.equal(job.id, found.data.results[1].applications[1].job.id)
      assert.equal(job.stages[2].id, found.data.results[1].applications[1].current_stage.id)
    end)
  end)

  op("get_candidate_attachments", function()
    it("GETs the list with each attachment's owner", function()
      local c = candidate_with_tags()
      sb:clear_requests()
      local res, err = client.ats:get_candidate_attachments({ candidate_id = c.id })
      assert_success(res, err)
      assert_sent("GET", "/ats/candidates/" .. c.id .. "/attachments")
      for _, a in ipairs(res.data.results) do assert.equal(c.id, a.candidate_id) end
    end)
  end)

  op("add_candidate_attachment", function()
    it("POSTs the attachment and it is listed afterwards", function()
      local c = candidate_with_tags()
      local n = #assert(client.ats:get_candidate_attachments({ candidate_id = c.id })).data.results
      sb:clear_requests()
      local att = assert(kombo.attachment(CV_PATH, { type = "COVER_LETTER", name = "letter.pdf" }))
      local res, err = client.ats:add_candidate_attachment({ candidate_id = c.id,
        body = { attachment = att, remote_fields = { workable = { on_behalf_of_user_remote_id = "77" } } } })
      assert_success(res, err)
      assert_sent("POST", "/ats/candidates/" .. c.id .. "/attachments", "",
        '{"attachment":{"content_type":"application/pdf","data":"' .. base64(read_file(CV_PATH))
        .. '","name":"letter.pdf","type":"COVER_LETTER"},'
        .. '"remote_fields":{"workable":{"on_behalf_of_user_remote_id":"77"}}}')
      local after = assert(client.ats:get_candidate_attachments({ candidate_id = c.id })).data.results
      assert.equal(n + 1, #after)
      assert.equal("letter.pdf", after[#after].file_name)
      assert.equal("COVER_LETTER", after[#after].type)
      assert.equal(NULL, after[#after].application_id)
    end)
  end)

  op("add_candidate_result_link", function()
    it("POSTs label and url", function()
      local c = candidate_with_tags()
      local before = sb:counts().result_links
      sb:clear_requests()
      local res, err = client.ats:add_candidate_result_link({ candidate_id = c.id,
        body = { label = "Video interview", url = "https://video.example.com/s/abc" } })
      assert_success(res, err)
      assert_sent("POST", "/ats/candidates/" .. c.id .. "/result-links", "",
        '{"label":"Video interview","url":"https://video.example.com/s/abc"}')
      assert.equal(before + 1, sb:counts().result_links)
    end)
  end)

  local function tag_names(candidate_id)
    local c = assert(client.ats:get_candidates({ ids = { candidate_id } })).data.results[1]
    local names = {}
    for _, t in ipairs(c.tags) do names[t.name] = true end
    return names
  end

  op("add_candidate_tag", function()
    it("POSTs the tag and the candidate carries it", function()
      local c = candidate_with_tags()
      sb:clear_requests()
      local res, err = client.ats:add_candidate_tag({ candidate_id = c.id, body = { tag = { name = "Überflieger" } } })
      assert_success(res, err)
      assert_sent("POST", "/ats/candidates/" .. c.id .. "/tags", "", '{"tag":{"name":"Überflieger"}}')
      assert.is_true(tag_names(c.id)["Überflieger"])
    end)
  end)

  op("remove_candidate_tag", function()
    it("DELETEs with a JSON body and the tag is gone", function()
      local c = candidate_with_tags()
      local name = c.tags[1].name
      sb:clear_requests()
      local res, err = client.ats:remove_candidate_tag({ candidate_id = c.id,
        body = { tag = { name = name }, remote_fields = {} } })
      assert_success(res, err)
      assert_sent("DELETE", "/ats/candidates/" .. c.id .. "/tags", "",
        '{"remote_fields":{},"tag":{"name":"' .. name .. '"}}')
      assert.is_nil(tag_names(c.id)[name])
    end)
  end)

  -- The list endpoints that share the common filters only.
  local function common_list(name, path)
    op(name, function()
      it("sends ids as a comma-joined list and returns a page", function()
        local first = api_get(path .. "?page_size=3").results
        assert.is_true(#first >= 2)
        sb:clear_requests()
        local page, err = client.ats[name](client.ats, { ids = { first[1].id, first[2].id }, page_size = 250 })
        assert_success(page, err)
        assert_sent("GET", path, "page_size=250&ids=" .. first[1].id .. "," .. first[2].id)
        assert.equal(2, #page.data.results)
        assert.equal(first[1].id, page.data.results[1].id)
        assert.equal(NULL, page.data.next)
        assert.equal(NULL, page.data.results[1].remote_data)
        assert.is_function(page.pages)
        local n = 0
        for _ in page:items() do n = n + 1 end
        assert.equal(2, n)
      end)
    end)
  end

  common_list("get_tags", "/ats/tags")
  common_list("get_application_stages", "/ats/application-stages")
  common_list("get_offers", "/ats/offers")
  common_list("get_rejection_reasons", "/ats/rejection-reasons")

  op("get_jobs", function()
    it("percent-encodes a UTF-8 filter and sends enum and list filters", function()
      sb:clear_requests()
      local page, err = client.ats:get_jobs({ status = "OPEN", employment_types = { "FULL_TIME", "PART_TIME" },
        name_contains = "Ingénieur & Co" })
      assert_success(page, err)
      assert_sent("GET", "/ats/jobs", "status=OPEN&employment_types=FULL_TIME,PART_TIME"
        .. "&name_contains=Ing%C3%A9nieur%20%26%20Co")
      assert.same({}, page.data.results)
    end)

    -- The document lists these values in prose only; another value would
    -- match nothing, not fail.
    it("sends each value a list filter takes, and refuses another one sending nothing", function()
      for _, c in ipairs({
        { "get_jobs", "statuses", { "OPEN", "CLOSED", "DRAFT", "ARCHIVED" } },
        { "get_jobs", "employment_types", { "FULL_TIME", "PART_TIME", "CONTRACT", "SEASONAL", "INTERNSHIP" } },
        { "get_jobs", "visibilities", { "PUBLIC", "INTERNAL", "UNLISTED", "CONFIDENTIAL" } },
        { "get_applications", "outcomes", { "PENDING", "HIRED", "DECLINED" } },
      }) do
        local call = function(v) return client.ats[c[1]](client.ats, { [c[2]] = v }) end
        for _, v in ipairs(c[3]) do
          sb:clear_requests()
          assert_success(call({ v }))
          assert.equal(c[2] .. "=" .. v, sent().query)
        end
        sb:clear_requests()
        local res, err = call({ c[3][1]:lower() })
        assert.is_nil(res)
        assert.equal("invalid_request", err.kind)
        assert.equal(c[2] .. "[1]", err.field)
        assert.equal(c[2] .. "[1]: one of " .. table.concat(c[3], ", "), err.message)
        _, err = call(c[3][1] .. "," .. c[3][2]:lower())
        assert.equal(c[2] .. ": one of " .. table.concat(c[3], ", "), err.message)
        assert.same({}, sb:requests())
      end
    end)

    it("returns jobs with stages and nulls as kombo.null", function()
      local page = assert(client.ats:get_jobs({ status = "OPEN", page_size = 1 }))
      local job = page.data.results[1]
      assert.equal("OPEN", job.status)
      assert.is_true(#job.stages >= 1)
      assert.equal(0, job.stages[1].index)
      assert.equal(NULL, job.salary_amount_from)
      assert.is_string(page.data.next)
    end)
  end)

  op("create_application", function()
    it("POSTs the candidate and CV; the application is listed for the job", function()
      local job = open_job()
      local cv = assert(kombo.attachment(CV_PATH))
      sb:clear_requests()
      local res, err = client.ats:create_application({ job_id = job.id, body = {
        stage_id = job.stages[1].id,
        candidate = { first_name = "Ada", last_name = "Lovelace", email_address = "ada.lovelace@example.com",
          location = { city = "London", country = "GB" } },
        attachments = { cv },
        screening_question_answers = { { question_id = "years", answer = 12 }, { question_id = "relocate",
          answer = true }, { question_id = "langs", answer = {} } },
        remote_fields = { avature = { workflow = { step = { id = 3 } } } },
      } })
      assert_success(res, err)
      assert_sent("POST", "/ats/jobs/" .. job.id .. "/applications", "", table.concat({
        '{"attachments":[{"content_type":"application/pdf","data":"', base64(read_file(CV_PATH)),
        '","name":"ada_lovelace_cv.pdf","type":"CV"}],',
        '"candidate":{"email_address":"ada.lovelace@example.com","first_name":"Ada","last_name":"Lovelace",',
        '"location":{"city":"London","country":"GB"}},',
        '"remote_fields":{"avature":{"workflow":{"step":{"id":3}}}},',
        '"screening_question_answers":[{"answer":12,"question_id":"years"},{"answer":true,"question_id":"relocate"},',
        '{"answer":[],"question_id":"langs"}],',
        '"stage_id":"', job.stages[1].id, '"}',
      }))
      local app = res.data
      assert.equal(job.id, app.job_id)
      assert.equal("PENDING", app.outcome)
      assert.equal(job.stages[1].id, app.current_stage.id)
      assert.equal("Ada", app.candidate.first_name)
      assert.equal(NULL, app.rejection_reason_name)
      local listed = assert(client.ats:get_applications({ ids = app.id })).data.results
      assert.equal(1, #listed)
      assert.equal(job.id, listed[1].job.id)
      local atts = assert(client.ats:get_application_attachments({ application_id = app.id })).data.results
      assert.equal(1, #atts)
      assert.equal("ada_lovelace_cv.pdf", atts[1].file_name)
    end)

    it("turns the 409 for a second application into an api error", function()
      local job = open_job()
      local body = { candidate = { first_name = "A", last_name = "B", email_address = "ab@example.com" } }
      assert(client.ats:create_application({ job_id = job.id, body = body }))
      local res, err = client.ats:create_application({ job_id = job.id, body = body })
      assert.is_nil(res)
      assert.equal("api", err.kind)
      assert.equal(409, err.status)
      assert.equal("ATS.APPLICATION_ALREADY_EXISTS", err.code)
      assert.equal("The application already exists.", err.title)
      assert.is_string(err.log_url)
    end)
  end)

  op("get_users", function()
    it("sends emails as a list and finds the users", function()
      local users = api_get("/ats/users?page_size=2").results
      sb:clear_requests()
      local page, err = client.ats:get_users({ emails = { users[1].email, users[2].email } })
      assert_success(page, err)
      assert_sent("GET", "/ats/users", "emails=" .. users[1].email:gsub("@", "%%40") .. ","
        .. users[2].email:gsub("@", "%%40"))
      assert.equal(2, #page.data.results)
      assert.equal(users[1].id, page.data.results[1].id)
      assert.is_string(page.data.results[1].status)
    end)
  end)

  op("get_interviews", function()
    it("filters by job and returns interviews of that job's applications", function()
      local iv = api_get("/ats/interviews?page_size=1").results[1]
      local job_id = iv.application.job.id
      sb:clear_requests()
      local page, err = client.ats:get_interviews({ job_ids = job_id, page_size = 100 })
      assert_success(page, err)
      assert_sent("GET", "/ats/interviews", "page_size=100&job_ids=" .. job_id)
      assert.is_true(#page.data.results >= 1)
      for _, x in ipairs(page.data.results) do
        assert.equal(job_id, x.application.job.id)
        assert.is_boolean(x.canceled)
      end
    end)
  end)

  op("import_tracked_application", function()
    it("POSTs the tracked ids with tracked_at null", function()
      sb:clear_requests()
      local res, err = client.ats:import_tracked_application({ body = {
        greenhouse = { id_type = "application_id", application_id = "4066789008" }, tracked_at = NULL } })
      assert_success(res, err)
      assert_sent("POST", "/ats/import-tracked-application", "",
        '{"greenhouse":{"application_id":"4066789008","id_type":"application_id"},"tracked_at":null}')
      assert.is_string(res.data.id)
      assert.equal("4066789008", res.data.imported_id.greenhouse.application_id)
      assert.equal(1, sb:counts().tracked_applications)
    end)

    it("sends a date-time tracked_at unchanged", function()
      local res = assert(client.ats:import_tracked_application({ body = {
        recruitee = { id_type = "placement_id", placement_id = "991" }, tracked_at = "2024-04-12T14:33:47.000Z" } }))
      assert.equal('{"recruitee":{"id_type":"placement_id","placement_id":"991"},'
        .. '"tracked_at":"2024-04-12T14:33:47.000Z"}', sent().body)
      assert.equal("2024-04-12T14:33:47.000Z", res.data.tracked_at)
    end)
  end)

  describe("the headers of each call", function()
    it("come from the key function each call and from the call's integration", function()
      local keys = { sb.api_key, "rotated-key", sb.api_key }
      local asked = 0
      local c = sb:client({ api_key = function() asked = asked + 1; return keys[asked] end })
      assert(c.ats:get_tags())
      local _, err = c.ats:get_tags()
      assert.equal(401, err.status)
      assert(c.ats:get_tags({}, { integration_id = "other-integration" }))
      local list = sb:requests()
      assert.equal(3, #list)
      for i, req in ipairs(list) do assert.equal("Bearer " .. keys[i], req.headers["authorization"]) end
      assert.equal(sb.integration_id, list[2].headers["x-integration-id"])
      assert.equal("other-integration", list[3].headers["x-integration-id"])
    end)

    it("carry the call's integration to an operation that needs none, never the client's", function()
      -- The document gives /lms/* no X-Integration-Id, yet they read one
      -- integration's data: a call that names one must not lose it.
      sb:fault({ path = "/v1/lms/users", status = 200, times = -1,
        body = '{"status":"success","data":{"next":null,"results":[]}}' })
      assert(client.lms:get_users({}, { integration_id = "lms-integration" }))
      assert(client.lms:get_users())
      assert(client.general:check_api_key(nil, { integration_id = "named" }))
      assert(client.general:check_api_key())
      local list = sb:requests()
      assert.equal(4, #list)
      assert.equal("lms-integration", list[1].headers["x-integration-id"])
      assert.is_nil(list[2].headers["x-integration-id"])
      assert.equal("named", list[3].headers["x-integration-id"])
      assert.is_nil(list[4].headers["x-integration-id"])
    end)

    it("still go out after client.close() with a dot, which raises that it wants a colon", function()
      local c = sb:client()
      for _, this in ipairs({ false, c.ats }) do
        local ok, err = pcall(c.close, this or nil)
        assert.is_false(ok)
        assert.equal("invalid_request", err.kind)
        assert.equal("call", err.field)
        assert.equal("kombo: invalid request: call: a method call with a colon: client:close(), not client.close()",
          tostring(err))
      end
      sb:clear_requests()
      assert(c.ats:get_tags())
      assert.equal(1, #sb:requests())
      c:close()
      local _, err = c.ats:get_tags()
      assert.equal("client", err.field)
      assert.equal(1, #sb:requests())
    end)

    it("never go out without an integration: an empty one is refused, nothing sent", function()
      sb:clear_requests()
      for _, c in ipairs({ { "ats", "get_tags" }, { "lms", "get_users" }, { "general", "check_api_key" } }) do
        local res, err = client[c[1]][c[2]](client[c[1]], nil, { integration_id = "" })
        assert.is_nil(res)
        assert.equal("invalid_request", err.kind)
        assert.equal("integration_id", err.field)
        assert.equal(c[2], err.operation)
      end
      assert.same({}, sb:requests())
    end)
  end)

  describe("responses the SDK must not trust", function()
    -- { fault action, operation, params }
    local DECODE = {
      { "non_json", "get_tags", nil },
      { "truncated_json", "get_jobs", { page_size = 5 } },
      { "json_not_object", "get_users", nil },
      { "empty_200", "get_offers", nil },
    }
    for _, c in ipairs(DECODE) do
      it(c[1] .. " becomes kind decode with status and raw body", function()
        sb:fault({ path_prefix = "/v1/ats/", action = c[1] })
        local res, err = client.ats[c[2]](client.ats, c[3])
        assert.is_nil(res)
        assert.equal("decode", err.kind)
        assert.equal(200, err.status)
        assert.equal(c[2], err.operation)
        assert.is_string(err.body)
        assert.equal(1, #sb:requests())
        if c[1] == "empty_200" then assert.equal("", err.body) end
        if c[1] == "json_not_object" then assert.equal("[1,2]", err.body) end
        if c[1] == "non_json" then assert.matches("<html>", err.body, 1, true) end
        if c[1] == "truncated_json" then
          assert.matches('^{"data":{"next":', err.body)
          assert.is_nil(require("cjson.safe").decode(err.body))
        end
      end)
    end

    it("JSON without a status field becomes kind decode", function()
      sb:fault({ path = "/v1/ats/applications/A1/notes", status = 200, body = '{"data":{}}' })
      local res, err = client.ats:add_application_note({ application_id = "A1",
        body = { content = "x", content_type = "PLAIN_TEXT" } })
      assert.is_nil(res)
      assert.equal("decode", err.kind)
      assert.equal(200, err.status)
      assert.equal('{"data":{}}', err.body)
      assert.matches("status", err.message)
    end)

    it("passes unknown fields and enum values through", function()
      sb:fault({ path = "/v1/ats/jobs", status = 200, body = '{"status":"success","brand_new":{"a":[1,2]},'
        .. '"data":{"next":null,"results":[{"id":"J1","status":"ON_HOLD","stages":[],"shiny":"yes",'
        .. '"employment_type":"GIG","salary_amount":null}]}}' })
      local page, err = client.ats:get_jobs({ status = "OPEN" })
      assert_success(page, err)
      assert.same({ a = { 1, 2 } }, page.brand_new)
      local job = page.data.results[1]
      assert.equal("ON_HOLD", job.status)
      assert.equal("GIG", job.employment_type)
      assert.equal("yes", job.shiny)
      assert.equal(NULL, job.salary_amount)
      local n = 0
      for _ in page:items() do n = n + 1 end
      assert.equal(1, n)
    end)

    it("passes a success status other than success through", function()
      sb:fault({ path = "/v1/ats/tags", status = 200, body = '{"status":"partial","data":{"next":null,"results":[]}}' })
      local page, err = client.ats:get_tags()
      assert.is_nil(err)
      assert.equal("partial", page.status)
    end)

    it("an error envelope with a custom status and code keeps every field", function()
      sb:fault({ path = "/v1/ats/applications", status = 403, code = "INTEGRATION.PERMISSION_MISSING" })
      local res, err = client.ats:get_applications()
      assert.is_nil(res)
      assert.equal("api", err.kind)
      assert.equal(403, err.status)
      assert.equal("INTEGRATION.PERMISSION_MISSING", err.code)
      assert.equal("A permission is missing for this integration.", err.title)
      assert.matches("403", err.message)
      assert.equal("get_applications", err.operation)
    end)
  end)

  describe("opts.validate", function()
    it("rejects an unknown parameter before anything is sent", function()
      local res, err = client.ats:get_tags({ colour = "red" })
      assert.is_nil(res)
      assert.equal("invalid_request", err.kind)
      assert.equal("colour", err.field)
      assert.equal(0, #sb:requests())
    end)

    it("= false sends it and returns the server's own validation error", function()
      local res, err = client.ats:get_tags({ colour = "red", page_size = 2 }, { validate = false })
      assert.is_nil(res)
      local req = sent()
      assert.equal("page_size=2&colour=red", req.query)
      assert.equal("api", err.kind)
      assert.equal(400, err.status)
      assert.equal("PLATFORM.INPUT_INVALID", err.code)
      assert.matches("colour", err.message)
    end)

    it("= false sends a body field the bundled spec does not know", function()
      local app = movable_application()
      sb:clear_requests()
      local res, err = client.ats:add_application_note({ application_id = app.id,
        body = { content = "hi", content_type = "HTML", pinned = true } }, { validate = false })
      assert.is_nil(res)
      assert.equal('{"content":"hi","content_type":"HTML","pinned":true}', sent().body)
      assert.equal("api", err.kind)
      assert.equal(400, err.status)
      assert.matches("content_type", err.message)
    end)
  end)
end)

describe("operations coverage", function()
  -- Every operation is exercised on the wire by spec/documented_operations_spec.lua;
  -- the ones the sandbox serves with state get a deeper spec: the first 23
  -- here, the rest in spec/sandbox_platform_spec.lua. The sandbox says
  -- which it serves (its endpoints list, data).
  it("has a spec for every operation the sandbox serves", function()
    local served = dofile("sandbox/lua/kombo_sandbox/endpoints.lua")
    local f = assert(io.open("spec/sandbox_platform_spec.lua", "rb"))
    local platform = f:read("*a")
    f:close()
    local elsewhere = {}
    for g, name in platform:gmatch('ok%("([%w_]+)", "([%w_]+)"') do elsewhere[g .. "." .. name] = true end
    local by_route = {}
    for _, g in ipairs(operations.groups) do
      for _, op in ipairs(operations.load(g)) do by_route[op.method .. " " .. op.path] = { g, op.name } end
    end
    local missing = {}
    for _, e in ipairs(served) do
      local op = by_route[e[1] .. " " .. e[2]]
      assert.truthy(op, e[1] .. " " .. e[2])
      local here = op[1] == "ats" and covered[op[2]]
      if not (here or elsewhere[op[1] .. "." .. op[2]]) then missing[#missing + 1] = op[1] .. "." .. op[2] end
    end
    assert.same({}, missing)
    assert.is_true(#served >= 23)
  end)
end)
