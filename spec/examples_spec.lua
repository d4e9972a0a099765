-- Runs every script in examples/ as a user would (a child interpreter with
-- KOMBO_API_KEY, KOMBO_INTEGRATION_ID and KOMBO_SERVER_URL set) against a
-- sandbox, and checks its effect in the sandbox's data and request log.
--
-- The interpreter is $KOMBO_LUA (default lua5.4); kombo.core comes from
-- $KOMBO_BUILD, default build/<version> as the Makefile names it.

local cjson = require("cjson").new()
local sandbox = require("support.sandbox")

local CV_PATH = "examples/files/ada_lovelace_cv.pdf"

local read_file = require("support.files").read

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function unbase64(s)
  local out, bits, n = {}, 0, 0
  for ch in s:gmatch("[^=]") do
    bits = bits * 64 + (B64:find(ch, 1, true) - 1)
    n = n + 6
    if n >= 8 then
      n = n - 8
      local byte = math.floor(bits / 2 ^ n)
      out[#out + 1] = string.char(byte)
      bits = bits - byte * 2 ^ n
    end
  end
  return table.concat(out)
end

-- Seconds since the epoch of an ISO 8601 UTC timestamp.
local function epoch(iso)
  local y, m, d, h, mi, s = iso:match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)")
  y, m, d = tonumber(y), tonumber(m), tonumber(d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local doy = math.floor((153 * ((m + 9) % 12) + 2) / 5) + d - 1
  local days = era * 146097 + yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy - 719468
  return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(s)
end

local parse_csv = require("support.csv").parse

describe("examples", function()
  local sb = sandbox.fixture()

  -- Runs examples/<script> with args; returns exit code, stdout, stderr.
  local function run(script, args)
    return sb:run("examples/" .. script, args)
  end

  local function api_get(target)
    local status, doc, raw = sb:request("GET", target)
    assert(status == 200, raw)
    return doc.data
  end

  -- Every record of a list endpoint, following cursors.
  local function all(path, query)
    local out, cursor = {}, nil
    repeat
      local data = api_get(path .. "?page_size=250" .. (query and ("&" .. query) or "")
        .. (cursor and ("&cursor=" .. cursor) or ""))
      for _, r in ipairs(data.results) do out[#out + 1] = r end
      cursor = data.next ~= cjson.null and data.next or nil
    until not cursor
    return out
  end

  local function writes()
    return sb:requests(function(r) return r.method ~= "GET" end)
  end

  local function job_named(name)
    for _, j in ipairs(all("/ats/jobs")) do
      if j.name == name then return j end
    end
    error("no job " .. name)
  end

  describe("list_open_jobs.lua", function()
    it("prints every open job", function()
      local code, out = run("list_open_jobs.lua")
      assert.equal(0, code)
      local open = all("/ats/jobs", "status=OPEN")
      assert.matches("\n" .. #open .. " open jobs\n$", out)
      for _, j in ipairs(open) do assert.matches(j.id, out, 1, true) end
    end)
  end)

  describe("move_stage.lua", function()
    it("moves the job's pending applications in a stage to the next stage, with a note each", function()
      local job = job_named("Backend Engineer")
      local from, to = job.stages[2], job.stages[3]
      local before = all("/ats/applications", "outcome=PENDING&job_ids=" .. job.id .. "&current_stage_ids=" .. from.id)
      assert.is_true(#before >= 1)
      sb:clear_requests()
      local code, out, err = run("move_stage.lua",
        { "Backend Engineer", from.name:upper(), "--note", "Weiter geht's ✓" })
      assert.equal(0, code, err)
      assert.matches(#before .. " moved, 0 failed", out, 1, true)
      local puts, notes = {}, {}
      for _, w in ipairs(writes()) do
        local app_id = w.path:match("^/v1/ats/applications/([^/]+)/")
        if w.method == "PUT" then
          puts[app_id] = w.body
        else
          assert.equal("/v1/ats/applications/" .. app_id .. "/notes", w.path)
          notes[app_id] = cjson.decode(w.body)
        end
      end
      for _, app in ipairs(before) do
        local now = api_get("/ats/applications?ids=" .. app.id).results[1]
        assert.equal(to.id, now.current_stage.id)
        assert.equal('{"stage_id":"' .. to.id .. '"}', puts[app.id])
        assert.same({ content = "Weiter geht's ✓", content_type = "PLAIN_TEXT" }, notes[app.id])
      end
      assert.equal(2 * #before, #writes())
      assert.same({}, all("/ats/applications", "outcome=PENDING&job_ids=" .. job.id .. "&current_stage_ids="
        .. from.id))
    end)

    it("writes a default note naming both stages when given a job id", function()
      local job = job_named("Backend Engineer")
      local code = run("move_stage.lua", { job.id, job.stages[1].id })
      assert.equal(0, code)
      local seen = 0
      for _, w in ipairs(writes()) do
        if w.method == "POST" then
          seen = seen + 1
          assert.equal(("Moved from %s to %s by move_stage.lua."):format(job.stages[1].name, job.stages[2].name),
            cjson.decode(w.body).content)
        end
      end
      assert.is_true(seen >= 1)
    end)

    it("changes nothing with --dry-run, for the last stage, or for an unknown stage", function()
      local job = job_named("Backend Engineer")
      local code, out = run("move_stage.lua", { job.id, job.stages[2].name, "--dry-run" })
      assert.equal(0, code)
      assert.matches("would move", out, 1, true)
      local _, err
      code, _, err = run("move_stage.lua", { job.id, job.stages[#job.stages].name })
      assert.equal(2, code)
      assert.matches("last stage", err, 1, true)
      code, _, err = run("move_stage.lua", { job.id, "Astrology" })
      assert.equal(2, code)
      assert.matches(job.stages[1].name, err, 1, true)
      assert.same({}, writes())
    end)
  end)

  describe("create_application.lua", function()
    it("creates the application with the CV from disk", function()
      local job = job_named("Backend Engineer")
      sb:clear_requests()
      local code, out, err = run("create_application.lua", { "Backend Engineer", CV_PATH, "Ada", "Lovelace",
        "ada.lovelace@example.com", "--phone", "+44 20 7946 0000" })
      assert.equal(0, code, err)
      local app_id = assert(out:match("created application (%w+)"))
      local w = writes()
      assert.equal(1, #w)
      assert.equal("/v1/ats/jobs/" .. job.id .. "/applications", w[1].path)
      local body = cjson.decode(w[1].body)
      assert.equal("ada.lovelace@example.com", body.candidate.email_address)
      assert.equal("+44 20 7946 0000", body.candidate.phone_number)
      assert.equal("ada_lovelace_cv.pdf", body.attachments[1].name)
      assert.equal("application/pdf", body.attachments[1].content_type)
      assert.equal("CV", body.attachments[1].type)
      assert.equal(read_file(CV_PATH), unbase64(body.attachments[1].data))
      local app = api_get("/ats/applications?ids=" .. app_id).results[1]
      assert.equal(job.id, app.job_id)
      assert.equal("Ada", app.candidate.first_name)
      assert.equal(job.stages[1].id, app.current_stage.id)
      local atts = api_get("/ats/applications/" .. app_id .. "/attachments").results
      assert.equal(1, #atts)
      assert.equal("ada_lovelace_cv.pdf", atts[1].file_name)
    end)

    it("exits 1 with Kombo's error when the candidate already applied", function()
      local args = { "Backend Engineer", CV_PATH, "Ada", "Lovelace", "ada@example.com" }
      assert.equal(0, (run("create_application.lua", args)))
      local code, _, err = run("create_application.lua", args)
      assert.equal(1, code)
      assert.matches("ATS.APPLICATION_ALREADY_EXISTS", err, 1, true)
    end)

    it("exits 2 for a missing CV file before sending anything", function()
      local code, _, err = run("create_application.lua", { "Backend Engineer", "examples/files/nope.pdf", "A", "B",
        "a@example.com" })
      assert.equal(2, code)
      assert.matches("nope.pdf", err, 1, true)
      assert.same({}, sb:requests())
    end)
  end)

  describe("reject_stale.lua", function()
    it("rejects exactly the pending applications older than N days", function()
      local pending = all("/ats/applications", "outcome=PENDING")
      local times = {}
      for i, a in ipairs(pending) do times[i] = epoch(a.remote_created_at) end
      table.sort(times)
      local t0 = os.time()
      local days = math.floor((t0 - times[math.floor(#times / 2)]) / 86400)
      sb:clear_requests()
      local code, out, err = run("reject_stale.lua", { tostring(days), "no response", "--note", "Closing stale file" })
      local t1 = os.time()
      assert.equal(0, code, err)
      local reason
      for _, r in ipairs(all("/ats/rejection-reasons")) do
        if r.name == "No response" then reason = r end
      end
      local declined, kept = 0, 0
      local by_id = {}
      for _, a in ipairs(all("/ats/applications", "ids=" .. (function()
        local ids = {}
        for i, a in ipairs(pending) do ids[i] = a.id end
        return table.concat(ids, ",")
      end)())) do by_id[a.id] = a end
      for _, a in ipairs(pending) do
        local created, now = epoch(a.remote_created_at), by_id[a.id]
        if created < t0 - days * 86400 then
          assert.equal("DECLINED", now.outcome)
          assert.equal("No response", now.rejection_reason_name)
          declined = declined + 1
        elseif created > t1 - days * 86400 then
          assert.equal("PENDING", now.outcome)
          kept = kept + 1
        end
      end
      assert.is_true(declined > 0 and kept > 0)
      local posts = writes()
      assert.is_true(#posts >= declined and #posts <= #pending - kept)
      for _, w in ipairs(posts) do
        assert.matches("^/v1/ats/applications/[^/]+/reject$", w.path)
        assert.same({ rejection_reason_id = reason.id, note = "Closing stale file" }, cjson.decode(w.body))
      end
      assert.matches(#posts .. " rejected, 0 failed", out, 1, true)
    end)

    it("limits the sweep to one job with --job", function()
      local job = job_named("Backend Engineer")
      local code = run("reject_stale.lua", { "0", "Not a fit", "--job", job.id })
      assert.equal(0, code)
      assert.same({}, all("/ats/applications", "outcome=PENDING&job_ids=" .. job.id))
      assert.is_true(#all("/ats/applications", "outcome=PENDING") > 0)
    end)

    it("lists the reasons and changes nothing for an unknown reason", function()
      local code, _, err = run("reject_stale.lua", { "30", "Bad vibes" })
      assert.equal(2, code)
      assert.matches("No response", err, 1, true)
      assert.same({}, writes())
    end)
  end)

  describe("export_candidates.lua", function()
    local HEADER = { "id", "first_name", "last_name", "email", "phone", "source", "tags", "applications",
      "created_at" }

    it("writes a header and one correctly quoted row per candidate", function()
      local job = job_named("Backend Engineer")
      local status, doc = sb:request("POST", "/ats/candidates", { candidate = {
        first_name = 'Jean-Luc, "JL"', last_name = "Picard\nEnterprise", email_address = "jl@example.com" },
        application = { job_id = job.id } })
      assert.equal(200, status)
      local id = doc.data.id
      local tags_path = "/ats/candidates/" .. id .. "/tags"
      assert.equal(200, (sb:request("POST", tags_path, { tag = { name = "Captain, Starfleet" } })))
      assert.equal(200, (sb:request("POST", tags_path, { tag = { name = "Senior" } })))

      local code, out, err = run("export_candidates.lua")
      assert.equal(0, code, err)
      local rows = parse_csv(out)
      assert.same(HEADER, rows[1])
      local candidates = all("/ats/candidates")
      assert.equal(#candidates + 1, #rows)
      assert.matches(#candidates .. " candidate", err, 1, true)
      local by_id = {}
      for i = 2, #rows do
        assert.equal(#HEADER, #rows[i])
        by_id[rows[i][1]] = rows[i]
      end
      for _, c in ipairs(candidates) do
        local row = assert(by_id[c.id], "no row for " .. c.id)
        local tags = {}
        for i, t in ipairs(c.tags) do tags[i] = t.name end
        assert.equal(c.first_name, row[2])
        assert.equal(c.email_addresses[1].email_address, row[4])
        assert.equal(table.concat(tags, "; "), row[7])
        assert.equal(tostring(#c.applications), row[8])
      end
      local row = by_id[id]
      row[9] = nil -- created_at: the sandbox's clock
      assert.same({ id, 'Jean-Luc, "JL"', "Picard\nEnterprise", "jl@example.com", "", "",
        "Captain, Starfleet; Senior", "1" }, row)
      -- The raw bytes, not only what a parser makes of them.
      assert.matches('\r\n' .. id .. ',"Jean%-Luc, ""JL""","Picard\nEnterprise",jl@example%.com,,,'
        .. '"Captain, Starfleet; Senior",1,', out)
    end)

    it("writes the same CSV to --output, filtered by --job and --tag", function()
      local job = job_named("Backend Engineer")
      local path = os.tmpname()
      local code, out = run("export_candidates.lua", { "--output", path, "--job", job.name, "--tag", "Senior" })
      assert.equal(0, code)
      assert.equal("", out)
      local rows = parse_csv(read_file(path))
      os.remove(path)
      assert.same(HEADER, rows[1])
      local expected = {}
      for _, c in ipairs(all("/ats/candidates", "job_ids=" .. job.id)) do
        for _, t in ipairs(c.tags) do
          if t.name == "Senior" then expected[#expected + 1] = c.id end
        end
      end
      assert.is_true(#expected >= 1)
      local got = {}
      for i = 2, #rows do got[#got + 1] = rows[i][1] end
      assert.same(expected, got)
    end)
  end)
end)
