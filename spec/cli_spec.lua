-- The `kombo` command (bin/kombo over lua/kombo/cli.lua) against the
-- sandbox: what went over the wire (the sandbox's request log), what was
-- printed, and the exit status. Most cases call cli.main in-process; a few
-- run the real script as a child process (sb:run), as a shell user would.
local cjson = require("cjson").new()
local cli = require("kombo.cli")
local operations = require("kombo.operations")
local sandbox = require("support.sandbox")
local files = require("support.files")
local parse_csv = require("support.csv").parse

-- A stream cli.main writes to, keeping the text.
local function sink()
  local parts = {}
  return {
    write = function(self, ...)
      for i = 1, select("#", ...) do parts[#parts + 1] = tostring((select(i, ...))) end
      return self
    end,
    text = function() return table.concat(parts) end,
  }
end

local function lines(text)
  local out = {}
  for l in text:gmatch("([^\n]*)\n") do out[#out + 1] = l end
  return out
end

-- name=value pairs of a recorded query, percent-decoded.
local function query(q)
  local out = {}
  for k, v in (q or ""):gmatch("([^&=]+)=([^&]*)") do
    out[k] = v:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
  end
  return out
end

describe("the kombo command", function()
  local sb = sandbox.fixture()

  -- cli.main with the sandbox's credentials as flags; returns the exit
  -- status, stdout and stderr. opts: stdin (text), terminal, sandbox
  -- (another than the fixture's), stdout (a stream instead of a sink).
  local function run(args, opts)
    opts = opts or {}
    local server = opts.sandbox or sb
    local argv = { "--api-key", server.api_key, "--integration-id", server.integration_id, "--server-url", server.url }
    for _, a in ipairs(args) do argv[#argv + 1] = a end
    local out, err = opts.stdout or sink(), sink()
    local stdin = { read = function() return opts.stdin end }
    local code = cli.main(argv, { stdout = out, stderr = err, stdin = stdin, terminal = opts.terminal or false })
    return code, out.text and out:text(), err:text()
  end

  -- Every page of target (under /v1), fetched with LuaSocket: the ids in
  -- order and each page's next cursor.
  local function independent_walk(target)
    local ids, cursors, cursor = {}, {}, nil
    repeat
      local sep = target:find("?", 1, true) and "&" or "?"
      local _, doc = sb:request("GET", target .. (cursor and (sep .. "cursor=" .. cursor:gsub("=", "%%3D")) or ""))
      for _, r in ipairs(doc.data.results) do ids[#ids + 1] = r.id end
      cursor = doc.data.next ~= cjson.null and doc.data.next or nil
      cursors[#cursors + 1] = cursor
    until not cursor
    sb:clear_requests()
    return ids, cursors
  end

  -- Each case { argv, text }: exit 2, text on stderr, nothing printed or sent.
  local function refused(cases)
    for _, c in ipairs(cases) do
      local code, out, err = run(c[1])
      assert.equal(2, code, table.concat(c[1], " "))
      assert.equal("", out)
      assert.matches(c[2], err, 1, true)
    end
    assert.same({}, sb:requests())
  end

  describe("walks", function()
    it("every page with --all as JSON lines, sending each cursor once (bin/kombo)", function()
      local want, cursors = independent_walk("/ats/applications?page_size=50&outcome=PENDING")
      assert.is_true(#cursors > 3)

      local code, out, err = sb:run("bin/kombo", { "ats", "get-applications", "--outcome", "PENDING",
        "--page-size", "50", "--all" })
      assert.equal(0, code, err)
      -- stderr is a file here: no progress line, nothing at all.
      assert.equal("", err)
      local got = {}
      for _, l in ipairs(lines(out)) do got[#got + 1] = cjson.decode(l).id end
      assert.same(want, got)

      local reqs = sb:requests(function(r) return r.path == "/v1/ats/applications" end)
      assert.equal(#cursors + 1, #reqs)
      for i, r in ipairs(reqs) do
        local q = query(r.query)
        assert.equal("50", q.page_size)
        assert.equal("PENDING", q.outcome)
        assert.equal(i > 1 and cursors[i - 1] or nil, q.cursor)
      end
    end)

    it("shows a progress line on stderr when it is a terminal, and erases it", function()
      local want, cursors = independent_walk("/ats/tags?page_size=6")
      local code, out, err = run({ "ats", "get-tags", "--page-size", "6", "--all" }, { terminal = true })
      assert.equal(0, code, err)
      assert.equal(#want, #lines(out))
      -- A line for each page with another after it.
      for page = 1, #cursors do
        assert.matches("\rkombo: page " .. page .. ", " .. (page * 6) .. " items\27[K", err, 1, true)
      end
      assert.equal("\r\27[K", err:sub(-4))
      code, out, err = run({ "ats", "get-tags", "--page-size", "6", "--all" }, { terminal = false })
      assert.equal(#want, #lines(out))
      assert.equal(0, code)
      assert.equal("", err)
    end)

    it("finds out by itself that stderr is a terminal (bin/kombo under script(1))", function()
      local want = independent_walk("/ats/tags?page_size=6")
      local code, out, err = sb:run("bin/kombo", { "ats", "get-tags", "--page-size", "6", "--all" },
        { terminal = true })
      assert.equal(0, code, err)
      assert.equal(#want, #lines(out))
      assert.matches("kombo: page 3, 18 items", err, 1, true)
    end)

    it("prints the pages before a failed one, exits 1 and names the cursor to go on from", function()
      local _, cursors = independent_walk("/ats/tags?page_size=5")
      -- The first two pages pass (a rule that only delays answers as usual); the third fails.
      sb:fault({ path = "/v1/ats/tags", delay_ms = 0, times = 2 })
      sb:fault({ path = "/v1/ats/tags", status = 500, times = -1 })
      local code, out, err = run({ "ats", "get-tags", "--page-size", "5", "--all", "--max-time", "1" })
      assert.equal(1, code)
      assert.equal(10, #lines(out))
      assert.matches("kombo: API error in get_tags (HTTP 500", err, 1, true)
      assert.matches("--cursor " .. cursors[2], err, 1, true)
    end)

    it("names no cursor to go on from when nothing was printed (a cursor of its own refused)", function()
      local code, out, err = run({ "ats", "get-tags", "--cursor", "not-a-cursor", "--all" })
      assert.equal(1, code)
      assert.equal("", out)
      assert.matches("HTTP 400", err, 1, true)
      assert.is_nil(err:find("to go on from there", 1, true))
    end)
  end)

  describe("prints", function()
    it("a single page as the response's JSON by default", function()
      local code, out, err = run({ "ats", "get-jobs", "--page-size", "5" })
      assert.equal(0, code, err)
      assert.equal(1, #lines(out))
      local doc = cjson.decode(out)
      assert.equal("success", doc.status)
      assert.equal(5, #doc.data.results)
      local _, want = sb:request("GET", "/ats/jobs?page_size=5")
      assert.same(want.data.next, doc.data.next)
      assert.equal(want.data.results[5].id, doc.data.results[5].id)
      local reqs = sb:requests()
      assert.equal(2, #reqs)
      assert.same({ page_size = "5" }, query(reqs[1].query))
    end)

    it("a page's items as CSV: id first, nested values as JSON, null empty", function()
      local code, out, err = run({ "ats", "get-jobs", "--page-size", "4", "--output", "csv" })
      assert.equal(0, code, err)
      local rows = parse_csv(out)
      local _, want = sb:request("GET", "/ats/jobs?page_size=4")
      assert.equal(5, #rows)
      local head = rows[1]
      assert.equal("id", head[1])
      local col = {}
      for i, name in ipairs(head) do col[name] = i end
      local names = {}
      for k in pairs(want.data.results[1]) do names[#names + 1] = k end
      assert.equal(#names, #head)
      for i, job in ipairs(want.data.results) do
        local row = rows[i + 1]
        assert.equal(job.id, row[col.id])
        assert.equal(job.name, row[col.name])
        assert.equal(tostring(job.confidential), row[col.confidential])
        assert.same(job.location, cjson.decode(row[col.location]))
        assert.equal("", row[col.remote_deleted_at])
      end
    end)

    it("empty arrays as [] and empty objects as {}, as the API sent them", function()
      -- Each "field":[] and "field":{} of a text, counted.
      local function empties(text)
        local seen = {}
        for k in text:gmatch('("[%w_]+":%[%])') do seen[k] = (seen[k] or 0) + 1 end
        for k in text:gmatch('("[%w_]+":{})') do seen[k] = (seen[k] or 0) + 1 end
        return seen
      end
      local arrays = 0
      for _, name in ipairs({ "jobs", "applications", "candidates", "interviews", "offers", "users" }) do
        local _, _, raw = sb:request("GET", "/ats/" .. name .. "?page_size=20")
        local code, out = run({ "ats", "get-" .. name, "--page-size", "20" })
        assert.equal(0, code)
        assert.same(empties(raw), empties(out))
        for k, n in pairs(empties(raw)) do
          if k:find("[]", 1, true) then arrays = arrays + n end
        end
      end
      assert.is_true(arrays > 20, arrays .. " empty arrays")
      local _, out = run({ "ats", "get-jobs", "--page-size", "2", "--output", "jsonl" })
      assert.matches('"job_postings":[]', out, 1, true)
      _, out = run({ "ats", "get-jobs", "--page-size", "2", "--output", "csv" })
      local rows = parse_csv(out)
      local col
      for i, name in ipairs(rows[1]) do if name == "job_postings" then col = i end end
      assert.equal("[]", rows[2][col])
    end)

    it("every page as CSV with --all, the header once", function()
      local want = independent_walk("/ats/tags?page_size=7")
      local code, out = run({ "ats", "get-tags", "--page-size", "7", "--all", "--output", "csv" })
      assert.equal(0, code)
      local rows = parse_csv(out)
      assert.equal(#want + 1, #rows)
      assert.equal("id", rows[1][1])
      for i, id in ipairs(want) do assert.equal(id, rows[i + 1][1]) end
    end)

    it("one JSON array of every item with --all --output json", function()
      local want = independent_walk("/ats/tags?page_size=8")
      local code, out = run({ "ats", "get-tags", "--page-size", "8", "--all", "--output", "json" })
      assert.equal(0, code)
      local items = cjson.decode(out)
      assert.equal(#want, #items)
      for i, id in ipairs(want) do assert.equal(id, items[i].id) end
    end)

    it("nothing it cannot write: exit 1 with the reason, and a walk stops at the first page", function()
      local full = { write = function() return nil, "No space left on device" end }
      for _, args in ipairs({ { "general", "check-api-key" }, { "ats", "get-tags", "--page-size", "5", "--all" },
        { "ats", "--help" } }) do
        sb:clear_requests()
        local code, _, err = run(args, { stdout = full })
        assert.equal(1, code)
        assert.equal("kombo: cannot write the output: No space left on device\n", err)
        -- The first page, and the second that prefetch requested beside it
        -- (cancelled): never a third.
        assert.is_true(#sb:requests() <= 2)
      end
    end)

    it("an operation without pages: its data as a JSON line", function()
      local code, out = run({ "general", "check-api-key", "--output", "jsonl" })
      assert.equal(0, code)
      local _, want = sb:request("GET", "/check-api-key")
      assert.same(want.data, cjson.decode(out))
    end)
  end)

  describe("sends", function()
    local function an_application()
      local _, doc = sb:request("GET", "/ats/applications?page_size=1")
      sb:clear_requests()
      return doc.data.results[1].id
    end

    it("path parameters, percent-encoded, and --body from a file", function()
      local app = an_application()
      local path = files.tmp(".json")
      files.write(path, '{"content":"Strong r\\u00e9sum\\u00e9","content_type":"PLAIN_TEXT"}')
      local code, out, err = run({ "ats", "add-application-note", "--application-id", app, "--body", "@" .. path })
      os.remove(path)
      assert.equal(0, code, err)
      assert.equal("success", cjson.decode(out).status)
      local r = sb:requests()[1]
      assert.equal("POST", r.method)
      assert.equal("/v1/ats/applications/" .. app .. "/notes", r.path)
      assert.same({ content = "Strong résumé", content_type = "PLAIN_TEXT" }, cjson.decode(r.body))

      sb:clear_requests()
      code, out, err = run({ "ats", "get-application-attachments", "--application-id", "a/../b" })
      assert.equal(1, code)
      assert.equal("", out)
      assert.matches("HTTP 404", err, 1, true)
      assert.equal("/v1/ats/applications/a%2F..%2Fb/attachments", sb:requests()[1].path)
    end)

    it("--body - from standard input (bin/kombo)", function()
      local app = an_application()
      local body = '{"content":"from stdin","content_type":"PLAIN_TEXT"}'
      local code, _, err = sb:run("bin/kombo",
        { "ats", "add-application-note", "--application-id", app, "--body", "-" },
        { stdin = body })
      assert.equal(0, code, err)
      local r = sb:requests()[1]
      assert.equal("/v1/ats/applications/" .. app .. "/notes", r.path)
      assert.same(cjson.decode(body), cjson.decode(r.body))
    end)

    it("--body keeps an empty array an array where the schema does not say, and an empty object an object",
      function()
        run({ "general", "send-passthrough-request", "--tool", "t", "--api", "a", "--body",
          '{"method":"POST","path":"/x","data":{"ids":[],"map":{},"list":[[]]}}' })
        local r = sb:requests()[1]
        assert.equal("/v1/passthrough/t/a", r.path)
        assert.equal('{"data":{"ids":[],"list":[[]],"map":{}},"method":"POST","path":"/x"}', r.body)
      end)

    it("values converted per the operation's schema: numbers, booleans, lists", function()
      local code, _, err = run({ "ats", "get-applications", "--page-size", "3", "--include-deleted",
        "--job-ids", "a,b", "--job-ids=c", "--updated-after", "2020-01-01T00:00:00.000Z" })
      assert.equal(0, code, err)
      code, _, err = run({ "ats", "get-applications", "--include-deleted", "false", "--page-size=2" })
      assert.equal(0, code, err)
      local reqs = sb:requests()
      assert.equal(2, #reqs)
      assert.same({ page_size = "3", include_deleted = "true", job_ids = "a,b,c",
        updated_after = "2020-01-01T00:00:00.000Z" }, query(reqs[1].query))
      assert.same({ page_size = "2", include_deleted = "false" }, query(reqs[2].query))
    end)

    it("nothing when a value does not convert or fails the SDK's checks: exit 2", function()
      local cases = {
        { { "ats", "get-jobs", "--page-size", "ten" }, "--page-size: an integer from 1 to 250, got ten" },
        { { "ats", "get-jobs", "--page-size", "500" }, "kombo: --page-size: an integer from 1 to 250, got 500" },
        { { "ats", "move-application-to-stage", "--application-id", "a", "--stage-id", "s" },
          "stage_id is a field of the request body; give the body as JSON with --body, "
            .. "e.g. --body '{\"stage_id\": ...}'" },
        { { "ats", "get-jobs", "--include-deleted=yes" }, "--include-deleted: true or false, got yes" },
        { { "ats", "get-jobs", "--status", "OPEN", "--status", "CLOSED" }, "--status given twice" },
        { { "ats", "get-jobs", "--status" }, "--status needs a value" },
        { { "ats", "get-jobs", "--statuses", "OPEN,open" }, "statuses[2]: one of OPEN, CLOSED, DRAFT, ARCHIVED" },
        { { "ats", "get-jobs", "--output", "xml" }, "--output: one of json, jsonl, csv, got xml" },
        { { "ats", "get-tags", "--max-time", "0" }, "--max-time: seconds, a number above 0" },
        { { "general", "check-api-key", "--all" }, "--all: check-api-key is not paginated" },
        { { "ats", "create-application", "--job-id", "j", "--body", "{" }, "--body: not valid JSON" },
        { { "ats", "create-application", "--job-id", "j", "--body", "@/nonexistent/x.json" }, "--body @/nonexistent" },
        { { "ats", "create-application", "--job-id", "j", "--body", "{}" }, "body.candidate: required" },
        { { "ats", "get-jobs", "stray" }, "unexpected argument" },
      }
      refused(cases)
    end)
  end)

  describe("names", function()
    it("the closest group, operation or flag for an unknown one, exit 2, nothing sent", function()
      local cases = {
        { { "atz", "get-jobs" }, "no group atz (did you mean ats?)" },
        { { "ats", "get-job" }, "ats has no operation get-job (did you mean get-jobs?)" },
        { { "ats", "get-jobs", "--stauts", "OPEN" }, "get-jobs has no option --stauts (did you mean --status?)" },
        { { "ats", "get-jobs", "--al" }, "(did you mean --all?)" },
        { { "--outptu", "csv", "ats", "get-jobs" }, "(did you mean --output?)" },
        { { "hris", "get-employes" }, "(did you mean get-employees?)" },
        { { "ats", "--status", "OPEN", "get-jobs" }, "--status before OPERATION: put an operation's parameters after" },
        { { "ats" }, "OPERATION is missing after ats" },
      }
      refused(cases)
    end)

    it("accepts the SDK's snake_case and camelCase names too, and options before or after OPERATION", function()
      assert.equal(0, (run({ "ats", "get_tags", "--page_size", "1" })))
      assert.equal(0, (run({ "ats", "getTags", "--page-size", "1" })))
      local code, out = run({ "--output", "jsonl", "ats", "--all", "get-tags", "--page-size", "15" })
      assert.equal(0, code)
      local reqs = sb:requests()
      assert.equal(4, #reqs)
      assert.equal(#lines(out), #independent_walk("/ats/tags"))
    end)

    it("lets an operation's parameter win over the option of the same name", function()
      local code, _, err = run({ "general", "get-integration-details", "--integration-id", sb.integration_id })
      assert.equal(0, code, err)
      local r = sb:requests()[1]
      assert.equal("/v1/integrations/" .. sb.integration_id, (r.path:gsub("%%3A", ":")))
      -- The option, given before GROUP, names the call's integration.
      assert.equal(sb.integration_id, r.headers["x-integration-id"])
    end)

    it("sends --integration-id to an operation the document gives no X-Integration-Id", function()
      sb:fault({ path = "/v1/lms/users", status = 200,
        body = '{"status":"success","data":{"next":null,"results":[]}}' })
      local code, _, err = run({ "lms", "get-users" })
      assert.equal(0, code, err)
      local r = sb:requests()[1]
      assert.equal("/v1/lms/users", r.path)
      assert.equal(sb.integration_id, r.headers["x-integration-id"])
    end)
  end)

  describe("--help", function()
    it("for the tool lists every group and option; exit 0, nothing sent", function()
      local code, out = run({ "--help" })
      assert.equal(0, code)
      for _, g in ipairs(operations.groups) do
        assert.matches("\n  " .. g .. " +" .. #operations.load(g) .. " operations\n", out)
      end
      for _, o in ipairs({ "--all", "--output", "--body", "--max-time", "--api-key", "--integration-id",
        "--server-url", "--server" }) do
        assert.matches("\n  " .. o:gsub("%-", "%%-") .. "[ \n]", out)
      end
      assert.same({}, sb:requests())
    end)

    it("for every group lists its operations, and for every operation its parameters", function()
      for _, g in ipairs(operations.groups) do
        local texts = require("kombo.operations.cli." .. g)
        local code, out = run({ g, "--help" })
        assert.equal(0, code)
        for _, op in ipairs(operations.load(g)) do
          local name = op.name:gsub("_", "-")
          local summary = texts[op.name].summary
          assert.matches("\n  " .. name:gsub("%-", "%%-") .. " +" .. (summary or (op.method .. " " .. op.path))
            :gsub("%p", "%%%0") .. (op.paginated and " %(pages%)\n" or "\n"), out)
          local ocode, help = run({ g, name, "--help" })
          assert.equal(0, ocode)
          assert.matches(op.method .. " " .. op.path, help, 1, true)
          if summary then assert.matches("\n" .. summary .. ".\n", help, 1, true) end
          for _, q in ipairs(op.query) do
            assert.matches("\n  %-%-" .. q.name:gsub("_", "%%-") .. " ", help)
            local described = texts[op.name].params[q.name]
            if described then assert.matches("\n      " .. described:sub(1, 60), help, 1, true) end
          end
          for _, p in ipairs(op.path_params) do
            assert.matches("\n  %-%-" .. p:gsub("_", "%%-") .. " VALUE %*", help)
          end
          for _, field in ipairs(op.body and op.body.required or {}) do
            assert.matches("\n  " .. field .. " %*", help)
          end
          for field, described in pairs(texts[op.name].body or {}) do
            assert.matches("\n  " .. field .. "[ *]", help)
            assert.matches("\n      " .. described:sub(1, 60), help, 1, true)
          end
        end
      end
      assert.same({}, sb:requests())
    end)

    it("for an operation says what each parameter takes", function()
      local code, out = run({ "ats", "get-jobs", "--status", "OPEN", "--help" })
      assert.equal(0, code)
      assert.matches("usage: kombo ats get-jobs", out, 1, true)
      assert.matches("cursor-paginated: --all walks every page", out, 1, true)
      assert.matches("\n  %-%-page%-size N +an integer from 1 to 250\n", out)
      assert.matches("\n  %-%-status VALUE +one of OPEN, CLOSED, DRAFT, ARCHIVED\n      %(Deprecated %- Use the "
        .. "statuses filter instead%.%) Filter by the status field%.\n", out)
      assert.matches("\n  %-%-include%-deleted %[true|false%] +true or false", out)
      assert.matches("\n  %-%-job%-codes LIST +a string, repeated or comma%-separated\n", out)
      -- Every value a list takes, the column going on below itself; no prose repeating them.
      local column = #"  --include-deleted [true|false]  "
      local flag = "  --employment-types LIST"
      assert.matches("\n" .. flag .. (" "):rep(column - #flag) .. "one of FULL_TIME, PART_TIME, CONTRACT, SEASONAL,"
        .. " INTERNSHIP,\n" .. (" "):rep(column) .. "repeated or comma-separated\n  --visibilities ", out, 1, true)
      for l in out:gmatch("[^\n]+") do assert.is_true(#l <= 100, l) end
    end)
  end)

  describe("errors", function()
    local SECRET = "sk_live_cli_reflected_0123456789"
    local keyed = sandbox.fixture({ api_key = SECRET })

    it("an API error goes to stderr with exit 1, the key redacted even when the server reflects it", function()
      keyed:fault({ path = "/v1/ats/tags", status = 401, times = -1, headers = { ["X-Echo"] = SECRET },
        body = '{"status":"error","error":{"code":"PLATFORM.AUTHENTICATION_INVALID","title":"Bearer ' .. SECRET
          .. '","message":"the key ' .. SECRET .. ' is wrong","log_url":null}}' })
      local code, out, err = run({ "ats", "get-tags" }, { sandbox = keyed })
      assert.equal(1, code)
      assert.equal("", out)
      assert.matches("kombo: API error in get_tags (HTTP 401): PLATFORM.AUTHENTICATION_INVALID: the key [REDACTED]",
        err, 1, true)
      assert.is_nil(err:find(SECRET, 1, true))
      -- The key was in play: the server received it.
      assert.equal("Bearer " .. SECRET, keyed:requests()[1].headers["authorization"])
      -- The same from the script, the key in the environment.
      code, out, err = keyed:run("bin/kombo", { "ats", "get-tags" })
      assert.equal(1, code)
      assert.is_nil((out .. err):find(SECRET, 1, true))
      assert.matches("[REDACTED]", err, 1, true)
    end)

    it("without a key or an integration: exit 2, nothing sent (bin/kombo)", function()
      local code, out, err = sb:run("bin/kombo", { "ats", "get-tags" }, { api_key = "" })
      assert.equal(2, code)
      assert.equal("", out)
      assert.matches("no API key: set KOMBO_API_KEY or pass --api-key", err, 1, true)
      code, out, err = sb:run("bin/kombo", { "ats", "get-tags" }, { integration_id = "" })
      assert.equal(2, code)
      assert.equal("", out)
      assert.matches("get_tags needs an integration: set KOMBO_INTEGRATION_ID or pass --integration-id", err, 1, true)
      code, out, err = sb:run("bin/kombo", { "--integration-id", "", "ats", "get-tags" })
      assert.equal(2, code)
      assert.equal("", out)
      assert.matches("integration_id: a non-empty string", err, 1, true)
      assert.same({}, sb:requests())
      -- check-api-key needs none.
      code, out, err = sb:run("bin/kombo", { "general", "check-api-key" }, { integration_id = "" })
      assert.equal(0, code, err)
      assert.equal("success", cjson.decode(out).status)
    end)
  end)

  describe("--max-time", function()
    it("bounds a call with its retries: against 503 forever it stops on the budget, not the attempt cap", function()
      sb:fault({ path = "/v1/ats/tags", status = 503, times = -1 })
      local code, out, err = run({ "ats", "get-tags", "--max-time", "2" })
      assert.equal(1, code)
      assert.equal("", out)
      local n = #sb:requests()
      -- The waits before attempts 2 to 5 are at least 250, 375, 562 and
      -- 843 ms: within 2 s at most 4 attempts start, far under the cap of 10.
      assert.is_true(n >= 2 and n <= 4, n .. " attempts")
      assert.matches("kombo: API error in get_tags (HTTP 503, " .. n .. " attempts)", err, 1, true)
    end)

    it("is each attempt's timeout too", function()
      sb:fault({ path = "/v1/ats/tags", action = "no_headers", times = -1 })
      local code, _, err = run({ "ats", "get-tags", "--max-time", "0.5" })
      assert.equal(1, code)
      assert.equal(1, #sb:requests())
      assert.matches("kombo: timeout in get_tags", err, 1, true)
    end)
  end)

  describe("cli.args, for scripts' own command lines", function()
    local OPTIONS = { job = "JOB", note = "TEXT", ["dry-run"] = false }

    it("splits words from options, values spaced or after =, switches alone", function()
      assert.same({ "30", "No response", job = "Backend Engineer", note = "a=b", ["dry-run"] = true },
        cli.args({ "30", "--job", "Backend Engineer", "No response", "--note=a=b", "--dry_run" }, OPTIONS))
      assert.same({}, cli.args({}, OPTIONS))
    end)

    it("takes every word after -- as a word, dashes or not", function()
      assert.same({ "30", "--note", "-x", job = "J" }, cli.args({ "--job", "J", "--", "30", "--note", "-x" }, OPTIONS))
    end)

    it("says what it takes when argv or options is not a table", function()
      for _, bad in ipairs({ { nil, OPTIONS }, { { "x" }, nil }, { "30", OPTIONS } }) do
        local args, problem = cli.args(bad[1], bad[2])
        assert.is_nil(args)
        assert.matches("two tables", problem, 1, true)
      end
    end)

    it("says what is wrong with a word or an option's declaration, naming it", function()
      local cases = {
        { { 30, "--job", "x" }, OPTIONS, "argv[1] is a number: the words are strings, as in arg" },
        { { "a", "--job", true }, OPTIONS, "argv[3] is a boolean" },
        { { "--job" }, { job = true }, 'options["job"] is a boolean: false for a switch, or the word' },
        { {}, { [{}] = "X" }, "option names are non-empty strings, got a table" },
        { {}, { "JOB" }, "option names are non-empty strings, got a number" },
        { {}, { dry_run = false, ["dry-run"] = false }, "are both --dry-run: declare it once" },
      }
      for _, c in ipairs(cases) do
        local ok, args, problem = pcall(cli.args, c[1], c[2])
        assert.is_true(ok, tostring(args))
        assert.is_nil(args)
        assert.equal("kombo.cli.args(argv, options): ", problem:sub(1, 31))
        assert.matches(c[3], problem, 1, true)
      end
    end)

    it("takes an option declared in snake_case as its kebab-case flag, under the declared name", function()
      local declared = { dry_run = false, page_size = "N" }
      assert.same({ "x", dry_run = true, page_size = "5" }, cli.args({ "--dry-run", "x", "--page_size=5" }, declared))
      local args, problem = cli.args({ "--dry-rn" }, declared)
      assert.is_nil(args)
      assert.equal("no option --dry-rn (did you mean --dry-run?)", problem)
    end)

    it("refuses an unknown, repeated or valueless option, naming it", function()
      local cases = {
        { { "--jbo", "x" }, "no option --jbo (did you mean --job?)" },
        { { "--job" }, "--job needs a value: JOB" },
        { { "--job", "a", "--job=b" }, "--job given twice" },
        { { "--dry-run=yes" }, "--dry-run takes no value" },
      }
      for _, c in ipairs(cases) do
        local args, problem = cli.args(c[1], OPTIONS)
        assert.is_nil(args)
        assert.equal(c[2], problem)
      end
    end)

    it("reads examples/create_application.lua's command line", function()
      local code, out, err = sb:run("examples/create_application.lua", { "Backend Engineer",
        "examples/files/ada_lovelace_cv.pdf", "Ada", "Lovelace", "ada@example.com", "--phnoe", "1" })
      assert.equal(2, code)
      assert.equal("", out)
      assert.matches("no option --phnoe (did you mean --phone?)", err, 1, true)
      assert.same({}, sb:requests())
    end)
  end)

  describe("the README's examples", function()
    -- The words of a shell line: quotes kept together, a comment dropped.
    local function words(line)
      local out, i = {}, 1
      while i <= #line do
        local c = line:sub(i, i)
        if c:match("%s") then
          i = i + 1
        elseif c == "#" then
          break
        else
          local w = {}
          while i <= #line and not line:sub(i, i):match("%s") do
            local q = line:sub(i, i)
            if q == "'" or q == '"' then
              local e = assert(line:find(q, i + 1, true), "unterminated quote: " .. line)
              w[#w + 1] = line:sub(i + 1, e - 1)
              i = e + 1
            else
              w[#w + 1] = q
              i = i + 1
            end
          end
          out[#out + 1] = table.concat(w)
        end
      end
      return out
    end

    it("run as written (`echo JSON |` as standard input)", function()
      local section = files.read("README.md"):match("\n## Command line[^\n]*\n(.-)\n## ")
      assert.is_string(section)
      local ran = 0
      for block in section:gmatch("```sh\n(.-)```") do
        for line in block:gmatch("[^\n]+") do
          local w = words(line)
          local stdin
          if w[1] == "echo" and w[3] == "|" then
            stdin = w[2]
            for _ = 1, 3 do table.remove(w, 1) end
          end
          if w[1] == "kombo" then
            table.remove(w, 1)
            local code, out, err = run(w, { stdin = stdin })
            assert.equal(0, code, line .. "\n" .. err)
            assert.is_true(#out > 0, line)
            ran = ran + 1
          end
        end
      end
      assert.is_true(ran >= 5, ran .. " examples")
    end)
  end)
end)
