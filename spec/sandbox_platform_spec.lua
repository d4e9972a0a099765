-- The sandbox's general, connect and assessment endpoints and the ATS ones
-- beyond the first 23, called through the SDK: each answer has the shape of
-- the document's response schema, the state they keep changes as Kombo's
-- would (syncs queue, field mappings move, links make integrations,
-- packages are replaced, an order takes one result, notes and interviews
-- show up in their lists), and bad input is refused.

package.path = "tools/?.lua;" .. package.path

local kombo = require("kombo")
local model = require("genlib.model")
local schema = require("kombo.schema")
local sandbox = require("support.sandbox")

local NULL = kombo.null

-- The response schemas of the groups the sandbox serves, and which
-- operations it serves; loaded for this file's cases only.
local RESPONSES, SERVED_OPS = {}, 0
local function load_responses()
  local m = model.load("reference")
  local served = {}
  for _, e in ipairs(dofile("sandbox/lua/kombo_sandbox/endpoints.lua")) do served[e[1] .. " " .. e[2]] = true end
  for _, g in ipairs({ "general", "connect", "assessment", "ats", "hris" }) do
    for _, op in ipairs(m.groups[g]) do
      if served[op.method .. " " .. op.path] then
        SERVED_OPS = SERVED_OPS + 1
        RESPONSES[g .. "." .. op.name] = model.convert(m.doc, op.response_doc, op.name .. ".response")
      end
    end
  end
end

describe("sandbox: general, connect, assessment and the rest of ATS", function()
  local sb = sandbox.fixture()
  local client

  setup(function()
    load_responses()
    client = sb:client({ retries = { strategy = "none" } })
  end)
  teardown(function()
    client:close()
    RESPONSES = nil -- the suite runs in one Lua state
  end)

  -- A call that must succeed, its answer checked against the document.
  local function ok(group, name, params, opts)
    local res, err = client[group][name](client[group], params, opts)
    assert(res, tostring(err))
    local fine, field, expected = schema.check(RESPONSES[group .. "." .. name], res, "response")
    assert(fine, group .. "." .. name .. ": " .. tostring(field) .. ": " .. tostring(expected))
    return res
  end

  local function fails(status, group, name, params, opts)
    local res, err = client[group][name](client[group], params, opts)
    assert.is_nil(res)
    assert.equal("api", err.kind, tostring(err))
    assert.equal(status, err.status)
    return err
  end

  local function last_request()
    local list = sb:requests()
    return list[#list]
  end

  describe("general", function()
    it("check_api_key needs no integration and sends none", function()
      local res = ok("general", "check_api_key")
      assert.is_string(res.data.environment_id)
      assert.is_nil(last_request().headers["x-integration-id"])
      local bad = assert(kombo.new({ api_key = "wrong", server_url = sb.url, retries = { strategy = "none" } }))
      local _, err = bad.general:checkApiKey()
      assert.equal(401, err.status)
      bad:close()
    end)

    it("integration details, and a 404 for an unknown integration", function()
      local res = ok("general", "get_integration_details", { integration_id = sb.integration_id })
      assert.equal(sb.integration_id, res.data.id)
      assert.equal("ACTIVE", res.data.status)
      assert.equal("ATS", res.data.category)
      local err = fails(404, "general", "get_integration_details", { integration_id = "nope:1" })
      assert.equal("PLATFORM.INTEGRATION_NOT_FOUND", err.code)
    end)

    it("trigger_sync queues one sync per integration; asking again answers already_queued", function()
      local first = ok("general", "trigger_sync", { body = { type = "FULL" } })
      assert.is_false(first.data.already_queued)
      assert.equal("FULL", first.data.type)
      local again = ok("general", "trigger_sync", { body = {} })
      assert.is_true(again.data.already_queued)
      assert.equal(first.data.sync_id, again.data.sync_id)
      fails(404, "general", "trigger_sync", { body = {} }, { integration_id = "nope:1" })
      fails(400, "general", "trigger_sync", { body = { type = "HOURLY" } }, { validate = false })
    end)

    it("passthrough echoes what the tool was sent", function()
      local res = ok("general", "send_passthrough_request", { tool = "greenhouse", api = "harvest", body = {
        method = "GET", path = "/candidates/4066789008/activity_feed", params = { per_page = "50" } } })
      assert.equal(200, res.data.status)
      assert.equal("https://passthrough.sandbox-company.example/greenhouse/harvest/candidates/4066789008/activity_feed"
        .. "?per_page=50", res.data.url)
      assert.equal("GET", res.data.data.method)
      assert.equal(NULL, res.data.data.data)
      fails(400, "general", "send_passthrough_request", { tool = "t", api = "a",
        body = { method = "GET", path = "no-slash" } }, { validate = false })
    end)

    it("integration fields page and take passthrough on and off", function()
      local id = sb.integration_id
      local page = ok("general", "get_integration_fields", { integration_id = id, page_size = 2 })
      assert.equal(2, #page.data.results)
      assert.equal(page.data.next, page.data.next_cursor)
      local all = {}
      for f in page:items() do all[#all + 1] = f end
      assert.equal(5, #all)
      local field = all[1]
      local res = ok("general", "update_integration_field", { integration_id = id, integration_field_id = field.id,
        body = { enable_passthrough = not field.is_passthrough_enabled } })
      assert.equal(not field.is_passthrough_enabled, res.data.is_passthrough_enabled)
      fails(404, "general", "update_integration_field", { integration_id = id, integration_field_id = "nope",
        body = { enable_passthrough = true } })
    end)

    it("custom fields are mapped to an integration field and unmapped with null", function()
      local id = sb.integration_id
      local fields = ok("general", "get_integration_fields", { integration_id = id }).data.results
      local custom = ok("general", "get_custom_fields", { integration_id = id }).data.results
      local unmapped
      for _, c in ipairs(custom) do if c.integration_field == NULL then unmapped = c end end
      assert.truthy(unmapped)
      local res = ok("general", "update_custom_field_mapping", { integration_id = id, custom_field_id = unmapped.id,
        body = { integration_field_id = fields[2].id } })
      assert.equal(fields[2].id, res.data.integration_field.id)
      res = ok("general", "update_custom_field_mapping", { integration_id = id, custom_field_id = unmapped.id,
        body = { integration_field_id = NULL } })
      assert.equal(NULL, res.data.integration_field)
      fails(400, "general", "update_custom_field_mapping", { integration_id = id, custom_field_id = unmapped.id,
        body = { integration_field_id = "nope" } })
    end)

    it("tools of a category", function()
      local res = ok("general", "get_tools", { category = "hris" })
      assert.is_true(#res.data.tools >= 1)
      for _, t in ipairs(res.data.tools) do assert.is_string(t.label) end
    end)
  end)

  describe("connect", function()
    it("a link makes an integration its token finds, and integration details know it", function()
      local res = ok("connect", "create_connection_link", { body = { end_user_email = "it@acme.example",
        end_user_organization_name = "Acme", integration_category = "HRIS", integration_tool = "personio" } })
      assert.is_nil(last_request().headers["x-integration-id"])
      local token = res.data.link:match("token=(.+)$")
      local found = ok("connect", "get_integration_by_token", { token = token })
      assert.equal("personio", found.data.tool)
      assert.equal("Acme", found.data.end_user_organization_name)
      assert.equal("INCOMPLETE", found.data.setup_status)
      local details = ok("general", "get_integration_details", { integration_id = found.data.id })
      assert.equal("HRIS", details.data.category)
      fails(404, "connect", "get_integration_by_token", { token = "nope" })
      fails(400, "connect", "create_connection_link", { body = { end_user_email = "x@y.example" } },
        { validate = false })
    end)
  end)

  describe("assessment", function()
    it("packages are replaced by set_packages", function()
      assert.equal(2, #ok("assessment", "get_packages").data.packages)
      ok("assessment", "set_packages", { body = { packages = { { id = "p1", type = "SKILLS_TEST", name = "Lua",
        description = "Lua coding" } } } })
      local after = ok("assessment", "get_packages").data.packages
      assert.equal(1, #after)
      assert.equal("p1", after[1].id)
      assert.is_string(after[1].updated_at)
      fails(400, "assessment", "set_packages", { body = { packages = { { id = "p1", type = "SKILLS_TEST",
        name = "a", description = "b" }, { id = "p1", type = "BEHAVIORAL", name = "c", description = "d" } } } })
    end)

    it("an open order takes one result, then leaves the open list", function()
      local open = ok("assessment", "get_open_orders", { page_size = 2 })
      local all = {}
      for o in open:items() do all[#all + 1] = o end
      assert.equal(5, #all)
      local order = all[1]
      ok("assessment", "update_order_result", { assessment_order_id = order.id, body = { status = "COMPLETED",
        result_url = "https://assessments.example.com/r/1", completed_at = "2024-05-01T10:00:00.000Z", score = 87,
        max_score = 100 } })
      local orders = ok("assessment", "get_assessment_orders", { ids = { order.id } }).data.results
      assert.equal("COMPLETED", orders[1].status)
      assert.equal(4, #ok("assessment", "get_open_orders").data.results)
      fails(400, "assessment", "update_order_result", { assessment_order_id = order.id, body = { status = "CANCELLED",
        result_url = "https://assessments.example.com/r/1", completed_at = "2024-05-01T10:00:00.000Z" } })
      fails(404, "assessment", "update_order_result", { assessment_order_id = "nope", body = { status = "OPEN",
        result_url = "https://assessments.example.com/r/1" } })
      local done = ok("assessment", "get_assessment_orders", { statuses = { "COMPLETED", "CANCELLED" } })
      assert.equal(3, #done.data.results)
    end)
  end)

  describe("ATS", function()
    it("roles filter by scope and hide deleted ones", function()
      local system = ok("ats", "get_roles", { scopes = "SYSTEM" }).data.results
      assert.equal(3, #system)
      for _, r in ipairs(system) do assert.equal("SYSTEM", r.scope) end
      assert.equal(6, #ok("ats", "get_roles").data.results)
      assert.equal(7, #ok("ats", "get_roles", { include_deleted = true }).data.results)
      fails(400, "ats", "get_roles", { scopes = "GLOBAL" }, { validate = false })
    end)

    it("a note added to an application is listed for its candidate", function()
      local status, body = sb:request("GET", "/ats/applications?page_size=1")
      assert.equal(200, status)
      local app = body.data.results[1]
      assert.equal(0, #ok("ats", "get_notes").data.results)
      ok("ats", "add_application_note", { application_id = app.id, body = { content = "Great <b>fit</b>",
        content_type = "PLAIN_TEXT" } })
      local notes = ok("ats", "get_notes", { candidate_ids = { app.candidate.id } }).data.results
      assert.equal(1, #notes)
      assert.equal("<p>Great &lt;b&gt;fit&lt;/b&gt;</p>", notes[1].content_html)
      assert.equal(app.id, notes[1].application_id)
      assert.equal(0, #ok("ats", "get_notes", { application_ids = "other" }).data.results)
    end)

    it("the actions give attachment restrictions kombo.attachment checks a file against", function()
      local limits = ok("ats", "get_create_candidate_action")
      assert.equal(10000000, limits.data.attachment_restrictions.types.CV.max_file_size_bytes)
      ok("ats", "get_create_application_action")
      ok("ats", "get_add_application_attachment_action")
      local add = ok("ats", "get_add_candidate_attachment_action")
      assert.is_false(add.data.attachment_restrictions.types.OTHER.is_supported)
      local _, err = kombo.attachment("examples/files/ada_lovelace_cv.pdf", { type = "OTHER" }, add)
      assert.equal("type_not_supported", err.reason)
      assert(kombo.attachment("examples/files/ada_lovelace_cv.pdf", nil, add))
    end)

    it("an interview scheduled for an application shows in get_interviews and can be moved", function()
      local _, apps = sb:request("GET", "/ats/applications?page_size=1&outcome=PENDING")
      local app = apps.data.results[1]
      local _, users = sb:request("GET", "/ats/users?page_size=2")
      local u1, u2 = users.data.results[1].id, users.data.results[2].id
      local function mine()
        local out = {}
        local page = assert(client.ats:get_interviews({ job_ids = app.job.id, page_size = 250 }))
        for iv in page:items() do
          if iv.application_id == app.id and iv.title:find("^Panel") then out[#out + 1] = iv end
        end
        return out
      end
      ok("ats", "create_interview", { application_id = app.id, body = { title = "Panel interview",
        start_time = "2030-01-02T10:00:00.000Z", end_time = "2030-01-02T11:00:00.000Z",
        interviewer_user_ids = { u1 }, organizer_user_id = u2, location = { type = "VIRTUAL" } } })
      local ivs = mine()
      assert.equal(1, #ivs)
      assert.equal("2030-01-02T10:00:00.000Z", ivs[1].starting_at)
      ok("ats", "update_interview", { application_id = app.id, body = { interview_id = ivs[1].id,
        title = "Panel interview (moved)", start_time = "2030-01-03T10:00:00.000Z",
        end_time = "2030-01-03T11:00:00.000Z", interviewer_user_ids = { u1, u2 }, organizer_user_id = u2,
        location = { type = "PHYSICAL", address = "Main Street 1" } } })
      ivs = mine()
      assert.equal("Panel interview (moved)", ivs[1].title)
      assert.equal("2030-01-03T10:00:00.000Z", ivs[1].starting_at)
      assert.equal(2, #ivs[1].users)
      fails(400, "ats", "create_interview", { application_id = app.id, body = { title = "x",
        start_time = "2030-01-02T11:00:00.000Z", end_time = "2030-01-02T10:00:00.000Z", interviewer_user_ids = {},
        organizer_user_id = u2, location = { type = "VIRTUAL" } } })
      fails(400, "ats", "create_interview", { application_id = app.id, body = { title = "x",
        start_time = "2030-01-02T10:00:00.000Z", end_time = "2030-01-02T11:00:00.000Z",
        interviewer_user_ids = { "nobody" }, organizer_user_id = u2, location = { type = "VIRTUAL" } } })
      fails(404, "ats", "update_interview", { application_id = app.id, body = { interview_id = "nope", title = "x",
        start_time = "2030-01-02T10:00:00.000Z", end_time = "2030-01-02T11:00:00.000Z", interviewer_user_ids = {},
        organizer_user_id = u2, location = { type = "VIRTUAL" } } })
    end)
  end)

  describe("HRIS", function()
    -- The document lists no cursor for GET /hris/skills, yet its answer
    -- pages and says to send data.next back as one.
    it("skills page without a documented cursor: a walk sends data.next back and reaches page 2", function()
      sb:clear_requests()
      local page = ok("hris", "get_skills")
      assert.equal(100, #page.data.results)
      assert.is_string(page.data.next)
      local ids, pages = {}, 0
      for p in page:pages() do
        pages = pages + 1
        for _, s in ipairs(p.data.results) do ids[#ids + 1] = s.id end
      end
      assert.equal(2, pages)
      assert.equal(129, #ids)
      local asked = sb:requests(function(r) return r.path == "/v1/hris/skills" end)
      assert.equal(2, #asked)
      assert.equal("", asked[1].query or "")
      local escaped = page.data.next:gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end)
      assert.equal("cursor=" .. escaped, asked[2].query)
      -- Given by hand, as the document's prose says.
      local second = ok("hris", "get_skills", { cursor = page.data.next })
      assert.equal(29, #second.data.results)
      assert.equal(NULL, second.data.next)
    end)
  end)

  it("serves the 23 ATS operations and 25 more", function()
    assert.equal(23 + 25, SERVED_OPS)
  end)
end)

describe("sandbox: forced syncs", function()
  local SYNC_MS = 300
  local sb = sandbox.fixture({ args = { "--sync-ms", tostring(SYNC_MS) } })

  it("run one at a time for --sync-ms; once one has ended, asking again starts the next", function()
    local _, first = sb:request("POST", "/force-sync", { type = "FULL" })
    assert.is_false(first.data.already_queued)
    local answers = {}
    repeat
      local _, r = sb:request("POST", "/force-sync", {})
      answers[#answers + 1] = r.data
      if r.data.already_queued then require("kombo.core").sleep_ms(20) end
    until not r.data.already_queued or #answers == 500
    local last = answers[#answers]
    assert.is_false(last.already_queued)
    assert.not_equal(first.data.sync_id, last.sync_id)
    assert.equal("DELTA", last.type)
    for i = 1, #answers - 1 do
      assert.equal(first.data.sync_id, answers[i].sync_id)
      assert.equal("FULL", answers[i].type)
    end
    -- the next sync began once the first had run its time
    local asked = sb:requests(function(r) return r.path == "/v1/force-sync" end)
    assert.is_true(asked[#asked].at_ms - asked[1].at_ms >= SYNC_MS - 20,
      ("the second sync began %.0f ms after the first"):format(asked[#asked].at_ms - asked[1].at_ms))
  end)
end)
