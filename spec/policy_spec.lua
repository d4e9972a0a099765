-- The retry and pagination policy of kombo.core (csrc/retries.c builds it,
-- csrc/policy.c decides, csrc/hints.c reads servers' hints, csrc/encode.c
-- makes the next page's query): every decision is a pure function of its
-- inputs, so these tables pin them down exactly without a server.

local core = require("kombo.core")
local cjson = require("cjson")

local function policy(config)
  local p, field, expected = core.retry_policy(config)
  assert(p, tostring(field) .. ": " .. tostring(expected))
  return p
end

-- A decide() input with the defaults the cases below share.
local function input(t)
  local d = { method = "GET", attempt = 1, elapsed_ms = 0, random = 0, now_ms = 1700000000000 }
  for k, v in pairs(t) do d[k] = v end
  return d
end

-- 1994-11-06 08:49:37 GMT in epoch milliseconds.
local NOV_6_1994_MS = 784111777000

describe("core.retry_policy", function()
  it("accepts nil, {} and a full configuration", function()
    assert.equal("kombo.retry_policy (backoff 500..60000 ms x1.5, max_elapsed_time 300000 ms, max_attempts 10)",
      tostring(policy()))
    assert.matches("^kombo%.retry_policy", tostring(policy({})))
    local p = policy({
      strategy = "backoff",
      backoff = { initial_interval = 100, max_interval = 1000, exponent = 2, max_elapsed_time = 5000 },
      retry_connection_errors = false, retry_codes = { 429, "5XX", "418" }, retry_writes = true,
      max_attempts = 3,
    })
    assert.equal("kombo.retry_policy (backoff 100..1000 ms x2, max_elapsed_time 5000 ms, max_attempts 3, "
      .. "no connection retries, retry_writes)", tostring(p))
    assert.equal("kombo.retry_policy (none)", tostring(policy({ strategy = "none" })))
  end)

  local CODES = 'an array of status codes 100..599 or strings like "429" or "5XX"'
  local bad = {
    { "not a table", "x", "retries", "a table" },
    { "unknown strategy", { strategy = "exponential" }, "retries.strategy", '"backoff" or "none"' },
    { "strategy not a string", { strategy = 1 }, "retries.strategy", '"backoff" or "none"' },
    { "backoff not a table", { backoff = 5 }, "retries.backoff", "a table" },
    { "negative initial_interval", { backoff = { initial_interval = -1 } },
      "retries.backoff.initial_interval", "a number >= 0 (ms)" },
    { "initial_interval as a string", { backoff = { initial_interval = "500" } },
      "retries.backoff.initial_interval", "a number >= 0 (ms)" },
    { "NaN max_interval", { backoff = { max_interval = 0 / 0 } },
      "retries.backoff.max_interval", "a number >= 0 (ms)" },
    { "exponent below 1", { backoff = { exponent = 0.5 } }, "retries.backoff.exponent", "a number >= 1" },
    { "infinite exponent", { backoff = { exponent = math.huge } }, "retries.backoff.exponent", "a number >= 1" },
    { "negative max_elapsed_time", { backoff = { max_elapsed_time = -5 } },
      "retries.backoff.max_elapsed_time", "a number > 0 (ms)" },
    { "max_elapsed_time 0 (no time for an attempt)", { backoff = { max_elapsed_time = 0 } },
      "retries.backoff.max_elapsed_time", "a number > 0 (ms)" },
    { "unknown backoff key", { backoff = { jitter = 1 } }, "retries.backoff.jitter",
      "one of initial_interval, max_interval, exponent, max_elapsed_time" },
    { "unknown key", { retry_writez = true }, "retries.retry_writez",
      "one of strategy, backoff, retry_connection_errors, retry_codes, retry_writes, max_attempts" },
    { "array part in config", { 1 }, "retries[1]",
      "one of strategy, backoff, retry_connection_errors, retry_codes, retry_writes, max_attempts" },
    { "max_attempts 0", { max_attempts = 0 }, "retries.max_attempts", "a whole number >= 1" },
    { "fractional max_attempts", { max_attempts = 2.5 }, "retries.max_attempts", "a whole number >= 1" },
    { "infinite max_attempts", { max_attempts = math.huge }, "retries.max_attempts", "a whole number >= 1" },
    { "retry_writes not boolean", { retry_writes = "yes" }, "retries.retry_writes", "a boolean" },
    { "retry_connection_errors not boolean", { retry_connection_errors = 1 },
      "retries.retry_connection_errors", "a boolean" },
    { "retry_codes not a table", { retry_codes = 429 }, "retries.retry_codes", CODES },
    { "code out of range", { retry_codes = { 429, 600 } }, "retries.retry_codes[2]", CODES },
    { "code below 100", { retry_codes = { 99 } }, "retries.retry_codes[1]", CODES },
    { "fractional code", { retry_codes = { 429.5 } }, "retries.retry_codes[1]", CODES },
    { "bad range string", { retry_codes = { "6XX" } }, "retries.retry_codes[1]", CODES },
    { "garbage string", { retry_codes = { "5X" } }, "retries.retry_codes[1]", CODES },
    { "boolean code", { retry_codes = { true } }, "retries.retry_codes[1]", CODES },
    { "retry_codes with a named key", { retry_codes = { 429, extra = 500 } }, "retries.retry_codes", CODES },
  }
  for _, case in ipairs(bad) do
    it("rejects " .. case[1], function()
      local p, field, expected = core.retry_policy(case[2])
      assert.is_nil(p)
      assert.equal(case[3], field)
      assert.equal(case[4], expected)
    end)
  end
end)

describe("policy:decide", function()
  local default = policy()
  local writes = policy({ retry_writes = true })

  -- method, status, retry_writes, expected delay (random 0, attempt 1) or nil, reason
  local statuses = {
    { "GET", 429, false, 250, "status 429, backoff 250 ms" },
    { "GET", 500, false, 250, "status 500, backoff 250 ms" },
    { "GET", 503, false, 250, "status 503, backoff 250 ms" },
    { "GET", 404, false, nil, "status 404 is not retryable" },
    { "GET", 200, false, nil, "status 200 is not retryable" },
    { "GET", 501, false, nil, "status 501 is not retryable" },
    { "HEAD", 503, false, 250, "status 503, backoff 250 ms" },
    { "POST", 429, false, 250, "status 429, backoff 250 ms" },
    { "POST", 500, false, nil,
      "status 500 on POST is not retried: writes retry only on 429 unless retry_writes is set" },
    { "POST", 503, false, nil,
      "status 503 on POST is not retried: writes retry only on 429 unless retry_writes is set" },
    { "POST", 404, false, nil, "status 404 is not retryable" },
    { "GET", 503, true, 250, "status 503, backoff 250 ms" },
    { "POST", 429, true, 250, "status 429, backoff 250 ms" },
    { "POST", 500, true, 250, "status 500, backoff 250 ms" },
    { "POST", 503, true, 250, "status 503, backoff 250 ms" },
    { "POST", 404, true, nil, "status 404 is not retryable" },
    { "PUT", 503, false, nil,
      "status 503 on PUT is not retried: writes retry only on 429 unless retry_writes is set" },
    { "DELETE", 502, false, nil,
      "status 502 on DELETE is not retried: writes retry only on 429 unless retry_writes is set" },
    { "PATCH", 429, false, 250, "status 429, backoff 250 ms" },
  }
  for _, c in ipairs(statuses) do
    it(("%s %d with retry_writes=%s"):format(c[1], c[2], tostring(c[3])), function()
      local p = c[3] and writes or default
      local delay, reason = p:decide(input({ method = c[1], status = c[2] }))
      assert.equal(c[4], delay)
      assert.equal(c[5], reason)
    end)
  end

  it("follows retry_codes, ranges included", function()
    local p = policy({ retry_codes = { "4XX", 500 } })
    assert.equal(250, (p:decide(input({ status = 409 }))))
    assert.equal(250, (p:decide(input({ status = 500 }))))
    assert.is_nil((p:decide(input({ status = 503 }))))
    local none = policy({ retry_codes = {} })
    assert.equal("status 429 is not retryable", select(2, none:decide(input({ status = 429 }))))
  end)

  -- method, failure reason, sent, config, delay or nil, reason
  local failures = {
    { "GET", "refused", nil, {}, 250, "connection failed (refused) before the request was sent, backoff 250 ms" },
    { "GET", "reset", true, {}, 250, "connection failed (reset) after the request was sent, backoff 250 ms" },
    { "GET", "reset", false, {}, 250, "connection failed (reset) before the request was sent, backoff 250 ms" },
    { "POST", "refused", true, {}, 250, "connection failed (refused) before the request was sent, backoff 250 ms" },
    { "POST", "reset", true, {}, nil,
      "connection failed after the request was sent; POST may have run and is retried only with retry_writes" },
    { "POST", "empty_reply", nil, {}, nil,
      "connection failed after the request was sent; POST may have run and is retried only with retry_writes" },
    { "post", "partial", false, {}, nil,
      "connection failed after the request was sent; post may have run and is retried only with retry_writes" },
    { "POST", "reset", true, { retry_writes = true }, 250,
      "connection failed (reset) after the request was sent, backoff 250 ms" },
    { "GET", "dns", false, { retry_connection_errors = false }, nil,
      "connection failed and retry_connection_errors is off" },
    { "GET", "timeout", true, {}, 250, "timeout, backoff 250 ms" },
    { "POST", "timeout", true, {}, nil,
      "timeout after the request was sent; POST may have run and is retried only with retry_writes" },
    { "POST", "timeout", false, {}, 250, "timeout before the request was sent, backoff 250 ms" },
    { "DELETE", "timeout", true, { retry_writes = true }, 250, "timeout, backoff 250 ms" },
    { "GET", "timeout", true, { retry_connection_errors = false }, nil,
      "timeout and retry_connection_errors is off" },
    -- Failures that a second try cannot change are never retried.
    { "GET", "certificate", false, {}, nil, "certificate cannot succeed on a second try" },
    { "GET", "bad_url", false, {}, nil, "bad_url cannot succeed on a second try" },
    { "GET", "unsupported_protocol", false, {}, nil, "unsupported_protocol cannot succeed on a second try" },
    { "GET", "fd_limit", false, {}, nil, "fd_limit cannot succeed on a second try" },
    { "GET", "out_of_memory", true, {}, nil, "out_of_memory cannot succeed on a second try" },
    { "GET", "too_large", true, {}, nil, "too_large cannot succeed on a second try" },
    { "GET", "content_encoding", true, {}, nil, "content_encoding cannot succeed on a second try" },
    { "POST", "too_large", true, { retry_writes = true }, nil, "too_large cannot succeed on a second try" },
  }
  for _, c in ipairs(failures) do
    it(("%s %s sent=%s"):format(c[1], c[2], tostring(c[3])), function()
      local delay, reason = policy(c[4]):decide(input({ method = c[1], failure = c[2], sent = c[3] }))
      assert.equal(c[5], delay)
      assert.equal(c[6], reason)
    end)
  end

  it("caps the attempts of a call at max_attempts (10 by default)", function()
    local p = policy()
    assert.equal(250, (p:decide(input({ status = 503, attempt = 1 }))))
    assert.is_number((p:decide(input({ status = 503, attempt = 9 }))))
    local delay, reason = p:decide(input({ status = 503, attempt = 10 }))
    assert.is_nil(delay)
    assert.equal("status 503; giving up: max_attempts 10 reached", reason)
    assert.is_nil((policy({ max_attempts = 1 }):decide(input({ failure = "refused", attempt = 1 }))))
  end)

  it("clips an attempt's timeout to what is left of max_elapsed_time", function()
    local p = policy({ backoff = { max_elapsed_time = 1000 } })
    assert.equal(500, p:timeout(500, 0))
    assert.equal(300, p:timeout(500, 700))
    assert.equal(1, p:timeout(500, 999))
    assert.is_nil(p:timeout(500, 999.5))
    assert.is_nil(p:timeout(500, 5000))
    -- strategy none has no budget: the attempt keeps its own timeout
    assert.equal(500, policy({ strategy = "none" }):timeout(500, 5000))
  end)

  it("never retries with strategy none", function()
    local p = policy({ strategy = "none" })
    for _, t in ipairs({ { status = 503 }, { status = 429 }, { failure = "refused", sent = false } }) do
      local delay, reason = p:decide(input(t))
      assert.is_nil(delay)
      assert.equal("retries are off (strategy none)", reason)
    end
  end)

  it("grows the backoff by the exponent and caps it at max_interval", function()
    local p = policy({ backoff = { initial_interval = 100, max_interval = 1000, exponent = 2 }, max_attempts = 2 ^ 53 })
    local expected = { 100, 200, 400, 800, 1000, 1000 }
    for attempt, want in ipairs(expected) do
      assert.equal(want / 2, (p:decide(input({ status = 503, attempt = attempt, random = 0 }))))
    end
    assert.equal(1000 * 0.9995, (p:decide(input({ status = 503, attempt = 1e12, random = 0.999 }))))
    assert.equal(1000 * 0.9995, (p:decide(input({ status = 503, attempt = 2 ^ 53 - 1, random = 0.999 }))))
  end)

  it("keeps jitter within [backoff/2, backoff]", function()
    local p = policy()
    -- attempt 3 with the defaults: 500 * 1.5^2 = 1125 ms
    assert.equal(562.5, (p:decide(input({ status = 503, attempt = 3, random = 0 }))))
    assert.equal(1125 * 0.9995, (p:decide(input({ status = 503, attempt = 3, random = 0.999 }))))
    for i = 0, 100 do
      local d = p:decide(input({ status = 503, attempt = 3, random = i / 101 }))
      assert.is_true(d >= 562.5 and d < 1125)
    end
  end)

  it("handles a zero initial_interval and exponent 1", function()
    assert.equal(0, (policy({ backoff = { initial_interval = 0 }, max_attempts = 50 })
      :decide(input({ status = 503, attempt = 40 }))))
    local flat = policy({ backoff = { initial_interval = 300, exponent = 1 }, max_attempts = 60 })
    assert.equal(300, (flat:decide(input({ status = 503, attempt = 50, random = 1 }))))
  end)

  it("gives up when max_elapsed_time would be exceeded", function()
    local p = policy({ backoff = { initial_interval = 400, max_elapsed_time = 1000 } })
    assert.equal(200, (p:decide(input({ status = 503, elapsed_ms = 800 }))))
    local delay, reason = p:decide(input({ status = 503, elapsed_ms = 801 }))
    assert.is_nil(delay)
    assert.equal("status 503; giving up: the wait of 200 ms would pass max_elapsed_time 1000 ms", reason)
  end)

  it("does not start an attempt that, as long as the last one, would pass max_elapsed_time", function()
    local p = policy({ backoff = { initial_interval = 400, max_elapsed_time = 1000 } })
    assert.equal(200, (p:decide(input({ status = 503, elapsed_ms = 500, attempt_ms = 300 }))))
    local delay, reason = p:decide(input({ status = 503, elapsed_ms = 500, attempt_ms = 301 }))
    assert.is_nil(delay)
    assert.equal("status 503; giving up: the wait of 200 ms and another attempt like this one (301 ms) "
      .. "would pass max_elapsed_time 1000 ms", reason)
  end)

  describe("server hints", function()
    local p = policy()
    local cases = {
      { "Retry-After seconds", { ["retry-after"] = "1" }, 1000, "status 429, Retry-After 1 s" },
      { "Retry-After decimal", { ["retry-after"] = " 1.5 " }, 1500, "status 429, Retry-After 1.5 s" },
      -- The backoff is a floor: "0" or a date in the past cannot start a storm.
      { "Retry-After 0", { ["retry-after"] = "0" }, 250, "status 429, Retry-After 0 s, backoff 250 ms" },
      { "retry-after-ms 0", { ["retry-after-ms"] = "0" }, 250, "status 429, retry-after-ms 0 ms, backoff 250 ms" },
      { "Retry-After below the backoff", { ["retry-after"] = "0.1" }, 250,
        "status 429, Retry-After 0.1 s, backoff 250 ms" },
      { "Retry-After IMF-fixdate", { ["retry-after"] = "Sun, 06 Nov 1994 08:49:40 GMT" }, 3000,
        "status 429, Retry-After date, 3000 ms" },
      { "Retry-After RFC 850", { ["retry-after"] = "Sunday, 06-Nov-94 08:49:42 GMT" }, 5000,
        "status 429, Retry-After date, 5000 ms" },
      { "Retry-After asctime", { ["retry-after"] = "Sun Nov  6 08:49:38 1994" }, 1000,
        "status 429, Retry-After date, 1000 ms" },
      { "Retry-After date in the past", { ["retry-after"] = "Sun, 06 Nov 1994 08:00:00 GMT" }, 250,
        "status 429, Retry-After date, 0 ms, backoff 250 ms" },
      { "retry-after-ms", { ["retry-after-ms"] = "250" }, 250, "status 429, retry-after-ms 250 ms" },
      { "retry-after-ms over Retry-After", { ["retry-after-ms"] = "250", ["retry-after"] = "9" }, 250,
        "status 429, retry-after-ms 250 ms" },
      { "Retry-After over ratelimit-reset", { ["retry-after"] = "2", ["ratelimit-reset"] = "7" }, 2000,
        "status 429, Retry-After 2 s" },
      { "ratelimit-reset seconds", { ["ratelimit-reset"] = "7" }, 7000, "status 429, ratelimit-reset 7000 ms" },
      { "ratelimit-reset epoch", { ["ratelimit-reset"] = "1700000010" }, 10000,
        "status 429, ratelimit-reset 10000 ms", 1700000000000 },
      { "ratelimit-reset epoch in the past", { ["ratelimit-reset"] = "1600000000" }, 250,
        "status 429, ratelimit-reset 0 ms, backoff 250 ms", 1700000000000 },
      { "garbage retry-after-ms falls to Retry-After", { ["retry-after-ms"] = "soon", ["retry-after"] = "3" },
        3000, "status 429, Retry-After 3 s" },
      { "garbage Retry-After", { ["retry-after"] = "later please" }, 250, "status 429, backoff 250 ms" },
      { "negative Retry-After", { ["retry-after"] = "-5" }, 250, "status 429, backoff 250 ms" },
      { "exponent Retry-After", { ["retry-after"] = "1e3" }, 250, "status 429, backoff 250 ms" },
      { "bad date", { ["retry-after"] = "Sun, 31 Feb 1994 08:49:40 GMT" }, 250, "status 429, backoff 250 ms" },
      { "date without GMT", { ["retry-after"] = "Sun, 06 Nov 1994 08:49:40" }, 250, "status 429, backoff 250 ms" },
      -- A wait past the budget gives up at once instead of sleeping it out.
      { "overlong value", { ["retry-after"] = ("9"):rep(100000) }, nil,
        "status 429, Retry-After 1e+15 s; giving up: the wait of 1000000000000000000 ms would pass "
        .. "max_elapsed_time 300000 ms" },
      { "huge hint", { ["retry-after-ms"] = "99999999999" }, nil,
        "status 429, retry-after-ms 99999999999 ms; giving up: the wait of 99999999999 ms would pass "
        .. "max_elapsed_time 300000 ms" },
      -- a list counts as the same values joined, as a header sent twice
      { "list of values", { ["retry-after"] = { "4", "8" } }, 8000, "status 429, Retry-After 8 s" },
      { "list with a number and a non-value", { ["retry-after"] = { "2", true, 3 } }, 3000,
        "status 429, Retry-After 3 s" },
      -- A header sent more than once arrives joined with ", ": the longest wait counts.
      { "repeated Retry-After", { ["retry-after"] = "2, 2" }, 2000, "status 429, Retry-After 2 s" },
      { "repeated Retry-After, the longest", { ["retry-after"] = "1, 3, soon, 2" }, 3000,
        "status 429, Retry-After 3 s" },
      { "repeated Retry-After dates", { ["retry-after"] = "Sun, 06 Nov 1994 08:49:40 GMT, 2" }, 3000,
        "status 429, Retry-After date, 3000 ms" },
      { "repeated retry-after-ms", { ["retry-after-ms"] = "0, 400" }, 400, "status 429, retry-after-ms 400 ms" },
      { "repeated ratelimit-reset", { ["ratelimit-reset"] = "7, 5" }, 7000, "status 429, ratelimit-reset 7000 ms" },
      { "non-text header", { ["retry-after"] = true }, 250, "status 429, backoff 250 ms" },
    }
    for _, c in ipairs(cases) do
      it(c[1], function()
        local delay, reason = p:decide(input({ status = 429, headers = c[2], now_ms = c[5] or NOV_6_1994_MS }))
        assert.equal(c[3], delay)
        assert.equal(c[4], reason)
      end)
    end

    it("applies Retry-After to a 503 but ratelimit-reset only to a 429", function()
      local h = { ["retry-after"] = "2" }
      assert.equal(2000, (p:decide(input({ status = 503, headers = h }))))
      h = { ["ratelimit-reset"] = "7" }
      assert.equal("status 503, backoff 250 ms", select(2, p:decide(input({ status = 503, headers = h }))))
    end)

    it("ignores dates when no clock is given", function()
      local t = input({ status = 429, headers = { ["retry-after"] = "Sun, 06 Nov 1994 08:49:40 GMT" } })
      t.now_ms = nil
      assert.equal("status 429, backoff 250 ms", select(2, p:decide(t)))
    end)

    it("gives up when the server asks for more than the remaining time", function()
      local short = policy({ backoff = { max_elapsed_time = 1000 } })
      local delay, reason = short:decide(input({ status = 429, elapsed_ms = 500, headers = { ["retry-after"] = "1" } }))
      assert.is_nil(delay)
      assert.equal("status 429, Retry-After 1 s; giving up: the wait of 1000 ms would pass max_elapsed_time 1000 ms",
        reason)
    end)
  end)

  local misuse = {
    { "no table", nil, "bad argument" },
    { "no method", { attempt = 1, status = 503 }, "method must be a string" },
    { "attempt 0", { method = "GET", attempt = 0, status = 503 }, "attempt must be a number >= 1" },
    { "no status or failure", { method = "GET", attempt = 1 }, "one of status or failure is required" },
    { "unknown failure", { method = "GET", attempt = 1, failure = "gremlins" }, "failure must be nil" },
    { "random out of range", { method = "GET", attempt = 1, status = 503, random = 2 }, "random must be in" },
    { "fractional status", { method = "GET", attempt = 1, status = 503.5 }, "status must be an integer" },
    { "NaN elapsed", { method = "GET", attempt = 1, status = 503, elapsed_ms = 0 / 0 }, "elapsed_ms must be finite" },
  }
  for _, c in ipairs(misuse) do
    it("raises on misuse: " .. c[1], function()
      local ok, err = pcall(default.decide, default, c[2])
      assert.is_false(ok)
      assert.matches(c[3], err, 1, true)
    end)
  end
end)

describe("core.parse_retry_after", function()
  local cases = {
    { "120", nil, 120000 },
    { "0.25", nil, 250 },
    { "\t3 ", nil, 3000 },
    { "Sun, 06 Nov 1994 08:49:37 GMT", NOV_6_1994_MS, 0 },
    { "Sun, 06 Nov 1994 08:49:37 GMT", 0, NOV_6_1994_MS },
    { "sun, 06 nov 1994 08:49:37 gmt", 0, NOV_6_1994_MS },
    { "Sunday, 06-Nov-94 08:49:37 GMT", 0, NOV_6_1994_MS },
    { "Sun Nov  6 08:49:37 1994", 0, NOV_6_1994_MS },
    { "Thu, 01 Jan 1970 00:00:00 GMT", 0, 0 },
    { "Tue, 29 Feb 2000 23:59:60 GMT", 0, 951868800000 },
    { "Wednesday, 01-Mar-34 00:00:00 GMT", 0, 2024784000000 },
    { "Fri, 31 Dec 9999 23:59:59 GMT", 0, 253402300799000 },
    { "", 0, nil },
    { "   ", 0, nil },
    { "1.", 0, nil },
    { ".5", 0, nil },
    { "+1", 0, nil },
    { "0x10", 0, nil },
    { "Sun, 06 Nov 1994 08:49:37 GMT", nil, nil },
    { "Sun, 06 Nov 1994 24:00:00 GMT", 0, nil },
    { "Sun, 29 Feb 1900 00:00:00 GMT", 0, nil },
    { "Sun, 06 Nov 1994 08:49:37 GMT trailing", 0, nil },
    { "Sun, 06 Nov 1994 08:49:37 GMTX", 0, nil },
    { "Sun, 06 Nox 1994 08:49:37 GMT", 0, nil },
    { "Sunday, 06 Nov 1994 08:49:37 GMT", 0, nil },
    { "Sun,06 Nov 1994 08:49:37 GMT", 0, nil },
    { "Sun Nov  6 08:49:37", 0, nil },
    { "Sun, 06 Nov 1994 08:49", 0, nil },
    { "1\0002", 0, nil },
  }
  for _, c in ipairs(cases) do
    it(("%q"):format(c[1]:sub(1, 40)), function()
      assert.equal(c[3], core.parse_retry_after(c[1], c[2]))
    end)
  end

  it("survives random bytes", function()
    local seed = 12345
    for _ = 1, 2000 do
      local bytes = {}
      for i = 1, (seed % 40) do
        seed = (seed * 1103515245 + 12345) % 2147483648
        bytes[i] = string.char(seed % 256)
      end
      local v = core.parse_retry_after(table.concat(bytes), 0)
      assert.is_true(v == nil or v >= 0)
      seed = seed + 1
    end
  end)
end)

describe("core.next_query", function()
  local cases = {
    { "no cursor", "page_size=5", nil, nil },
    { "JSON null", "page_size=5", cjson.null, nil },
    { "empty cursor", "page_size=5", "", nil },
    { "non-string cursor", "page_size=5", 42, nil },
    { "plain cursor", "page_size=5", "abc", "page_size=5&cursor=abc" },
    { "empty query", "", "abc", "cursor=abc" },
    { "special chars", "page_size=5", "a+b/c=", "page_size=5&cursor=a%2Bb%2Fc%3D" },
    { "special chars, empty query", "", "a+b/c=", "cursor=a%2Bb%2Fc%3D" },
    { "unreserved kept, rest encoded", "", "Az09-._~ %&\255", "cursor=Az09-._~%20%25%26%FF" },
  }
  for _, c in ipairs(cases) do
    it(c[1], function()
      assert.equal(c[4], core.next_query(c[2], c[3]))
    end)
  end
end)
