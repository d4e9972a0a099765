-- The sandbox server itself, driven over raw LuaSocket: auth and validation
-- envelopes, cursor pagination, writes that show in lists, every fault
-- action, keep-alive, pipelining and concurrency.
local cjson = require("cjson").new()
local sandbox = require("support.sandbox")

local connect, read_response = sandbox.connect, sandbox.read_response

local exchange = sandbox.exchange

local function api(sb, method, target, body)
  local res = assert(exchange(sb, method, target, body and cjson.encode(body)))
  return res.status, cjson.decode(res.body)
end

-- Every id of a list endpoint, following cursors with the same filters.
local function all_pages(sb, path, query)
  local ids, pages, cursor = {}, 0, nil
  repeat
    local q = query .. (cursor and ("&cursor=" .. cursor) or "")
    local status, doc = api(sb, "GET", path .. "?" .. q)
    assert.equal(200, status)
    pages = pages + 1
    for _, r in ipairs(doc.data.results) do ids[#ids + 1] = r end
    cursor = doc.data.next ~= cjson.null and doc.data.next or nil
  until not cursor
  return ids, pages
end

describe("kombo-sandbox", function()
  local sb = sandbox.fixture()

  describe("auth and validation", function()
    local function assert_envelope(doc, code)
      assert.equal("error", doc.status)
      local keys = {}
      for k in pairs(doc.error) do keys[#keys + 1] = k end
      table.sort(keys)
      assert.same({ "code", "log_url", "message", "title" }, keys)
      assert.equal(code, doc.error.code)
      assert.is_string(doc.error.message)
    end

    it("answers 401 PLATFORM.AUTHENTICATION_INVALID without or with a wrong key", function()
      local c = connect(sb)
      c:send("GET /v1/ats/tags HTTP/1.1\r\nHost: x\r\nX-Integration-Id: i\r\n\r\n")
      local res = read_response(c)
      assert.equal(401, res.status)
      assert_envelope(cjson.decode(res.body), "PLATFORM.AUTHENTICATION_INVALID")
      c:send("GET /v1/ats/tags HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\nX-Integration-Id: i\r\n\r\n")
      res = read_response(c)
      c:close()
      assert.equal(401, res.status)
      assert_envelope(cjson.decode(res.body), "PLATFORM.AUTHENTICATION_INVALID")
    end)

    it("answers 400 PLATFORM.INPUT_INVALID without X-Integration-Id", function()
      local c = connect(sb)
      c:send("GET /v1/ats/tags HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sandbox-api-key\r\n\r\n")
      local res = read_response(c)
      c:close()
      assert.equal(400, res.status)
      assert_envelope(cjson.decode(res.body), "PLATFORM.INPUT_INVALID")
      assert.matches("X%-Integration%-Id", cjson.decode(res.body).error.message)
    end)

    it("rejects bad query parameters with a message naming the field", function()
      for target, field in pairs({
        ["/ats/tags?page_size=0"] = "page_size", ["/ats/tags?page_size=251"] = "page_size",
        ["/ats/tags?page_size=abc"] = "page_size", ["/ats/tags?colour=red"] = "colour",
        ["/ats/applications?outcome=MAYBE"] = "outcome", ["/ats/jobs?include_deleted=yes"] = "include_deleted",
        ["/ats/applications?updated_after=yesterday"] = "updated_after",
        ["/ats/tags?cursor=not-a-cursor"] = "cursor",
      }) do
        local status, doc = api(sb, "GET", target)
        assert.equal(400, status, target)
        assert_envelope(doc, "PLATFORM.INPUT_INVALID")
        assert.matches(field, doc.error.message, 1, true)
      end
    end)

    it("rejects bodies that miss required fields, have wrong types or are not JSON", function()
      local app = select(2, api(sb, "GET", "/ats/applications?page_size=1")).data.results[1]
      local status, doc = api(sb, "PUT", "/ats/applications/" .. app.id .. "/stage", { remote_fields = {} })
      assert.equal(400, status)
      assert.matches("body.stage_id", doc.error.message, 1, true)
      status, doc = api(sb, "PUT", "/ats/applications/" .. app.id .. "/stage", { stage_id = 5 })
      assert.equal(400, status)
      assert.matches("body.stage_id", doc.error.message, 1, true)
      local res = exchange(sb, "PUT", "/ats/applications/" .. app.id .. "/stage", "{not json")
      assert.equal(400, res.status)
      assert_envelope(cjson.decode(res.body), "PLATFORM.INPUT_INVALID")
    end)

    it("answers unknown ids with a 404 envelope", function()
      local status, doc = api(sb, "PUT", "/ats/applications/NoSuchApplication/stage", { stage_id = "x" })
      assert.equal(404, status)
      assert_envelope(doc, "PLATFORM.INPUT_INVALID")
      status = api(sb, "GET", "/ats/candidates/NoSuchCandidate/attachments")
      assert.equal(404, status)
    end)
  end)

  describe("its own validator", function()
    -- The sandbox checks requests with sandbox/lua/kombo_sandbox/validate.lua
    -- against rules copied from reference/kombo-openapi.json, never with the
    -- SDK's schema code, so an SDK that lets a bad request through meets a 400.
    local function refused(method, target, body, field, phrase)
      local status, doc = api(sb, method, target, body)
      assert.equal(400, status, target)
      assert.equal("PLATFORM.INPUT_INVALID", doc.error.code)
      assert.matches("`" .. field .. "`", doc.error.message, 1, true)
      if phrase then assert.matches(phrase, doc.error.message, 1, true) end
    end

    it("checks enums, formats, patterns, nullability and tagged unions in bodies", function()
      local app = select(2, api(sb, "GET", "/ats/applications?page_size=1")).data.results[1]
      local cand_path = "/ats/candidates/" .. app.candidate_id
      refused("POST", "/ats/applications/" .. app.id .. "/notes", { content = "hi", content_type = "HTML" },
        "body.content_type", "PLAIN_TEXT")
      refused("POST", "/ats/import-tracked-application", { tracked_at = "yesterday",
        greenhouse = { id_type = "application_id", application_id = "1" } }, "body.tracked_at", "date-time")
      refused("POST", "/ats/import-tracked-application", { tracked_at = cjson.null,
        greenhouse = { id_type = "candidate_id", application_id = "1" } },
        "body.greenhouse.id_type", "application_id")
      refused("POST", "/ats/import-tracked-application", { tracked_at = cjson.null, erecruiter = { id_type = "x" } },
        "body.erecruiter.id_type", "application_and_job_remote_ids")
      local person = { first_name = "Ada", last_name = "Lovelace", email_address = "ada@example.com" }
      local function with(k, v)
        local p = {}
        for pk, pv in pairs(person) do p[pk] = pv end
        p[k] = v
        return p
      end
      local to_job = { job_id = "J" }
      refused("POST", "/ats/candidates",
        { candidate = with("location", { country = "USA" }), application = to_job },
        "body.candidate.location.country", "[A-Z]{2}")
      refused("POST", "/ats/candidates", { candidate = with("email_address", "ada"), application = to_job },
        "body.candidate.email_address", "an email address")
      refused("POST", "/ats/candidates", { candidate = with("first_name", cjson.null), application = to_job },
        "body.candidate.first_name", "a string")
      refused("POST", cand_path .. "/attachments",
        { attachment = { name = "cv", type = "CV", data = "JVBERi0=", content_type = "pdf" } },
        "body.attachment.content_type")
      refused("POST", cand_path .. "/tags", { tag = {} }, "body.tag.name", "required")
      refused("POST", cand_path .. "/tags", { 1, 2 }, "body", "an object")
      refused("GET", "/ats/tags", { page_size = 2 }, "body", "no request body")
    end)

    it("checks query values as the document types them", function()
      refused("GET", "/ats/tags?page_size=2.5", nil, "page_size", "an integer from 1 to 250")
      refused("GET", "/ats/jobs?include_deleted=TRUE", nil, "include_deleted", "one of true, false")
      -- The document's date-time pattern has no offsets.
      refused("GET", "/ats/applications?updated_after=2024-01-01T00:00:00%2B02:00", nil, "updated_after")
      assert.equal(200, (api(sb, "GET", "/ats/applications?updated_after=2024-01-01&page_size=1")))
    end)

    it("loads none of the SDK's modules, even with them on the path", function()
      local lua = os.getenv("KOMBO_LUA") or "lua5.4"
      local p = io.popen(lua .. [[ -e "package.path = 'sandbox/lua/?.lua;sandbox/lua/?/init.lua;'
        .. 'lua/?.lua;lua/?/init.lua;' .. package.path; require('kombo_sandbox')
        for name in pairs(package.loaded) do if name == 'kombo' or name:find('^kombo[.]') then print(name) end end
        print('loaded')" 2>&1]])
      local out = p:read("*a")
      p:close()
      assert.equal("loaded\n", out)
    end)

    it("has the request rules of reference/kombo-openapi.json, as make sandbox-requests copies them", function()
      local lua = os.getenv("KOMBO_LUA") or "lua5.4"
      local p = io.popen(lua .. " sandbox/tools/gen-requests.lua reference/kombo-openapi.json")
      local generated = p:read("*a")
      p:close()
      local f = assert(io.open("sandbox/lua/kombo_sandbox/requests.lua", "rb"))
      local committed = f:read("*a")
      f:close()
      assert.is_true(#generated > 1000)
      assert.is_true(generated == committed,
        "sandbox/lua/kombo_sandbox/requests.lua is stale: run make sandbox-requests")
    end)
  end)

  describe("lists", function()
    it("spans pages with a default page size of 100, no duplicates, next null at the end", function()
      local apps, pages = all_pages(sb, "/ats/applications", "")
      assert.equal(600, #apps)
      assert.equal(6, pages)
      local seen = {}
      for _, a in ipairs(apps) do
        assert.is_nil(seen[a.id])
        seen[a.id] = true
        assert.equal(24, #a.id)
        assert.equal(cjson.null, a.remote_deleted_at)
        assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ$", a.changed_at)
        assert.equal(a.current_stage_id, a.current_stage.id)
        assert.equal(a.job_id, a.job.id)
        assert.equal(a.candidate_id, a.candidate.id)
      end
      assert.equal(612, #all_pages(sb, "/ats/applications", "include_deleted=true&page_size=250"))
    end)

    it("re-applies filters on every page and refuses a cursor sent with other filters", function()
      local everything = all_pages(sb, "/ats/applications", "page_size=250")
      local pending = {}
      for _, a in ipairs(everything) do
        if a.outcome == "PENDING" then pending[#pending + 1] = a.id end
      end
      local got, pages = all_pages(sb, "/ats/applications", "outcome=PENDING&page_size=40")
      assert.is_true(pages > 2)
      local ids = {}
      for i, a in ipairs(got) do
        assert.equal("PENDING", a.outcome)
        ids[i] = a.id
      end
      assert.same(pending, ids)
      local _, first = api(sb, "GET", "/ats/applications?outcome=PENDING&page_size=40")
      local status, doc = api(sb, "GET", "/ats/applications?outcome=HIRED&page_size=40&cursor=" .. first.data.next)
      assert.equal(400, status)
      assert.matches("cursor", doc.error.message)
    end)

    it("has no application of a deleted candidate", function()
      local deleted = {}
      for _, c in ipairs((all_pages(sb, "/ats/candidates", "include_deleted=true&page_size=250"))) do
        if c.remote_deleted_at ~= cjson.null then deleted[c.id] = true end
      end
      assert.is_true(next(deleted) ~= nil)
      for _, a in ipairs((all_pages(sb, "/ats/applications", "include_deleted=true&page_size=250"))) do
        assert.is_nil(deleted[a.candidate.id], a.id .. " belongs to a deleted candidate")
      end
    end)

    it("filters by ids, job ids, dates, names, statuses and emails", function()
      local _, jobs = api(sb, "GET", "/ats/jobs?statuses=CLOSED,ARCHIVED")
      assert.is_true(#jobs.data.results > 0)
      for _, j in ipairs(jobs.data.results) do assert.is_truthy(j.status == "CLOSED" or j.status == "ARCHIVED") end
      local job = jobs.data.results[1]
      assert.is_true(#job.stages >= 4)
      local _, apps = api(sb, "GET", "/ats/applications?job_ids=" .. job.id)
      for _, a in ipairs(apps.data.results) do assert.equal(job.id, a.job_id) end
      local _, by_ids = api(sb, "GET", "/ats/applications?ids=" .. apps.data.results[1].id .. ","
        .. apps.data.results[2].id)
      assert.equal(2, #by_ids.data.results)
      local _, named = api(sb, "GET", "/ats/jobs?name_contains=ENGINEER")
      for _, j in ipairs(named.data.results) do assert.matches("Engineer", j.name) end
      -- the seeded period ends today: a date 200 days back splits it
      local since = os.date("!%Y-%m-%dT00:00:00.000Z", os.time() - 200 * 86400)
      local _, recent = api(sb, "GET", "/ats/candidates?page_size=250&updated_after=" .. since)
      assert.is_true(#recent.data.results > 0 and #recent.data.results < 250)
      for _, c in ipairs(recent.data.results) do assert.is_true(c.changed_at > since) end
      local week = os.date("!%Y-%m-%dT00:00:00.000Z", os.time() - 7 * 86400)
      local _, last_week = api(sb, "GET", "/ats/applications?updated_after=" .. week)
      assert.is_true(#last_week.data.results > 0, "nothing changed in the last 7 days")
      local _, users = api(sb, "GET", "/ats/users?page_size=2")
      local _, one = api(sb, "GET", "/ats/users?emails=" .. users.data.results[2].email:upper())
      assert.equal(users.data.results[2].id, one.data.results[1].id)
    end)

    it("filters candidates by name and job, interviews by job, applications by outcomes and stage", function()
      local _, some = api(sb, "GET", "/ats/candidates?page_size=1")
      local c = some.data.results[1]
      local _, named = api(sb, "GET", "/ats/candidates?first_name=" .. c.first_name:lower() .. "&last_name="
        .. c.last_name:upper() .. "&page_size=250")
      assert.is_true(#named.data.results >= 1)
      for _, x in ipairs(named.data.results) do
        assert.equal(c.first_name, x.first_name)
        assert.equal(c.last_name, x.last_name)
      end
      local job_id = c.applications[1].job.id
      local _, by_job = api(sb, "GET", "/ats/candidates?page_size=250&job_ids=" .. job_id)
      for _, x in ipairs(by_job.data.results) do
        local has = false
        for _, a in ipairs(x.applications) do has = has or a.job.id == job_id end
        assert.is_true(has)
      end
      local _, ivs = api(sb, "GET", "/ats/interviews?page_size=250&job_ids=" .. job_id)
      local _, apps = api(sb, "GET", "/ats/applications?page_size=250&job_ids=" .. job_id .. "&include_deleted=true")
      local of_job = {}
      for _, a in ipairs(apps.data.results) do of_job[a.id] = true end
      for _, iv in ipairs(ivs.data.results) do assert.is_true(of_job[iv.application_id]) end
      local decided = all_pages(sb, "/ats/applications", "outcomes=HIRED,DECLINED&page_size=250")
      assert.is_true(#decided > 0)
      for _, a in ipairs(decided) do assert.is_truthy(a.outcome == "HIRED" or a.outcome == "DECLINED") end
      local stage = decided[1].current_stage_id
      local _, at_stage = api(sb, "GET", "/ats/applications?page_size=250&current_stage_ids=" .. stage)
      for _, a in ipairs(at_stage.data.results) do assert.equal(stage, a.current_stage_id) end
      local _, late = api(sb, "GET", "/ats/jobs?remote_created_after=2024-09-01T00:00:00Z")
      assert.is_true(#late.data.results > 0 and #late.data.results < 30)
      for _, j in ipairs(late.data.results) do assert.is_true(j.remote_created_at > "2024-09-01") end
    end)

    it("generates the same data for the same seed and other data for another", function()
      local function first_ids(s)
        local other = sandbox.start({ seed = s })
        local _, doc = api(other, "GET", "/ats/candidates?page_size=3")
        other:stop()
        return { doc.data.results[1].id, doc.data.results[3].email_addresses[1].email_address }
      end
      local _, mine = api(sb, "GET", "/ats/candidates?page_size=3")
      assert.same({ mine.data.results[1].id, mine.data.results[3].email_addresses[1].email_address }, first_ids(1))
      assert.are_not.same(first_ids(1), first_ids(2))
    end)
  end)

  describe("writes", function()
    local function open_job()
      local _, jobs = api(sb, "GET", "/ats/jobs?status=OPEN&page_size=1")
      return jobs.data.results[1]
    end

    it("creates a candidate that shows in the list, with its application, exactly once", function()
      local before = sb:counts()
      local job = open_job()
      local status, doc = api(sb, "POST", "/ats/candidates", {
        candidate = { first_name = "Ada", last_name = "Lovelace", email_address = "ada@example.com" },
        application = { job_id = job.id },
        attachments = { { name = "cv.pdf", type = "CV", content_type = "application/pdf", data = "JVBERi0=" } },
      })
      assert.equal(200, status)
      assert.equal("success", doc.status)
      assert.same({}, doc.warnings)
      local cand = doc.data
      assert.equal("Ada", cand.first_name)
      assert.equal(job.id, cand.applications[1].job.id)
      local after = sb:counts()
      assert.equal(before.candidates + 1, after.candidates)
      assert.equal(before.applications + 1, after.applications)
      local _, list = api(sb, "GET", "/ats/candidates?email=ADA@example.com")
      assert.equal(cand.id, list.data.results[1].id)
      local _, atts = api(sb, "GET", "/ats/candidates/" .. cand.id .. "/attachments")
      assert.equal("cv.pdf", atts.data.results[1].file_name)
      local _, apps = api(sb, "GET", "/ats/applications?ids=" .. cand.applications[1].id)
      assert.equal("PENDING", apps.data.results[1].outcome)
    end)

    it("moves, rejects, tags, notes and links, and the lists show it", function()
      local _, apps = api(sb, "GET", "/ats/applications?outcome=PENDING&page_size=1")
      local app = apps.data.results[1]
      local _, jobs = api(sb, "GET", "/ats/jobs?ids=" .. app.job_id .. "&include_deleted=true")
      local target = jobs.data.results[1].stages[2]
      assert.equal(200, (api(sb, "PUT", "/ats/applications/" .. app.id .. "/stage", { stage_id = target.id })))
      local _, moved = api(sb, "GET", "/ats/applications?ids=" .. app.id)
      assert.equal(target.id, moved.data.results[1].current_stage.id)
      assert.equal(1, moved.data.results[1].current_stage.index)
      local status, doc = api(sb, "PUT", "/ats/applications/" .. app.id .. "/stage", { stage_id = "NotAStage" })
      assert.equal(400, status)
      assert.equal("REMOTE.INPUT_INVALID", doc.error.code)

      local _, reasons = api(sb, "GET", "/ats/rejection-reasons")
      local reason = reasons.data.results[1]
      assert.equal(200, (api(sb, "POST", "/ats/applications/" .. app.id .. "/reject",
        { rejection_reason_id = reason.id, note = "thanks" })))
      local _, rejected = api(sb, "GET", "/ats/applications?ids=" .. app.id)
      assert.equal("DECLINED", rejected.data.results[1].outcome)
      assert.equal(reason.name, rejected.data.results[1].rejection_reason_name)

      local cid = app.candidate_id
      assert.equal(200, (api(sb, "POST", "/ats/candidates/" .. cid .. "/tags", { tag = { name = "Brand New Tag" } })))
      local _, cands = api(sb, "GET", "/ats/candidates?ids=" .. cid)
      local names = {}
      for _, t in ipairs(cands.data.results[1].tags) do names[t.name] = true end
      assert.is_true(names["Brand New Tag"])
      local _, tags = api(sb, "GET", "/ats/tags?page_size=250")
      assert.equal("Brand New Tag", tags.data.results[#tags.data.results].name)
      assert.equal(200, (api(sb, "DELETE", "/ats/candidates/" .. cid .. "/tags", { tag = { name = "Brand New Tag" } })))
      _, cands = api(sb, "GET", "/ats/candidates?ids=" .. cid)
      for _, t in ipairs(cands.data.results[1].tags) do assert.are_not.equal("Brand New Tag", t.name) end

      local before = sb:counts()
      api(sb, "POST", "/ats/applications/" .. app.id .. "/notes", { content = "hi", content_type = "PLAIN_TEXT" })
      api(sb, "POST", "/ats/applications/" .. app.id .. "/result-links",
        { label = "Test", url = "https://x.example/r" })
      api(sb, "POST", "/ats/applications/" .. app.id .. "/attachments",
        { attachment = { name = "a.txt", type = "OTHER", data = "aGk=" } })
      local after = sb:counts()
      assert.equal(before.notes + 1, after.notes)
      assert.equal(before.result_links + 1, after.result_links)
      local _, atts = api(sb, "GET", "/ats/applications/" .. app.id .. "/attachments")
      assert.equal("a.txt", atts.data.results[#atts.data.results].file_name)
    end)

    it("refuses applications to closed jobs and duplicates with ATS codes", function()
      local _, closed = api(sb, "GET", "/ats/jobs?status=CLOSED&page_size=1")
      local person = { first_name = "Al", last_name = "Bo", email_address = "al@example.com" }
      local status, doc = api(sb, "POST", "/ats/jobs/" .. closed.data.results[1].id .. "/applications",
        { candidate = person })
      assert.equal(400, status)
      assert.equal("ATS.JOB_CLOSED", doc.error.code)
      local job = open_job()
      status, doc = api(sb, "POST", "/ats/jobs/" .. job.id .. "/applications", { candidate = person })
      assert.equal(200, status)
      assert.equal(job.id, doc.data.job.id)
      assert.equal("al@example.com", doc.data.candidate.email_addresses[1].email_address)
      status, doc = api(sb, "POST", "/ats/jobs/" .. job.id .. "/applications", { candidate = person })
      assert.equal(409, status)
      assert.equal("ATS.APPLICATION_ALREADY_EXISTS", doc.error.code)
    end)

    it("imports a tracked application", function()
      local status, doc = api(sb, "POST", "/ats/import-tracked-application", {
        tracked_at = "2025-02-11T15:37:37.000Z",
        successfactors = { id_type = "application_remote_id", application_remote_id = "1224042" },
      })
      assert.equal(200, status)
      assert.equal("2025-02-11T15:37:37.000Z", doc.data.tracked_at)
      assert.equal("1224042", doc.data.imported_id.successfactors.application_remote_id)
      assert.equal(1, sb:counts().tracked_applications)
    end)
  end)

  describe("control endpoints", function()
    it("records API requests but not control traffic", function()
      sb:stats()
      sb:counts()
      exchange(sb, "GET", "/ats/tags?page_size=2", nil, "X-Trace: 7\r\n")
      local reqs = sb:requests()
      assert.equal(1, #reqs)
      assert.equal("GET", reqs[1].method)
      assert.equal("/v1/ats/tags", reqs[1].path)
      assert.equal("page_size=2", reqs[1].query)
      assert.equal("7", reqs[1].headers["x-trace"])
      assert.equal("", reqs[1].body)
      assert.is_number(reqs[1].connection)
      sb:clear_requests()
      assert.equal(0, #sb:requests())
    end)

    it("resets data, requests and faults", function()
      local before = sb:counts()
      api(sb, "POST", "/ats/import-tracked-application", { tracked_at = cjson.null,
        greenhouse = { id_type = "application_id", application_id = "1" } })
      sb:fault({ path = "/v1/ats/tags", status = 500, times = -1 })
      sb:reset()
      assert.same(before, sb:counts())
      assert.equal(0, #sb:requests())
      assert.equal(200, (api(sb, "GET", "/ats/tags")))
    end)

    it("counts connections", function()
      local s0 = sb:stats()
      exchange(sb, "GET", "/ats/tags")
      local s1 = sb:stats()
      assert.equal(s0.connections + 2, s1.connections) -- the exchange and this stats call
      assert.equal(s0.requests + 1, s1.requests)
      assert.is_true(s1.open_connections >= 1)
    end)

    it("lists the open connections by the id their requests carry", function()
      local c = connect(sb)
      assert(c:send(sandbox.request_text("GET", "/ats/tags")))
      assert.equal(200, read_response(c).status)
      local id = sb:requests()[1].connection
      local function is_open()
        for _, open in ipairs(sb:stats().open_ids) do
          if open == id then return true end
        end
        return false
      end
      assert.is_true(is_open())
      c:close()
      local open = true
      for _ = 1, 50 do
        open = is_open()
        if not open then break end
        require("socket").sleep(0.02)
      end
      assert.is_false(open)
    end)

    it("refuses malformed rules", function()
      assert.has_error(function() sb:fault({ path = "/v1/ats/tags", action = "explode" }) end)
      assert.has_error(function() sb:fault({ path = "/v1/ats/tags" }) end)
    end)
  end)
end)
