-- Retries against the sandbox's fault injection: the policy in C decides,
-- the driver waits, and what went over the wire proves each promise.
local kombo = require("kombo")
local core = require("kombo.core")
local sandbox = require("support.sandbox")

local FAST = { strategy = "backoff", retry_connection_errors = true,
  backoff = { initial_interval = 10, max_interval = 50, exponent = 1.5, max_elapsed_time = 5000 } }

describe("retries", function()
  local sb = sandbox.fixture()
  local client, logs

  before_each(function()
    logs = {}
    client = sb:client({
      retries = FAST,
      logger = function(level, message, fields) logs[#logs + 1] = { level = level, message = message, f = fields } end,
    })
  end)
  after_each(function() client:close() end)

  local function first_candidate()
    local page = assert(client.ats:get_candidates({ page_size = 1 }))
    sb:clear_requests()
    return page.data.results[1].id
  end

  local function count(method, path)
    local n = 0
    for _, r in ipairs(sb:requests()) do
      if r.method == method and r.path == path then n = n + 1 end
    end
    return n
  end

  it("waits for Retry-After: 1 on a 429 and succeeds on the second attempt", function()
    sb:fault({ path = "/v1/ats/tags", status = 429, headers = { ["Retry-After"] = "1" } })
    local t0 = core.now_ms()
    local tags = assert(client.ats:get_tags())
    local took = core.now_ms() - t0
    assert.equal("success", tags.status)
    assert.is_true(took >= 1000, "took " .. took .. " ms")
    assert.equal(2, kombo.meta(tags).attempts)
    assert.equal(200, kombo.meta(tags).status)
    assert.equal(2, count("GET", "/v1/ats/tags"))
    local retry = logs[#logs - 1] -- the retry line precedes the second request's debug line
    for _, l in ipairs(logs) do if l.message == "retrying" then retry = l end end
    assert.equal("warn", retry.level)
    assert.equal(1000, retry.f.delay_ms)
    assert.matches("Retry%-After", retry.f.detail)
  end)

  it("logs a retry's and a give-up's reason as err.reason names it, and the policy's sentence as detail", function()
    local dead = assert(kombo.new({ api_key = "k", integration_id = "i", server_url = "http://127.0.0.1:9/v1",
      retries = { strategy = "backoff", retry_connection_errors = true, max_attempts = 2,
        backoff = { initial_interval = 1, max_interval = 2, exponent = 1.5, max_elapsed_time = 60000 } },
      logger = function(level, message, fields) logs[#logs + 1] = { level = level, message = message, f = fields } end,
    }))
    local _, err = dead.ats:get_tags()
    local seen = {}
    for _, l in ipairs(logs) do seen[l.message] = l.f end
    assert.equal(err.reason, seen.retrying.reason)
    assert.equal(err.reason, seen["giving up"].reason)
    assert.is_string(seen.retrying.detail)
    assert.matches("max_attempts 2", seen["giving up"].detail, 1, true)
    -- "failed" says why there was no other attempt, a first one included.
    assert.equal(seen["giving up"].detail, seen.failed.detail)
    assert.equal(2, seen.failed.attempts)
    sb:fault({ path = "/v1/ats/tags", status = 404, times = 1 })
    logs = {}
    assert.is_nil((client.ats:get_tags()))
    for _, l in ipairs(logs) do seen[l.message] = l.f end
    assert.equal("status 404 is not retryable", seen.failed.detail)
    assert.equal(1, seen.failed.attempts)
    -- A 2xx that fails to decode made no retry decision: no detail, not
    -- the 503's before it.
    sb:fault({ { path = "/v1/ats/tags", status = 503, times = 1 },
      { path = "/v1/ats/tags", action = "non_json", times = 1 } })
    logs, seen = {}, {}
    local _, bad = client.ats:get_tags()
    assert.equal("decode", bad.kind)
    for _, l in ipairs(logs) do seen[l.message] = l.f end
    assert.equal(503, seen.retrying.status)
    assert.equal(2, seen.failed.attempts)
    assert.is_nil(seen.failed.detail)
    sb:fault({ path = "/v1/ats/tags", status = 503, times = 1 })
    logs = {}
    assert(client.ats:get_tags())
    for _, l in ipairs(logs) do seen[l.message] = l.f end
    assert.equal(503, seen.retrying.status)
    assert.is_nil(seen.retrying.reason)
  end)

  it("makes no retry that max_elapsed_time leaves under 25 ms: the failure before it is the answer", function()
    sb:fault({ path = "/v1/ats/tags", status = 503, times = -1 })
    sb:clear_requests()
    local _, err = client.ats:get_tags(nil, {
      retries = { backoff = { initial_interval = 1, max_interval = 1, exponent = 1, max_elapsed_time = 20 } },
    })
    assert.equal("api", err.kind)
    assert.equal(503, err.status)
    assert.equal(1, err.attempts)
    assert.equal(1, count("GET", "/v1/ats/tags"))
    local failed
    for _, l in ipairs(logs) do if l.message == "failed" then failed = l.f end end
    assert.equal(1, failed.attempts)
    assert.is_string(failed.detail)
  end)

  it("takes four attempts for three 503s then a 200", function()
    sb:fault({ path = "/v1/ats/jobs", status = 503, times = 3 })
    local jobs = assert(client.ats:get_jobs({ page_size = 2 }))
    assert.equal(4, kombo.meta(jobs).attempts)
    assert.equal(4, count("GET", "/v1/ats/jobs"))
  end)

  it("retries a GET whose body is cut off mid-stream and returns the whole page", function()
    local whole = assert(client.ats:get_applications({ page_size = 50 }))
    sb:clear_requests()
    sb:fault({ path = "/v1/ats/applications", action = "drop_mid_body" })
    local page = assert(client.ats:get_applications({ page_size = 50 }))
    assert.equal(2, kombo.meta(page).attempts)
    assert.same(whole.data.results, page.data.results)
  end)

  it("gives up on a server that always answers 500 within max_elapsed_time", function()
    sb:fault({ path = "/v1/ats/tags", status = 500, times = -1 })
    local res, err = client.ats:get_tags(nil, { retries = {
      backoff = { initial_interval = 50, max_interval = 100, exponent = 2, max_elapsed_time = 600 } } })
    assert.is_nil(res)
    assert.equal("api", err.kind)
    assert.equal(500, err.status)
    assert.is_true(err.attempts >= 3, "attempts " .. err.attempts)
    assert.equal(err.attempts, count("GET", "/v1/ats/tags"))
    assert.equal(err.attempts, kombo.meta(err).attempts)
    -- every attempt started inside max_elapsed_time, as the server saw them
    local reqs = sb:requests()
    assert.is_true(reqs[#reqs].at_ms - reqs[1].at_ms <= 600, "attempts spread past the budget")
  end)

  it("sends a POST answered 503 once", function()
    sb:fault({ method = "POST", path_prefix = "/v1/ats/candidates/", status = 503, times = -1 })
    local cand = first_candidate()
    local res, err = client.ats:add_candidate_tag({ candidate_id = cand, body = { tag = { name = "Senior" } } })
    assert.is_nil(res)
    assert.equal(503, err.status)
    assert.equal(1, err.attempts)
    assert.equal(1, count("POST", "/v1/ats/candidates/" .. cand .. "/tags"))
  end)

  it("sends a POST answered 429 again", function()
    sb:fault({ method = "POST", path_prefix = "/v1/ats/candidates/", status = 429,
      headers = { ["Retry-After"] = "0" } })
    local cand = first_candidate()
    local res = assert(client.ats:add_candidate_tag({ candidate_id = cand, body = { tag = { name = "Senior" } } }))
    assert.equal("success", res.status)
    assert.equal(2, kombo.meta(res).attempts)
    assert.equal(2, count("POST", "/v1/ats/candidates/" .. cand .. "/tags"))
  end)

  it("retries a POST answered 503 when the call opts in with retry_writes", function()
    sb:fault({ method = "POST", path_prefix = "/v1/ats/candidates/", status = 503, times = 1 })
    local cand = first_candidate()
    local retries = { retry_writes = true, backoff = FAST.backoff }
    local res = assert(client.ats:add_candidate_tag(
      { candidate_id = cand, body = { tag = { name = "Senior" } } }, { retries = retries }))
    assert.equal(2, kombo.meta(res).attempts)
  end)

  it("never retries with strategy none", function()
    sb:fault({ path = "/v1/ats/tags", status = 503, times = -1 })
    local _, err = client.ats:get_tags(nil, { retries = { strategy = "none" } })
    assert.equal(1, err.attempts)
    assert.equal(1, count("GET", "/v1/ats/tags"))
  end)

  it("runs hooks at the documented points and lets before_request add headers", function()
    local seen = {}
    local c = sb:client({
      retries = FAST,
      hooks = {
        before_request = function(ex)
          seen[#seen + 1] = "before " .. ex.operation
          ex.headers["X-Trace"] = "t-" .. #seen
        end,
        after_success = function(ex, result) seen[#seen + 1] = "success " .. ex.operation .. " " .. result.status end,
        after_error = function(ex, err) seen[#seen + 1] = "error " .. ex.operation .. " " .. err.kind end,
      },
    })
    sb:fault({ path = "/v1/ats/tags", status = 503 })
    assert(c.ats:get_tags())
    local _, err = c.ats:get_jobs({ status = "nope" })
    assert.equal("invalid_request", err.kind)
    c:close()
    assert.same({ "before get_tags", "before get_tags", "success get_tags success" }, seen)
    local r = sb:requests()
    assert.equal("t-1", r[1].headers["x-trace"])
    assert.equal("t-2", r[2].headers["x-trace"])
  end)
end)
