-- One HTTP exchange end to end against the sandbox: the headers that go
-- out, one kept-alive connection, classified failures, no leaked key.
local kombo = require("kombo")
local sandbox = require("support.sandbox")

describe("transport", function()
  local sb, client, logs

  setup(function()
    sb = sandbox.start()
  end)
  teardown(function()
    if client then client:close() end
    sb:stop()
  end)
  before_each(function()
    sb:clear_requests()
    sb:clear_faults()
    logs = {}
    if client then client:close() end
    client = sb:client({
      retries = { strategy = "none" },
      logger = function(level, message, fields) logs[#logs + 1] = { level, message, fields } end,
    })
  end)

  it("sends auth, integration, accept, user agent and gzip headers", function()
    local tags = assert(client.ats:get_tags({ page_size = 5 }))
    assert.equal("success", tags.status)
    assert.equal(5, #tags.data.results)
    local r = sb:requests()
    assert.equal(1, #r)
    local h = r[1].headers
    assert.equal("GET", r[1].method)
    assert.equal("/v1/ats/tags", r[1].path)
    assert.equal("page_size=5", r[1].query)
    assert.equal("Bearer " .. sb.api_key, h["authorization"])
    assert.equal(sb.integration_id, h["x-integration-id"])
    assert.equal("application/json", h["accept"])
    assert.matches("gzip", h["accept-encoding"])
    assert.matches("^kombo%-lua/%d+%.%d+%.%d+ %(Lua 5%.%d; libcurl/", h["user-agent"])
    assert.is_nil(h["content-type"]) -- no body, no content type
  end)

  it("sends a User-Agent or Accept-Encoding given in headers instead of its own, once", function()
    local own = sb:client({ retries = { strategy = "none" },
      headers = { ["user-agent"] = "recruiting-bot/2", ["Accept-Encoding"] = "identity" } })
    assert(own.ats:get_tags({ page_size = 1 }))
    assert(own.ats:get_tags({ page_size = 1 }, { headers = { ["User-Agent"] = "per-call/1" } }))
    assert(own.ats:get_tags({ page_size = 1 }, { headers = { ["User-Agent"] = "" } }))
    own:close()
    local r = sb:requests()
    assert.equal(3, #r)
    assert.is_nil(r[3].headers["user-agent"]) -- an empty value: none at all
    assert.equal("recruiting-bot/2", r[1].headers["user-agent"])
    assert.equal("identity", r[1].headers["accept-encoding"])
    -- the call's header replaces the client's; names are case-insensitive
    assert.equal("per-call/1", r[2].headers["user-agent"])
  end)

  it("reuses one connection for consecutive requests", function()
    for _ = 1, 5 do assert(client.ats:get_tags({ page_size = 1 })) end
    assert(client.ats:get_jobs({ page_size = 1 }))
    local r = sb:requests()
    assert.equal(6, #r)
    for i = 2, #r do assert.equal(r[1].connection, r[i].connection) end
  end)

  it("keeps a walk and its pages fetched ahead on the connection of the calls before it", function()
    assert(client.ats:get_tags({ page_size = 1 }))
    local n = 0
    for _ in assert(client.ats:get_applications({ page_size = 5 })):items() do
      n = n + 1
      if n == 20 then break end
    end
    local r = sb:requests()
    assert.equal(6, #r) -- the call, pages 1 to 4, and page 5 asked for ahead
    for i = 2, #r do assert.equal(r[1].connection, r[i].connection) end
  end)

  it("opens one more connection for calls made while the next page is on its way, and keeps it", function()
    local pages = 0
    for _ in assert(client.ats:get_applications({ page_size = 5 })):pages() do
      pages = pages + 1
      assert(client.ats:get_tags({ page_size = 1 }))
      if pages == 4 then break end
    end
    local walk, calls = {}, {}
    for _, r in ipairs(sb:requests()) do
      local list = r.path == "/v1/ats/tags" and calls or walk
      list[#list + 1] = r.connection
    end
    for i = 2, #walk do assert.equal(walk[1], walk[i]) end
    for i = 2, #calls do assert.equal(calls[1], calls[i]) end
    assert.are_not.equal(walk[1], calls[1])
  end)

  it("keeps at most max_connections + 1 handles when calls re-enter while every handle is out", function()
    -- Calls nested inside calls, each while the ones around it hold their
    -- handles (the driver reads req through its metatable mid-perform,
    -- where a finalizer would run): four handles out at once.
    local curl = require("kombo.drivers.curl")
    local c = sb:client({ retries = { strategy = "none" }, max_connections = 1 })
    local lines = { "Authorization: Bearer " .. sb.api_key, "X-Integration-Id: " .. sb.integration_id }
    local depth, statuses = 0, {}
    local function req()
      return setmetatable({ method = "GET", url = sb.url .. "/ats/tags?page_size=1", headers = lines,
        timeout_ms = 5000 }, { __index = function(_, k)
          if k == "json" and depth < 3 then
            depth = depth + 1
            local res = curl.send(c, req())
            statuses[#statuses + 1] = res and res.status
          end
        end })
    end
    local res = curl.send(c, req())
    assert.equal(200, res.status)
    assert.same({ 200, 200, 200 }, statuses)
    local pool = c._pool
    local kept = #pool.free
    for _ in pairs(pool.out) do kept = kept + 1 end
    assert.equal(2, kept)
    -- four connections were opened; the two handles closed took theirs
    assert.equal(3, sb:open_connections(3)) -- the two kept, and the one asking
    c:close()
  end)

  it("keeps one idle connection per handle: writes, each on a fresh connection, leave no others open", function()
    local app = assert(client.ats:get_applications({ page_size = 1 })).data.results[1].id
    for i = 1, 3 do
      assert(client.ats:add_application_note({ application_id = app,
        body = { content = "note " .. i, content_type = "PLAIN_TEXT" } }))
    end
    assert(client.ats:get_tags({ page_size = 1 }))
    local r = sb:requests()
    assert.equal(5, #r)
    -- the writes each opened one; the read after the last reused it
    assert.equal(r[4].connection, r[5].connection)
    assert.equal(2, sb:open_connections(2)) -- the client's, and the one asking
  end)

  it("reports a slow server as kind timeout", function()
    sb:fault({ path = "/v1/ats/tags", delay_ms = 1500 })
    local t0 = os.time()
    local res, err = client.ats:get_tags(nil, { timeout_ms = 200 })
    assert.is_nil(res)
    assert.equal("timeout", err.kind)
    assert.equal("get_tags", err.operation)
    assert.equal(1, err.attempts)
    assert.is_true(os.time() - t0 <= 1)
  end)

  it("reports a refused port as kind connection", function()
    local c = assert(kombo.new({
      api_key = "k", integration_id = "i", retries = { strategy = "none" },
      server_url = "http://127.0.0.1:" .. sandbox.free_port() .. "/v1",
    }))
    local res, err = c.ats:get_jobs()
    c:close()
    assert.is_nil(res)
    assert.equal("connection", err.kind)
    assert.equal("refused", err.reason)
    assert.matches("connection", tostring(err))
  end)

  it("turns Kombo's error envelope into kind api", function()
    local c = assert(kombo.new({ api_key = "wrong-key", integration_id = "i", server_url = sb.url }))
    local res, err = c.ats:get_tags()
    c:close()
    assert.is_nil(res)
    assert.equal("api", err.kind)
    assert.equal(401, err.status)
    assert.equal("PLATFORM.AUTHENTICATION_INVALID", err.code)
    assert.is_string(err.message)
    assert.is_table(err.headers)
    assert.is_string(err.body)
    local m = kombo.meta(err)
    assert.equal(401, m.status)
    assert.equal(1, m.attempts)
  end)

  it("never shows the API key in errors, logs, meta or hooks", function()
    local secret = "sk-" .. ("9"):rep(24)
    local seen = {}
    local function capture(...)
      for i = 1, select("#", ...) do seen[#seen + 1] = require("cjson").encode(
        (function(v) -- errors and tables: everything a user could print
          if type(v) ~= "table" then return tostring(v) end
          local t = {}
          for k, x in pairs(v) do t[tostring(k)] = type(x) == "table" and x or tostring(x) end
          return t
        end)(select(i, ...)))
      end
    end
    local c = assert(kombo.new({
      api_key = secret, integration_id = "i", server_url = sb.url,
      logger = capture,
      hooks = { before_request = capture, after_error = capture, after_success = capture },
    }))
    local _, err = c.ats:get_tags()
    capture(err, tostring(err), kombo.meta(err))
    c:close()
    assert.is_true(#seen > 3)
    for _, s in ipairs(seen) do assert.not_matches(secret, s, 1, true) end
  end)
end)

-- The blocking driver's prefetch, by hand: easy:start sends, easy:receive
-- waits for the answer and, for a page whose raw bytes give its next
-- cursor, hands the answer over as an object of its own, leaving the handle
-- free for the next request on the same connection (page.lua asks for the
-- page after it there, before decoding this one).
describe("transport: an answer received off its handle", function()
  local core = require("kombo.core")
  local sb = sandbox.fixture()

  local function req(query)
    return { method = "GET", url = sb.url .. "/ats/applications?page_size=5" .. (query or ""), json = true,
      timeout_ms = 5000,
      headers = { "Authorization: Bearer " .. sb.api_key, "X-Integration-Id: " .. sb.integration_id } }
  end

  it("gives the page's next cursor, frees the handle, and builds what finish would have", function()
    local h = core.easy()
    h:start(req())
    local cursor, answer = h:receive()
    assert.is_string(cursor)
    assert.is_false(h:busy())
    -- The handle takes the next request while the answer waits to be built.
    h:start(req("&cursor=" .. cursor:gsub("[^%w]", function(ch) return ("%%%02X"):format(ch:byte()) end)))
    local res, fail, unwaited = answer:build()
    assert.is_nil(fail)
    assert.is_number(unwaited)
    assert.equal(200, res.status)
    assert.equal(cursor, res.json.data.next)
    assert.equal(5, #res.json.data.results)
    assert.has_error(function() answer:build() end, "kombo answer was built or closed already")
    local second = assert(h:finish())
    assert.equal(200, second.status)
    h:close()
    answer:close()
    local r = sb:requests()
    assert.equal(2, #r)
    assert.equal(r[1].connection, r[2].connection)
  end)

  it("keeps an answer without a cursor on the handle, for finish", function()
    local h = core.easy()
    h:start(req("&cursor=not-a-cursor"))
    assert.is_nil(h:receive())
    assert.is_true(h:busy())
    local res = assert(h:finish())
    assert.equal(400, res.status)
    assert.is_false(h:busy())
    h:close()
  end)

  it("lets a cancelled or dropped answer go, its handle still usable", function()
    local h = core.easy()
    h:start(req())
    local _, answer = h:receive()
    answer:close()
    answer:close()
    assert.has_error(function() answer:build() end, "kombo answer was built or closed already")
    h:start(req())
    do
      local _, dropped = h:receive()
      assert.is_not_nil(dropped)
    end
    collectgarbage()
    collectgarbage()
    h:start(req())
    local cursor, again = h:receive()
    assert.is_string(cursor)
    assert.equal(200, (again:build()).status)
    h:close()
  end)
end)

describe("transport against a hostile server", function()
  local raw = require("support.raw")
  local hostile = require("support.hostile")

  for _, case in ipairs(hostile.CASES) do
    it(case.name, function()
      local server = raw.start(case.answers, case)
      local got = hostile.call(server.url)
      local requests = #server:requests()
      server:stop()
      assert.same(case.expect, hostile.seen(case, got, requests))
    end)
  end
end)
