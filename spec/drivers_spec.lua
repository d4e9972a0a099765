-- The driver contract (docs/DRIVERS.md), one case table run against every
-- driver: blocking libcurl, kombo.spawn tasks, OpenResty cosockets inside
-- real nginx, and tasks on Neovim's libuv loop. Each case injects a fault
-- into a fresh sandbox, runs its client code where the driver lives, and
-- checks what came back and what the sandbox received.
local sandbox = require("support.sandbox")
local drivers = require("support.drivers")

local TAGS, USERS, CANDIDATES = "/v1/ats/tags", "/v1/ats/users", "/v1/ats/candidates"

-- The requests the sandbox logged for method and path, oldest first.
local function logged(reqs, method, path)
  local out = {}
  for _, r in ipairs(reqs) do
    if r.method == method and r.path == path then out[#out + 1] = r end
  end
  return out
end

-- Exactly two attempts for a failure that never changes, by count, with
-- a budget no busy machine uses up.
local TWO_ATTEMPTS = { strategy = "backoff", retry_connection_errors = true, max_attempts = 2,
  backoff = { initial_interval = 10, max_interval = 100, exponent = 2, max_elapsed_time = 30000 } }

-- Client code: a chunk called with (client, env); see support/drivers.lua.
local CREATE = "return client().ats:create_candidate({ body = env.create_body })"
local GET_THEN_CREATE = [[
  local c = client()
  assert(c.ats:get_tags())
  return c.ats:create_candidate({ body = env.create_body })
]]
local TAGS_TWICE = [[
  local c = client()
  assert(c.ats:get_tags())
  return c.ats:get_tags()
]]

-- One POST stored once, on a connection other than the GET's before it.
local function write_alone(reqs, ctx)
  local gets, posts = logged(reqs, "GET", TAGS), logged(reqs, "POST", CANDIDATES)
  assert.equal(1, #gets)
  assert.equal(1, #posts)
  assert.are_not.equal(gets[1].connection, posts[1].connection)
  assert.equal(ctx.before.candidates + 1, ctx.sb:counts().candidates)
end

--[[ A case:
  name, rules (sandbox fault rules), source (client code)
  expect = { ok, kind, reason | reasons, attempts }
  wire(reqs, ctx, out)  what the sandbox received (ctx.sb, ctx.before = counts)
]]
local CASES = {
  {
    name = "a GET answered 503 once is sent again and succeeds",
    rules = { { path = TAGS, status = 503 } },
    source = "return client().ats:get_tags()",
    expect = { ok = true, attempts = 2 },
    wire = function(reqs)
      local gets = logged(reqs, "GET", TAGS)
      assert.equal(2, #gets)
      assert.equal("503", gets[1].fault)
      assert.is_nil(gets[2].fault)
    end,
  },
  {
    name = "a POST the server ran before dropping the connection is not sent again",
    rules = { { method = "POST", path = CANDIDATES, action = "reset_before_response", after_handler = true } },
    source = CREATE,
    expect = { kind = "connection", reasons = { empty_reply = true, reset = true }, attempts = 1 },
    wire = function(reqs, ctx)
      assert.equal(1, #reqs)
      assert.equal(1, #logged(reqs, "POST", CANDIDATES))
      assert.equal(ctx.before.candidates + 1, ctx.sb:counts().candidates)
    end,
  },
  {
    name = "that POST after a GET left a kept-alive connection goes on a new one, once",
    rules = { { method = "POST", path = CANDIDATES, action = "reset_before_response", after_handler = true } },
    source = GET_THEN_CREATE,
    expect = { kind = "connection", reasons = { empty_reply = true, reset = true }, attempts = 1 },
    wire = write_alone,
  },
  {
    name = "that POST after the server closed the GET's kept-alive connection goes on a new one, once",
    rules = {
      { method = "GET", path = TAGS, action = "close_after_response" },
      { method = "POST", path = CANDIDATES, action = "reset_before_response", after_handler = true },
    },
    source = GET_THEN_CREATE,
    expect = { kind = "connection", reasons = { empty_reply = true, reset = true }, attempts = 1 },
    wire = write_alone,
  },
  {
    name = "a POST after a GET succeeds on a connection of its own",
    source = GET_THEN_CREATE,
    expect = { ok = true, attempts = 1 },
    wire = write_alone,
  },
  {
    name = "a POST that times out while the server works on it is not sent again",
    rules = { { method = "POST", path = CANDIDATES, delay_ms = 400 } },
    source = "return client({ timeout_ms = 150 }).ats:create_candidate({ body = env.create_body })",
    expect = { kind = "timeout", reason = "timeout", attempts = 1 },
    wire = function(reqs) assert.equal(1, #logged(reqs, "POST", CANDIDATES)) end,
  },
    -- README "Retries": a write is retried when the connection failed before
  -- the request was sent; a refused connection sent nothing.
  {
    name = "a refused GET is retried, then reason refused",
    source = "return client({ server_url = env.refused_url, retries = env.two_attempts }).ats:get_tags()",
    expect = { kind = "connection", reason = "refused", attempts = 2 },
    wire = function(reqs) assert.equal(0, #reqs) end,
  },
  {
    name = "a refused POST is retried too (nothing was sent), then reason refused",
    source = [[
      local c = client({ server_url = env.refused_url, retries = env.two_attempts })
      return c.ats:create_candidate({ body = env.create_body })
    ]],
    expect = { kind = "connection", reason = "refused", attempts = 2 },
    wire = function(reqs) assert.equal(0, #reqs) end,
  },
  {
    name = "a response over max_response_bytes is kind decode, reason too_large, not sent again",
    rules = { { path = TAGS, action = "huge_body", size_bytes = 200000 } },
    source = "return client({ max_response_bytes = 100000 }).ats:get_tags()",
    expect = { kind = "decode", reason = "too_large", attempts = 1 },
    wire = function(reqs) assert.equal(1, #logged(reqs, "GET", TAGS)) end,
  },
  {
    name = "a read whose kept-alive connection the server closed between two calls is served",
    rules = { { path = TAGS, action = "close_after_response" } },
    source = TAGS_TWICE,
    expect = { ok = true, attempts = 1 },
    wire = function(reqs, _, out)
      local gets = logged(reqs, "GET", TAGS)
      assert.equal(2, #gets)
      assert.are_not.equal(gets[1].connection, gets[2].connection)
      assert.is_true(out.n > 0)
    end,
  },
  {
    name = "a read reset before any answer byte on a reused connection goes once more on a new one",
    rules = { { path = TAGS, action = "reset_before_response", after_handler = true } },
    source = [[
      local c = client()
      assert(c.ats:get_users({ page_size = 1 }))
      return c.ats:get_tags()
    ]],
    -- The driver's silent second send, as libcurl's: not an attempt.
    expect = { ok = true, attempts = 1 },
    wire = function(reqs)
      local users, gets = logged(reqs, "GET", USERS), logged(reqs, "GET", TAGS)
      assert.equal(1, #users)
      assert.equal(2, #gets)
      assert.equal(users[1].connection, gets[1].connection)
      assert.are_not.equal(gets[1].connection, gets[2].connection)
    end,
  },
  {
    name = "a read reset on its reused connection and again on the new one fails, sent twice in all",
    rules = { { path = TAGS, action = "reset_before_response", after_handler = true, times = 2 } },
    source = [[
      local c = client({ retries = { strategy = "none" } })
      assert(c.ats:get_users({ page_size = 1 }))
      return c.ats:get_tags()
    ]],
    expect = { kind = "connection", reasons = { empty_reply = true, reset = true }, attempts = 1 },
    wire = function(reqs)
      local users, gets = logged(reqs, "GET", USERS), logged(reqs, "GET", TAGS)
      assert.equal(2, #gets)
      assert.equal(users[1].connection, gets[1].connection)
      assert.are_not.equal(gets[1].connection, gets[2].connection)
    end,
  },
  {
    name = "a repeated response header arrives joined with \", \"",
    rules = { { path = TAGS, action = "repeated_header", header = "X-Repeated", count = 3 } },
    source = "return client().ats:get_tags()",
    expect = { ok = true, attempts = 1 },
    wire = function(_, _, out) assert.equal("1, 2, 3", out.headers["x-repeated"]) end,
  },
}

drivers.each({ describe = describe, setup = setup, teardown = teardown }, "driver contract: ", function(runner)
  for _, case in ipairs(CASES) do
    it(case.name, function()
      local sb = sandbox.start()
      finally(function() sb:stop() end)
      local _, jobs = sb:request("GET", "/ats/jobs?status=OPEN&page_size=1")
      local env = {
        url = sb.url, api_key = sb.api_key, integration_id = sb.integration_id,
        refused_url = "http://127.0.0.1:" .. sandbox.free_port() .. "/v1", two_attempts = TWO_ATTEMPTS,
        create_body = {
          candidate = { first_name = "Ada", last_name = "Driver", email_address = "ada.driver@example.com" },
          application = { job_id = jobs.data.results[1].id },
        },
      }
      local ctx = { sb = sb, before = sb:counts() }
      sb:clear_requests()
      if case.rules then sb:fault(case.rules) end

      local out = runner.run(case.source, env)

      assert.is_nil(out.error)
      assert.equal(runner.driver, out.driver)
      local e = case.expect
      if e.ok then
        assert.is_true(out.ok, tostring(out.message))
      else
        assert.is_false(out.ok)
        assert.equal(e.kind, out.kind, out.message)
        if e.reason then assert.equal(e.reason, out.reason, out.message) end
        if e.reasons then assert.is_true(e.reasons[out.reason], tostring(out.reason)) end
      end
      if e.attempts then assert.equal(e.attempts, out.attempts) end
      case.wire(sb:requests(), ctx, out)
    end)
  end
end)
