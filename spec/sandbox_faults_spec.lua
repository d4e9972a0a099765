-- The sandbox's fault injection and connection handling, seen on the wire
-- with raw LuaSocket: which requests a rule hits, what every action sends,
-- keep-alive, pipelining, partial reads and answers that never serialize.
local socket = require("socket")
local cjson = require("cjson").new()
local sandbox = require("support.sandbox")

local connect, read_response, request_text = sandbox.connect, sandbox.read_response, sandbox.request_text

local exchange = sandbox.exchange

local function statuses(sb, n, target)
  local out = {}
  for i = 1, n do out[i] = exchange(sb, "GET", target or "/ats/tags").status end
  return out
end

local function an_application(sb)
  local res = exchange(sb, "GET", "/ats/applications?page_size=1")
  return cjson.decode(res.body).data.results[1]
end

local function open_job_id(sb)
  local res = exchange(sb, "GET", "/ats/jobs?status=OPEN&page_size=1")
  return cjson.decode(res.body).data.results[1].id
end

describe("kombo-sandbox faults", function()
  local sb = sandbox.fixture()

  describe("which requests a rule hits", function()
    it("hits once by default, `times` often, or forever with -1", function()
      sb:fault({ path = "/v1/ats/tags", status = 503 })
      assert.same({ 503, 200, 200 }, statuses(sb, 3))
      sb:fault({ path = "/v1/ats/tags", status = 500, times = 2 })
      assert.same({ 500, 500, 200 }, statuses(sb, 3))
      sb:fault({ path = "/v1/ats/tags", status = 502, times = -1 })
      assert.same({ 502, 502, 502, 502 }, statuses(sb, 4))
      sb:clear_faults()
      assert.same({ 200 }, statuses(sb, 1))
    end)

    it("matches method, exact path and path prefix", function()
      sb:fault({ method = "POST", path = "/v1/ats/tags", status = 500, times = -1 })
      sb:fault({ path_prefix = "/v1/ats/job", status = 503, times = -1 })
      assert.same({ 200 }, statuses(sb, 1, "/ats/tags"))
      assert.same({ 503 }, statuses(sb, 1, "/ats/jobs"))
      assert.same({ 200 }, statuses(sb, 1, "/ats/users"))
    end)

    it("hits only the first request of each distinct query with once_per_query", function()
      sb:fault({ path = "/v1/ats/tags", once_per_query = true, status = 503 })
      assert.same({ 503, 200 }, statuses(sb, 2, "/ats/tags?page_size=1"))
      assert.same({ 503, 200 }, statuses(sb, 2, "/ats/tags?page_size=2"))
      assert.same({ 200 }, statuses(sb, 1, "/ats/tags?page_size=1"))
    end)

    it("hits every k-th request with `every`", function()
      sb:fault({ path = "/v1/ats/tags", every = 3, status = 500 })
      assert.same({ 200, 200, 500, 200, 200, 500 }, statuses(sb, 6))
    end)

    it("hits with a seeded, repeatable probability", function()
      local rule = { path = "/v1/ats/tags", probability = 0.5, seed = 42, status = 503 }
      sb:fault(rule)
      local first = statuses(sb, 20)
      sb:reset()
      sb:fault(rule)
      assert.same(first, statuses(sb, 20))
      local hits = 0
      for _, s in ipairs(first) do if s == 503 then hits = hits + 1 end end
      assert.is_true(hits > 3 and hits < 17, "hits " .. hits)
    end)

    it("records which fault answered a request", function()
      sb:fault({ path = "/v1/ats/tags", status = 429 })
      statuses(sb, 2)
      local reqs = sb:requests()
      assert.equal("429", reqs[1].fault)
      assert.is_nil(reqs[2].fault)
    end)
  end)

  describe("what a hit sends", function()
    it("a status with extra headers and the matching Kombo envelope, or a given body", function()
      sb:fault({ path = "/v1/ats/tags", status = 429, headers = { ["Retry-After"] = "3" } })
      local res = exchange(sb, "GET", "/ats/tags")
      assert.equal(429, res.status)
      assert.equal("3", res.headers["retry-after"])
      assert.equal("PLATFORM.RATE_LIMIT_EXCEEDED", cjson.decode(res.body).error.code)
      sb:fault({ path = "/v1/ats/tags", status = 503, body = "down" })
      res = exchange(sb, "GET", "/ats/tags")
      assert.equal(503, res.status)
      assert.equal("down", res.body)
    end)

    it("headers alone: the real answer with them added", function()
      local date = "Sun, 06 Nov 1994 08:49:37 GMT"
      sb:fault({ path = "/v1/ats/tags", headers = { Date = date } })
      local res = exchange(sb, "GET", "/ats/tags")
      assert.equal(200, res.status)
      assert.equal(date, res.headers["date"])
      assert.is_table(cjson.decode(res.body).data.results)
      assert.equal("headers", sb:requests()[1].fault)
      assert.is_nil(exchange(sb, "GET", "/ats/tags").headers["date"])
    end)

    it("a delay without blocking the answer", function()
      sb:fault({ path = "/v1/ats/tags", delay_ms = 300 })
      local t0 = socket.gettime()
      local res = exchange(sb, "GET", "/ats/tags")
      assert.equal(200, res.status)
      assert.is_true(socket.gettime() - t0 >= 0.29)
    end)

    it("reset_before_response: the connection ends with nothing sent", function()
      sb:fault({ path = "/v1/ats/tags", action = "reset_before_response" })
      local res, err = exchange(sb, "GET", "/ats/tags")
      assert.is_nil(res)
      assert.is_truthy(err == "closed" or err:match("reset"), err)
    end)

    it("drop_mid_body and short_body: fewer bytes than Content-Length, then close", function()
      for _, action in ipairs({ "drop_mid_body", "short_body" }) do
        sb:fault({ path = "/v1/ats/tags", action = action })
        local res = exchange(sb, "GET", "/ats/tags")
        assert.equal(200, res.status)
        assert.equal("closed", res.err)
        assert.is_true(#res.body < tonumber(res.headers["content-length"]))
      end
    end)

    it("truncated_json, non_json, html_502, empty_200, json_not_object, invalid_utf8", function()
      local function hit(action)
        sb:fault({ path = "/v1/ats/tags", action = action })
        return exchange(sb, "GET", "/ats/tags")
      end
      local whole = exchange(sb, "GET", "/ats/tags").body
      local res = hit("truncated_json")
      assert.equal(200, res.status)
      assert.equal(#res.body, tonumber(res.headers["content-length"]))
      assert.equal(whole:sub(1, #res.body), res.body)
      assert.is_false(pcall(cjson.decode, res.body))
      res = hit("non_json")
      assert.equal(200, res.status)
      assert.matches("text/html", res.headers["content-type"])
      res = hit("html_502")
      assert.equal(502, res.status)
      assert.matches("<html>", res.body)
      res = hit("empty_200")
      assert.equal(200, res.status)
      assert.equal("", res.body)
      res = hit("json_not_object")
      assert.equal("[1,2]", res.body)
      res = hit("invalid_utf8")
      assert.matches("\255", res.body, 1, true)
    end)

    it("huge_body: exactly size_bytes of valid JSON, streamed", function()
      sb:fault({ path = "/v1/ats/tags", action = "huge_body", size_bytes = 3000001 })
      local res = exchange(sb, "GET", "/ats/tags")
      assert.equal(3000001, #res.body)
      local doc = cjson.decode(res.body)
      assert.equal("success", doc.status)
      assert.is_true(#doc.data.results > 10000)
    end)

    it("no_headers: silence until the client gives up", function()
      sb:fault({ path = "/v1/ats/tags", action = "no_headers" })
      local c = connect(sb, 0.3)
      c:send(request_text("GET", "/ats/tags"))
      local line, err = c:receive("*l")
      c:close()
      assert.is_nil(line)
      assert.equal("timeout", err)
    end)

    it("trickle: the body arrives a few bytes at a time", function()
      sb:fault({ path = "/v1/ats/tags", action = "trickle", interval_ms = 20, chunk_bytes = 200 })
      local t0 = socket.gettime()
      local res = exchange(sb, "GET", "/ats/tags?page_size=5")
      local took = socket.gettime() - t0
      local n = math.ceil(tonumber(res.headers["content-length"]) / 200)
      assert.equal("success", cjson.decode(res.body).status)
      -- libuv's timers count whole milliseconds of a cached clock: each
      -- 20 ms interval may end up to 1 ms early.
      assert.is_true(took >= (n - 1) * 0.019, "took " .. took)
    end)

    it("redirect: a 302 to the given location", function()
      sb:fault({ path = "/v1/ats/tags", action = "redirect", location = "http://127.0.0.1:1/elsewhere" })
      local res = exchange(sb, "GET", "/ats/tags")
      assert.equal(302, res.status)
      assert.equal("http://127.0.0.1:1/elsewhere", res.headers["location"])
    end)
  end)

  describe("writes under faults", function()
    local function create(sb_, email)
      return exchange(sb_, "POST", "/ats/candidates", cjson.encode({
        candidate = { first_name = "Eve", last_name = "Lost", email_address = email },
        application = { job_id = open_job_id(sb_) },
      }))
    end

    it("a fault before the handler leaves the data untouched", function()
      local before = sb:counts()
      sb:fault({ method = "POST", path = "/v1/ats/candidates", status = 503 })
      assert.equal(503, create(sb, "eve1@example.com").status)
      assert.same(before, sb:counts())
    end)

    it("after_handler stores the record and then loses the answer", function()
      local before = sb:counts()
      sb:fault({ method = "POST", path = "/v1/ats/candidates", action = "reset_before_response", after_handler = true })
      local res = create(sb, "eve2@example.com")
      assert.is_nil(res)
      local after = sb:counts()
      assert.equal(before.candidates + 1, after.candidates)
      local list = cjson.decode(exchange(sb, "GET", "/ats/candidates?email=eve2@example.com").body)
      assert.equal(1, #list.data.results)
    end)

    it("after_handler with a status answers it after storing", function()
      local app = an_application(sb)
      sb:fault({ method = "POST", path_prefix = "/v1/ats/applications/", status = 500, after_handler = true })
      local res = exchange(sb, "POST", "/ats/applications/" .. app.id .. "/notes",
        cjson.encode({ content = "n", content_type = "PLAIN_TEXT" }))
      assert.equal(500, res.status)
      assert.equal(1, sb:counts().notes)
    end)
  end)

  describe("connections", function()
    it("keeps a connection alive: two requests, one connection id", function()
      local c = connect(sb)
      c:send(request_text("GET", "/ats/tags?page_size=1"))
      assert.equal(200, read_response(c).status)
      c:send(request_text("GET", "/ats/users?page_size=1"))
      local res = read_response(c)
      c:close()
      assert.equal("keep-alive", res.headers["connection"])
      local reqs = sb:requests()
      assert.equal(2, #reqs)
      assert.equal(reqs[1].connection, reqs[2].connection)
    end)

    it("answers pipelined requests in order, also behind a delayed one", function()
      sb:fault({ path = "/v1/ats/tags", delay_ms = 150 })
      local c = connect(sb)
      c:send(request_text("GET", "/ats/tags?page_size=1") .. request_text("GET", "/ats/users?page_size=2"))
      local a, b = read_response(c), read_response(c)
      c:close()
      assert.equal(1, #cjson.decode(a.body).data.results)
      assert.equal(2, #cjson.decode(b.body).data.results)
      assert.matches("@", cjson.decode(b.body).data.results[1].email)
    end)

    it("answers a thousand pipelined requests sent in one go", function()
      local c = connect(sb)
      local one = request_text("GET", "/ats/tags?page_size=1")
      c:send(one:rep(1000))
      for _ = 1, 1000 do
        local res = assert(read_response(c))
        assert.equal(200, res.status)
      end
      c:close()
      assert.equal(1000, #sb:requests())
    end)

    it("parses requests that arrive a few bytes at a time", function()
      local app = an_application(sb)
      local text = request_text("POST", "/ats/applications/" .. app.id .. "/notes",
        cjson.encode({ content = "slow", content_type = "PLAIN_TEXT" }))
      local c = connect(sb)
      for i = 1, #text, 7 do
        c:send(text:sub(i, i + 6))
        if i % 35 == 1 then socket.sleep(0.005) end
      end
      local res = read_response(c)
      c:close()
      assert.equal(200, res.status)
      assert.equal(1, sb:counts().notes)
      assert.equal(cjson.encode({ content = "slow", content_type = "PLAIN_TEXT" }), sb:requests()[2].body)
    end)

    it("honours Connection: close", function()
      local c = connect(sb)
      c:send(request_text("GET", "/ats/tags", nil, "Connection: close\r\n"))
      local res = read_response(c)
      assert.equal("close", res.headers["connection"])
      local _, err = c:receive(1)
      c:close()
      assert.equal("closed", err)
    end)

    it("accepts chunked bodies and answers Expect: 100-continue", function()
      local app = an_application(sb)
      local body = cjson.encode({ content = "chunked", content_type = "PLAIN_TEXT" })
      local c = connect(sb)
      c:send(("POST /v1/ats/applications/%s/notes HTTP/1.1\r\nHost: x\r\n"):format(app.id)
        .. "Authorization: Bearer sandbox-api-key\r\nX-Integration-Id: i\r\nTransfer-Encoding: chunked\r\n"
        .. "Expect: 100-continue\r\n\r\n")
      assert.equal("HTTP/1.1 100 Continue", c:receive("*l"))
      assert.equal("", c:receive("*l"))
      c:send(("%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n"):format(10, body:sub(1, 10), #body - 10, body:sub(11)))
      local res = read_response(c)
      c:close()
      assert.equal(200, res.status)
      assert.equal(body, sb:requests()[2].body)
    end)

    it("serves delayed answers on two connections at once", function()
      sb:fault({ path = "/v1/ats/tags", delay_ms = 500, times = 2 })
      local a, b = connect(sb), connect(sb)
      local t0 = socket.gettime()
      a:send(request_text("GET", "/ats/tags"))
      b:send(request_text("GET", "/ats/tags"))
      -- A third connection is answered while both still wait.
      local quick = exchange(sb, "GET", "/ats/users?page_size=1")
      assert.equal(200, quick.status)
      assert.same({}, (socket.select({ a, b }, nil, 0)))
      local pending, done = { a, b }, 0
      while done < 2 do
        local readable = socket.select(pending, nil, 2)
        assert.is_true(#readable > 0)
        for _, c in ipairs(readable) do
          assert.equal(200, read_response(c).status)
          done = done + 1
          for i, p in ipairs(pending) do
            if p == c then table.remove(pending, i) end
          end
        end
      end
      local took = socket.gettime() - t0
      a:close()
      b:close()
      assert.is_true(took >= 0.49, "took " .. took)
      -- both were waiting at once: received before either was answered
      local reqs = sb:requests()
      assert.is_true(reqs[2].at_ms < reqs[1].done_ms, "the delayed answers did not overlap")
    end)

    it("keeps serving other clients while one is never answered", function()
      sb:fault({ path = "/v1/ats/tags", action = "no_headers" })
      local stuck = connect(sb)
      stuck:send(request_text("GET", "/ats/tags"))
      assert.equal(200, exchange(sb, "GET", "/ats/tags").status)
      stuck:close()
    end)
  end)
end)
