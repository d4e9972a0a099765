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

local epoch = require("support.time").epoch

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

    it("says which applications were moved without their note, and exits 1", function()
      local job = job_named("Backend Engineer")
      local from = job.stages[1]
      local before = all("/ats/applications", "outcome=PENDING&job_ids=" .. job.id .. "&current_stage_ids=" .. from.id)
      assert.is_true(#before >= 1)
      sb:fault({ method = "POST", path = "/v1/ats/applications/" .. before[1].id .. "/notes", status = 400 })
      local code, out, err = run("move_stage.lua", { job.id, from.id })
      assert.equal(1, code)
      assert.matches(before[1].id .. " (.-) moved, but no note added: ", err)
      assert.matches((#before - 1) .. " moved, 1 failed", out, 1, true)
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
      -- kombo.map's ten at a time, under the governor.
      local most = 0
      for _, w in ipairs(posts) do most = math.max(most, w.in_flight) end
      assert.is_true(most >= 1 and most <= 10, most)
    end)

    it("limits the sweep to one job with --job", function()
      local job = job_named("Backend Engineer")
      local code = run("reject_stale.lua", { "0", "Not a fit", "--job", job.id })
      assert.equal(0, code)
      assert.same({}, all("/ats/applications", "outcome=PENDING&job_ids=" .. job.id))
      assert.is_true(#all("/ats/applications", "outcome=PENDING") > 0)
    end)

    it("lists what it would reject with --dry-run and changes nothing", function()
      local before = #all("/ats/applications", "outcome=PENDING")
      local code, out = run("reject_stale.lua", { "0", "No response", "--dry-run" })
      assert.equal(0, code)
      assert.matches(before .. " would be rejected as \"No response\" (--dry-run: nothing changed)", out, 1, true)
      assert.same({}, writes())
      assert.equal(before, #all("/ats/applications", "outcome=PENDING"))
    end)

    for _, words in ipairs({ { "--dry-rn" }, { "--jbo", "x" }, { "--note" }, { "extra" } }) do
      it("refuses " .. table.concat(words, " ") .. " before anything is read or written", function()
        local argv = { "0", "No response" }
        for _, w in ipairs(words) do argv[#argv + 1] = w end
        local code, _, err = run("reject_stale.lua", argv)
        assert.equal(2, code)
        assert.matches("usage: reject_stale.lua", err, 1, true)
        assert.same({}, sb:requests())
      end)
    end

    it("runs from a checkout as the README's Examples section shows", function()
      local readme = read_file("README.md")
      local line = readme:match("One example against a fresh sandbox.-```sh\n([^\n]+)\n```")
      assert.matches("^sh tools/with%-sandbox%.sh lua5%.4 examples/reject_stale%.lua", line)
      local p = io.popen("env -u LUA -u BUILD -u LUA_PATH -u LUA_CPATH " .. line .. " 2>&1; echo \"exit $?\"")
      local out = p:read("*a")
      p:close()
      assert.matches("would be rejected as \"No response\" (--dry-run: nothing changed)\nexit 0\n", out, 1, true)
    end)

    it("lists the reasons and changes nothing for an unknown reason", function()
      local code, _, err = run("reject_stale.lua", { "30", "Bad vibes" })
      assert.equal(2, code)
      assert.matches("No response", err, 1, true)
      assert.same({}, writes())
    end)
  end)

  describe("nightly_export.lua", function()
    local function lines(path)
      local out = {}
      for line in read_file(path):gmatch("[^\n]+") do out[#out + 1] = cjson.decode(line) end
      os.remove(path)
      return out
    end

    it("exports every application and candidate, then only what changed since (within the overlap)", function()
      local state, first_path, second_path = os.tmpname(), os.tmpname(), os.tmpname()
      os.remove(state)
      local code, _, err = run("nightly_export.lua", { first_path, state })
      assert.equal(0, code, err)
      local apps = all("/ats/applications", "include_deleted=true")
      local cands = all("/ats/candidates", "include_deleted=true")
      assert.matches(#apps .. " application(s) and " .. #cands .. " candidate(s) exported", err, 1, true)
      local first = lines(first_path)
      assert.equal(#apps + #cands, #first)
      local newest, deleted = {}, 0
      for _, l in ipairs(first) do
        local t = epoch(l.item.changed_at)
        newest[l.type] = math.max(newest[l.type] or 0, t)
        assert.equal(l.item.remote_deleted_at ~= cjson.null, l.deleted)
        if l.deleted then deleted = deleted + 1 end
      end
      assert.is_true(deleted > 0)

      -- a tag on a candidate, an application deleted in the ATS
      local tags = "/ats/candidates/" .. cands[1].id .. "/tags"
      assert.equal(200, (sb:request("POST", tags, { tag = { name = "Exported" } })))
      sb:delete("applications", apps[1].id)
      code, _, err = run("nightly_export.lua", { second_path, state })
      os.remove(state)
      assert.equal(0, code, err)
      local expected = {}
      for type, list in pairs({ applications = all("/ats/applications", "include_deleted=true"),
        candidates = all("/ats/candidates", "include_deleted=true") }) do
        for _, r in ipairs(list) do
          -- the default overlap: five minutes before the first run's newest change
          if epoch(r.changed_at) > newest[type] - 300 then expected[#expected + 1] = type .. " " .. r.id end
        end
      end
      local got = {}
      for _, l in ipairs(lines(second_path)) do
        got[#got + 1] = l.type .. " " .. l.item.id
        if l.item.id == apps[1].id then assert.is_true(l.deleted) end
      end
      table.sort(expected)
      table.sort(got)
      assert.same(expected, got)
      assert.is_true(#got < #first)
      local found = {}
      for _, g in ipairs(got) do found[g] = true end
      assert.is_true(found["candidates " .. cands[1].id])
      assert.is_true(found["applications " .. apps[1].id])
    end)

    it("stops with status 1 and saves nothing when OUTPUT cannot be written (a full disk)", function()
      local state = os.tmpname()
      os.remove(state)
      local code, _, err = run("nightly_export.lua", { "/dev/full", state })
      local saved = io.open(state)
      os.remove(state)
      os.remove(state .. ".lock")
      assert.equal(1, code, err)
      assert.matches("export stopped: .*No space left on device", err)
      assert.is_nil(saved)
    end)
  end)
end)
