-- The fault matrix: every way a network or a server can misbehave, injected
-- by the sandbox (or by having no server at all), each with the outcome the
-- SDK promises: the error kind, the status, how many attempts, and what the
-- server received. Pagination and writes under faults prove nothing is lost
-- and nothing is sent twice. Each case stands alone; a summary line is
-- printed at the end for the reader:
--   faults: N injected, N handled as expected, 0 crashes, 0 items lost
local kombo = require("kombo")
local core = require("kombo.core")
local socket = require("socket")
local sandbox = require("support.sandbox")

-- Short waits so the whole matrix stays fast.
local FAST = { strategy = "backoff", retry_connection_errors = true,
  backoff = { initial_interval = 5, max_interval = 20, exponent = 2, max_elapsed_time = 2000 } }
local BRIEF = { backoff = { initial_interval = 5, max_interval = 20, exponent = 2, max_elapsed_time = 150 } }
local NONE = { strategy = "none" }
-- The walks under faults are about every item exactly once, not the
-- budget: under valgrind one attempt can take a second, and the policy
-- gives up at once when another like it would pass max_elapsed_time.
local PATIENT = { strategy = "backoff", retry_connection_errors = true,
  backoff = { initial_interval = 5, max_interval = 20, exponent = 2, max_elapsed_time = 120000 } }
local MB = 1024 * 1024

local tally = { injected = 0, handled = 0, crashes = 0, lost = 0 }

-- API requests the sandbox recorded for method and path.
local function received(reqs, method, path)
  local n = 0
  for _, r in ipairs(reqs) do
    if r.method == method and r.path == path then n = n + 1 end
  end
  return n
end

local function faulted(reqs)
  local n = 0
  for _, r in ipairs(reqs) do
    if r.fault then n = n + 1 end
  end
  return n
end

local function retry_reason(logs)
  for _, l in ipairs(logs) do
    if l.message == "retrying" then return l.fields.detail, l.fields.delay_ms end
  end
end

local function a_job_id(client)
  local jobs = assert(client.ats:get_jobs({ status = "OPEN", page_size = 1 }))
  return jobs.data.results[1].id
end

local function create_candidate(client, email, opts)
  return client.ats:create_candidate({ body = {
    candidate = { first_name = "Ada", last_name = "Fault", email_address = email },
    application = { job_id = a_job_id(client) },
  } }, opts)
end

-- Every item id across pages; a failure raised out of the loop is returned.
local function all_ids(page)
  local ids = {}
  local ok, err = pcall(function()
    for item in page:items() do ids[#ids + 1] = item.id end
  end)
  if not ok then return nil, err end
  return ids
end

-- Compares an id sequence with the expected one; returns how many expected
-- ids are missing and how many arrived more than once.
local function lost_and_repeated(expected, got)
  local seen, repeated, lost = {}, 0, 0
  for _, id in ipairs(got) do
    if seen[id] then repeated = repeated + 1 end
    seen[id] = true
  end
  for _, id in ipairs(expected) do
    if not seen[id] then lost = lost + 1 end
  end
  return lost, repeated
end

local function http_date(epoch)
  return os.date("!%a, %d %b %Y %H:%M:%S GMT", epoch)
end

-- A listener on another loopback address: the "other host" of a redirect.
local function other_host()
  local s = assert(socket.bind("127.0.0.2", 0))
  s:settimeout(0)
  local _, port = s:getsockname()
  return s, port
end

--[[ One case:
  name
  rules        sandbox fault rules (a function(ctx) returning them, or a table)
  options      extra kombo.new options (server_url = false: a refused port)
  outside      faults injected outside the sandbox (no server), counted as injected
  call(client, ctx) -> result, err
  expect = { ok, kind, reason, status, attempts, min_attempts, received = { method, path, n | "attempts" },
             max_ms, min_ms }
  check(result, err, ctx)  more assertions
]]
local TAGS, CANDIDATES = "/v1/ats/tags", "/v1/ats/candidates"
local CASES = {
  {
    name = "429 with Retry-After in seconds waits that long, then succeeds",
    rules = { { path = TAGS, status = 429, headers = { ["Retry-After"] = "0.2" } } },
    call = function(c) return c.ats:get_tags() end,
    expect = { ok = true, attempts = 2, received = { "GET", TAGS, 2 }, min_ms = 200 },
    check = function(_, _, ctx)
      local reason, delay = retry_reason(ctx.logs)
      assert.matches("Retry%-After 0%.2 s", reason)
      assert.equal(200, delay)
    end,
  },
  {
    name = "429 with Retry-After as an HTTP-date waits until then",
    rules = function()
      return { { path = TAGS, status = 429, headers = { ["Retry-After"] = http_date(os.time() + 1) } } }
    end,
    call = function(c) return c.ats:get_tags() end,
    expect = { ok = true, attempts = 2, received = { "GET", TAGS, 2 } },
    check = function(_, _, ctx)
      local reason, delay = retry_reason(ctx.logs)
      assert.matches("Retry%-After date", reason)
      assert.is_true(delay >= 0 and delay <= 1000, "delay " .. delay)
      assert.is_true(ctx.took >= delay, "took " .. ctx.took)
    end,
  },
  {
    name = "429 with retry-after-ms wins over Retry-After",
    rules = { { path = TAGS, status = 429, headers = { ["retry-after-ms"] = "150", ["Retry-After"] = "30" } } },
    call = function(c) return c.ats:get_tags() end,
    expect = { ok = true, attempts = 2, received = { "GET", TAGS, 2 }, min_ms = 150, max_ms = 5000 },
    check = function(_, _, ctx)
      local reason, delay = retry_reason(ctx.logs)
      assert.matches("retry%-after%-ms 150 ms", reason)
      assert.equal(150, delay)
    end,
  },
  {
    name = "429 with only ratelimit-reset waits for the window",
    rules = { { path = TAGS, status = 429, headers = { ["ratelimit-reset"] = "0.1", ["ratelimit-remaining"] = "0" } } },
    call = function(c) return c.ats:get_tags() end,
    expect = { ok = true, attempts = 2, received = { "GET", TAGS, 2 }, min_ms = 100 },
    check = function(_, _, ctx) assert.matches("ratelimit%-reset 100 ms", (retry_reason(ctx.logs))) end,
  },
  {
    name = "a Retry-After that is not a number or a date falls back to backoff",
    rules = { { path = TAGS, status = 503, headers = { ["Retry-After"] = "soon" } } },
    call = function(c) return c.ats:get_tags() end,
    expect = { ok = true, attempts = 2, received = { "GET", TAGS, 2 }, max_ms = 1000 },
    check = function(_, _, ctx) assert.matches("backoff", (retry_reason(ctx.logs))) end,
  },
  {
    name = "a Retry-After beyond max_elapsed_time gives up at once instead of sleeping",
    rules = { { path = TAGS, status = 503, headers = { ["Retry-After"] = "86400" } } },
    call = function(c) return c.ats:get_tags() end,
    -- a bound far from the day it would sleep, and from a busy machine's delays
    expect = { kind = "api", status = 503, attempts = 1, received = { "GET", TAGS, 1 }, max_ms = 5000 },
    check = function(_, err) assert.equal("86400", err.headers["retry-after"]) end,
  },
  {
    name = "a 429 on a write is retried: the server refused before acting",
    rules = { { method = "POST", path = "/v1/ats/candidates", status = 429, code = "PLATFORM.RATE_LIMIT_EXCEEDED",
      headers = { ["Retry-After"] = "0" } } },
    call = function(c) return create_candidate(c, "ada429@example.com") end,
    expect = { ok = true, attempts = 2, received = { "POST", "/v1/ats/candidates", 2 } },
    check = function(_, _, ctx) assert.equal(ctx.before.candidates + 1, ctx.sb:counts().candidates) end,
  },
  {
    name = "a burst of three 500s",
    rules = { { path = TAGS, status = 500, times = 3 } },
    call = function(c) return c.ats:get_tags() end,
    expect = { ok = true, attempts = 4, received = { "GET", TAGS, 4 } },
  },
  {
    name = "a burst of three 502s",
    rules = { { path = TAGS, status = 502, times = 3 } },
    call = function(c) return c.ats:get_tags() end,
    expect = { ok = true, attempts = 4, received = { "GET", TAGS, 4 } },
  },
  {
    name = "a burst of three 503s",
    rules = { { path = TAGS, status = 503, times = 3 } },
    call = function(c) return c.ats:get_tags() end,
    expect = { ok = true, attempts = 4, received = { "GET", TAGS, 4 } },
  },
  {
    name = "a burst of three 504s",
    rules = { { path = TAGS, status = 504, times = 3 } },
    call = function(c) return c.ats:get_tags() end,
    expect = { ok = true, attempts = 4, received = { "GET", TAGS, 4 } },
  },
  {
    name = "503s that outlast max_elapsed_time end as kind api with the last status",
    rules = { { path = TAGS, status = 503, times = -1 } },
    call = function(c) return c.ats:get_tags(nil, { retries = BRIEF }) end,
    expect = { kind = "api", status = 503, min_attempts = 2, received = { "GET", TAGS, "attempts" }, max_ms = 1000 },
    check = function(_, err)
      assert.is_string(err.code)
      assert.matches("answered 503", err.message)
    end,
  },
  {
    name = "connection refused on a GET is retried, then kind connection",
    options = { server_url = false },
    outside = 1,
    call = function(c) return c.ats:get_tags(nil, { retries = BRIEF }) end,
    expect = { kind = "connection", reason = "refused", min_attempts = 2, max_ms = 1000 },
  },
  {
    name = "connection refused on a write is retried: nothing was sent",
    options = { server_url = false },
    outside = 1,
    call = function(c)
      return c.ats:add_candidate_tag({ candidate_id = "C1", body = { tag = { name = "x" } } }, { retries = BRIEF })
    end,
    expect = { kind = "connection", reason = "refused", min_attempts = 2, max_ms = 1000 },
  },
  {
    name = "reset before the response: a GET is sent again",
    rules = { { path = TAGS, action = "reset_before_response" } },
    call = function(c) return c.ats:get_tags() end,
    expect = { ok = true, attempts = 2, received = { "GET", TAGS, 2 } },
  },
  {
    name = "reset mid-body: a GET is sent again and the whole page arrives",
    rules = { { path = TAGS, action = "drop_mid_body" } },
    call = function(c) return c.ats:get_tags({ page_size = 10 }) end,
    expect = { ok = true, attempts = 2, received = { "GET", TAGS, 2 } },
    check = function(res) assert.equal(10, #res.data.results) end,
  },
  {
    name = "a body shorter than its Content-Length is a broken exchange, retried",
    rules = { { path = TAGS, action = "short_body" } },
    call = function(c) return c.ats:get_tags({ page_size = 5 }) end,
    expect = { ok = true, attempts = 2, received = { "GET", TAGS, 2 } },
    check = function(res) assert.equal(5, #res.data.results) end,
  },
  {
    name = "a body shorter than its Content-Length, every time, ends as kind connection",
    rules = { { path = TAGS, action = "short_body", times = -1 } },
    call = function(c) return c.ats:get_tags(nil, { retries = NONE }) end,
    expect = { kind = "connection", reason = "partial", attempts = 1, received = { "GET", TAGS, 1 } },
  },
  {
    name = "truncated JSON in a 200 is kind decode, not retried",
    rules = { { path = TAGS, action = "truncated_json" } },
    call = function(c) return c.ats:get_tags() end,
    expect = { kind = "decode", status = 200, attempts = 1, received = { "GET", TAGS, 1 } },
    check = function(_, err)
      assert.matches("not valid JSON", err.message)
      assert.is_string(err.body)
    end,
  },
  {
    name = "an HTML 502 from a proxy is kind api with the page as body, retried",
    rules = { { path = TAGS, action = "html_502", times = -1 } },
    call = function(c) return c.ats:get_tags(nil, { retries = BRIEF }) end,
    expect = { kind = "api", status = 502, min_attempts = 2, received = { "GET", TAGS, "attempts" } },
    check = function(_, err)
      assert.is_nil(err.code)
      assert.equal("HTTP 502", err.message)
      assert.matches("Bad Gateway", err.body)
      assert.matches("^text/html", err.headers["content-type"])
    end,
  },
  {
    name = "an HTML 200 is kind decode",
    rules = { { path = TAGS, action = "non_json" } },
    call = function(c) return c.ats:get_tags() end,
    expect = { kind = "decode", status = 200, attempts = 1, received = { "GET", TAGS, 1 } },
  },
  {
    name = "a gzip Content-Encoding over bytes that are not gzip is kind decode",
    rules = { { path = TAGS, status = 200, headers = { ["Content-Encoding"] = "gzip" }, body = "not gzip at all" } },
    call = function(c) return c.ats:get_tags() end,
    expect = { kind = "decode", reason = "content_encoding", attempts = 1, received = { "GET", TAGS, 1 } },
  },
  {
    name = "an empty 200 is kind decode",
    rules = { { path = TAGS, action = "empty_200" } },
    call = function(c) return c.ats:get_tags() end,
    expect = { kind = "decode", status = 200, attempts = 1, received = { "GET", TAGS, 1 } },
    check = function(_, err) assert.equal("", err.body) end,
  },
  {
    name = "JSON that is not an object is kind decode",
    rules = { { path = TAGS, action = "json_not_object" } },
    call = function(c) return c.ats:get_tags() end,
    expect = { kind = "decode", status = 200, attempts = 1, received = { "GET", TAGS, 1 } },
    check = function(_, err) assert.matches("without a status field", err.message) end,
  },
  {
    name = "invalid UTF-8 in strings is passed through byte for byte",
    rules = { { path = TAGS, action = "invalid_utf8" } },
    call = function(c) return c.ats:get_tags() end,
    expect = { ok = true, attempts = 1, received = { "GET", TAGS, 1 } },
    check = function(res)
      assert.equal("\255\254\253", res.data.results[1].id)
      assert.equal("caf\195", res.data.results[1].name)
    end,
  },
  {
    name = "a 50 MB body over max_response_bytes is refused as kind decode; the client goes on",
    rules = { { path = TAGS, action = "huge_body", size_bytes = 50 * MB } },
    options = { max_response_bytes = MB },
    call = function(c, ctx)
      local res, err = c.ats:get_tags()
      ctx.after = { c.ats:get_tags({ page_size = 3 }) }
      return res, err
    end,
    expect = { kind = "decode", reason = "too_large", attempts = 1, max_ms = 3000 },
    check = function(_, err, ctx)
      assert.matches("max_response_bytes", err.message)
      assert.equal(3, #ctx.after[1].data.results)
      assert.equal(2, received(ctx.reqs, "GET", TAGS))
    end,
  },
  {
    name = "a 50 MB body without a limit decodes without a crash",
    rules = { { path = TAGS, action = "huge_body", size_bytes = 50 * MB } },
    call = function(c) return c.ats:get_tags() end,
    expect = { ok = true, attempts = 1, received = { "GET", TAGS, 1 } },
    check = function(res) assert.is_true(#res.data.results > 700000) end,
  },
  {
    name = "headers that never come: kind timeout after timeout_ms",
    rules = { { path = TAGS, action = "no_headers" } },
    options = { timeout_ms = 300 },
    call = function(c) return c.ats:get_tags(nil, { retries = NONE }) end,
    expect = { kind = "timeout", attempts = 1, received = { "GET", TAGS, 1 }, min_ms = 250, max_ms = 1500 },
  },
  {
    name = "headers that never come once: the GET is retried after the timeout",
    rules = { { path = TAGS, action = "no_headers" } },
    options = { timeout_ms = 300 },
    call = function(c) return c.ats:get_tags() end,
    expect = { ok = true, attempts = 2, received = { "GET", TAGS, 2 }, min_ms = 250, max_ms = 1500 },
  },
  {
    name = "a body that trickles slower than the timeout: kind timeout",
    rules = { { path = TAGS, action = "trickle", chunk_bytes = 16, interval_ms = 50 } },
    options = { timeout_ms = 300 },
    call = function(c) return c.ats:get_tags({ page_size = 20 }, { retries = NONE }) end,
    expect = { kind = "timeout", attempts = 1, received = { "GET", TAGS, 1 }, max_ms = 1500 },
  },
  {
    name = "a redirect to another host is not followed: nothing reaches it, the caller gets kind api",
    rules = function(ctx)
      ctx.other, ctx.other_port = other_host()
      return { { path = TAGS, action = "redirect", status = 307,
        location = "http://127.0.0.2:" .. ctx.other_port .. "/v1/ats/tags" } }
    end,
    options = { timeout_ms = 1000 },
    call = function(c) return c.ats:get_tags() end,
    expect = { kind = "api", status = 307, attempts = 1, received = { "GET", TAGS, 1 } },
    check = function(_, err, ctx)
      local conn = ctx.other:accept()
      ctx.other:close()
      if conn then conn:close() end
      assert.is_nil(conn, "the other host received a connection")
      assert.matches("^http://127%.0%.0%.2:", err.headers["location"])
    end,
  },

  -- Writes under faults: the sandbox's counts prove what was stored.
  {
    name = "a create whose connection drops after the server stored it is not sent twice",
    rules = { { method = "POST", path = CANDIDATES, action = "reset_before_response", after_handler = true } },
    call = function(c) return create_candidate(c, "ada.once@example.com") end,
    expect = { kind = "connection", attempts = 1, received = { "POST", "/v1/ats/candidates", 1 } },
    check = function(_, err, ctx)
      assert.is_true(err.reason == "empty_reply" or err.reason == "reset", err.reason)
      assert.equal(ctx.before.candidates + 1, ctx.sb:counts().candidates)
    end,
  },
  {
    name = "the same create is sent again when the caller opted in with retry_writes",
    rules = { { method = "POST", path = CANDIDATES, action = "reset_before_response", after_handler = true } },
    call = function(c)
      return create_candidate(c, "ada.twice@example.com", { retries = {
        retry_writes = true, backoff = FAST.backoff } })
    end,
    expect = { ok = true, attempts = 2, received = { "POST", "/v1/ats/candidates", 2 } },
    check = function(_, _, ctx) assert.equal(ctx.before.candidates + 2, ctx.sb:counts().candidates) end,
  },
  {
    name = "a create that times out while the server works on it is not sent twice",
    rules = { { method = "POST", path = "/v1/ats/candidates", delay_ms = 400 } },
    options = { timeout_ms = 150 },
    call = function(c) return create_candidate(c, "ada.slow@example.com") end,
    -- kind timeout (the 400 ms answer never read) and one POST are the
    -- proof; no wall-clock bound, which a busy machine under valgrind broke
    expect = { kind = "timeout", attempts = 1, received = { "POST", "/v1/ats/candidates", 1 } },
    check = function(_, _, ctx)
      socket.sleep(0.4) -- the late handler still stores it, as a real server would
      assert.equal(ctx.before.candidates + 1, ctx.sb:counts().candidates)
    end,
  },
  {
    name = "a create answered 500 after storing is not sent twice",
    rules = { { method = "POST", path = "/v1/ats/candidates", status = 500, after_handler = true } },
    call = function(c) return create_candidate(c, "ada.500@example.com") end,
    expect = { kind = "api", status = 500, attempts = 1, received = { "POST", "/v1/ats/candidates", 1 } },
    check = function(_, _, ctx) assert.equal(ctx.before.candidates + 1, ctx.sb:counts().candidates) end,
  },
  {
    name = "a 503 with Retry-After: 0 forever gets max_attempts requests, each after the backoff",
    rules = { { path = TAGS, status = 503, headers = { ["Retry-After"] = "0" }, times = -1 } },
    options = { retries = { backoff = FAST.backoff, max_attempts = 4 } },
    call = function(c) return c.ats:get_tags() end,
    expect = { kind = "api", status = 503, attempts = 4, received = { "GET", TAGS, 4 } },
    check = function(_, _, ctx)
      local reason, delay = retry_reason(ctx.logs)
      assert.matches("Retry%-After 0 s, backoff", reason)
      assert.is_true(delay >= 2.5, "waited " .. delay .. " ms")
    end,
  },
  {
    name = "a response over max_response_bytes is not retried",
    options = { max_response_bytes = 512 },
    outside = 1, -- the fault is the client's own limit
    call = function(c) return c.ats:get_applications({ page_size = 20 }) end,
    expect = { kind = "decode", reason = "too_large", attempts = 1, received = { "GET", "/v1/ats/applications", 1 } },
  },
  {
    name = "a page whose next cursor repeats ends the walk with a pagination error",
    rules = { { path = TAGS, status = 200, times = -1,
      body = '{"status":"success","data":{"next":"same","results":[{"id":"t"}]}}' } },
    call = function(c) return all_ids(assert(c.ats:get_tags())) end,
    expect = { kind = "pagination", reason = "cursor_repeated", received = { "GET", TAGS, 2 } },
    check = function(_, err) assert.equal("same", err.cursor) end,
  },
  {
    name = "a server that reflects the API key gets it redacted from the error",
    rules = function(ctx)
      return { { path = TAGS, status = 401, body = '{"status":"error","error":{"message":"bad key '
        .. ctx.sb.api_key .. '"}}', headers = { ["X-Echo"] = ctx.sb.api_key } } }
    end,
    options = { retries = { strategy = "none" } },
    call = function(c) return c.ats:get_tags() end,
    expect = { kind = "api", status = 401, attempts = 1, received = { "GET", TAGS, 1 } },
    check = function(_, err, ctx)
      assert.is_nil(tostring(err):find(ctx.sb.api_key, 1, true))
      assert.is_nil(err.body:find(ctx.sb.api_key, 1, true))
      assert.equal("[REDACTED]", err.headers["x-echo"])
    end,
  },
}

-- Pagination under faults: each request has a seeded 10% chance of a 503,
-- a reset before the response or a connection dropped mid-body.
local APPS = "/v1/ats/applications"
local function page_faults(seed)
  return {
    { path = APPS, probability = 0.05, seed = seed, status = 503 },
    { path = APPS, probability = 0.03, seed = seed + 1, action = "reset_before_response" },
    { path = APPS, probability = 0.025, seed = seed + 2, action = "drop_mid_body" },
  }
end

local function paginate(client, page_size)
  local first, err = client.ats:get_applications({ page_size = page_size })
  if not first then return nil, err end
  return all_ids(first)
end

-- What a failed walk's logger said when it gave up, for the failure's message.
local function why_failed(err, logs)
  local out = { tostring(err) }
  for _, l in ipairs(logs) do
    if l.message == "failed" then
      out[#out + 1] = ("failed after %s attempts: %s"):format(tostring(l.fields.attempts), tostring(l.fields.detail))
    end
  end
  return table.concat(out, "\n")
end

local PAGE_CASES = {
  { name = "100 pages, blocking driver", seed = 11 },
  { name = "100 pages, inside kombo.spawn tasks", seed = 23, tasks = true },
}

describe("fault matrix", function()
  local sb

  setup(function() sb = sandbox.start() end)
  teardown(function()
    sb:stop()
    io.stdout:write(("\nfaults: %d injected, %d handled as expected, %d crashes, %d items lost\n")
      :format(tally.injected, tally.handled, tally.crashes, tally.lost))
  end)

  local function client_for(opts, logs)
    local o = {
      retries = FAST, timeout_ms = 3000,
      logger = function(level, message, fields)
        logs[#logs + 1] = { level = level, message = message, fields = fields }
      end,
    }
    for k, v in pairs(opts or {}) do o[k] = v end
    if o.server_url == false then o.server_url = "http://127.0.0.1:" .. sandbox.free_port() .. "/v1" end
    return sb:client(o)
  end

  for _, case in ipairs(CASES) do
    it(case.name, function()
      sb:reset()
      local ctx = { sb = sb, logs = {} }
      local rules = case.rules
      if type(rules) == "function" then rules = rules(ctx) end
      if rules then sb:fault(rules) end
      local client = client_for(case.options, ctx.logs)
      ctx.before = sb:counts()
      sb:clear_requests()
      local t0 = core.now_ms()
      local ok, res, err = pcall(case.call, client, ctx)
      ctx.took = core.now_ms() - t0
      client:close()
      ctx.reqs = sb:requests()
      local injected = faulted(ctx.reqs) + (case.outside or 0)
      tally.injected = tally.injected + injected
      if not ok then tally.crashes = tally.crashes + 1 end
      assert.is_true(ok, "raised: " .. tostring(res))
      assert.is_true(injected > 0, "no fault was injected")

      local e = case.expect
      local m = kombo.meta(res or err)
      if e.ok then
        assert.is_nil(err, tostring(err))
        assert.equal("success", res.status)
      else
        assert.is_nil(res)
        assert.equal(e.kind, err.kind, tostring(err))
        assert.equal(e.status, err.status)
        if e.reason then assert.equal(e.reason, err.reason) end
        assert.equal(err.attempts, m.attempts)
      end
      if e.attempts then assert.equal(e.attempts, m.attempts) end
      if e.min_attempts then assert.is_true(m.attempts >= e.min_attempts, "attempts " .. m.attempts) end
      if e.received then
        local n = e.received[3] == "attempts" and m.attempts or e.received[3]
        assert.equal(n, received(ctx.reqs, e.received[1], e.received[2]))
      end
      if e.min_ms then assert.is_true(ctx.took >= e.min_ms, "took " .. ctx.took) end
      if e.max_ms then assert.is_true(ctx.took <= e.max_ms, "took " .. ctx.took) end
      if case.check then case.check(res, err, ctx) end
      tally.handled = tally.handled + injected
    end)
  end

  for _, case in ipairs(PAGE_CASES) do
    it("pagination under faults: " .. case.name .. ": every item exactly once, in order", function()
      sb:reset()
      local logs = {}
      local client = client_for({ retries = PATIENT }, logs)
      local expected = assert(paginate(client, 250))
      local page_size = math.floor(#expected / 100)
      assert.is_true(math.ceil(#expected / page_size) >= 100)
      sb:clear_requests()
      sb:fault(page_faults(case.seed))

      local ok, got, err
      if case.tasks then
        -- Two concurrent walks over the multi handle, each on its own client.
        local other = client_for({ retries = PATIENT }, logs)
        local results = {}
        for i, c in ipairs({ client, other }) do
          kombo.spawn(function() results[i] = { paginate(c, page_size) } end)
        end
        local ran, failures
        ok, ran, failures = pcall(kombo.run)
        err = not ok and ran or (failures and failures[1]) or nil
        other:close()
        got = results[1] and results[1][1]
        if ok and results[2] then
          assert.is_nil(results[2][2], why_failed(results[2][2], logs))
          local lost2, rep2 = lost_and_repeated(expected, results[2][1] or {})
          tally.lost = tally.lost + lost2
          assert.equal(0, rep2)
          assert.same(expected, results[2][1])
        end
        err = err or (results[1] and results[1][2])
      else
        ok, got, err = pcall(paginate, client, page_size)
      end
      client:close()
      local reqs = sb:requests()
      local injected = faulted(reqs)
      tally.injected = tally.injected + injected
      if not ok then tally.crashes = tally.crashes + 1 end
      assert.is_true(ok, "raised: " .. tostring(got or err))
      local lost, repeated = lost_and_repeated(expected, got or {})
      tally.lost = tally.lost + lost
      assert.is_nil(err, why_failed(err, logs))
      assert.is_true(injected >= 5, "only " .. injected .. " faults injected")
      assert.equal(0, lost)
      assert.equal(0, repeated)
      assert.same(expected, got)
      tally.handled = tally.handled + injected
    end)
  end
end)
