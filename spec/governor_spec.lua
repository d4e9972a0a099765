-- The write governor against the sandbox, which enforces Kombo's cap on an
-- integration's writes in flight (429 PLATFORM.CONCURRENCY_LIMIT_EXCEEDED)
-- and records, for each write, how many were in flight when it arrived:
-- the SDK never sends more than the cap, shares it between clients of one
-- integration, narrows it from Concurrency-Limit/-Remaining, and never
-- loses a place to an error, a refusal or a dropped coroutine.
local kombo = require("kombo")
local governor = require("kombo.governor")
local sandbox = require("support.sandbox")

local NO_RETRIES = { strategy = "none" }

describe("the write governor", function()
  local sb, app_id
  local clients = {}

  setup(function()
    sb = sandbox.start()
    local c = sb:client()
    app_id = assert(c.ats:get_applications({ page_size = 1 })).data.results[1].id
    c:close()
  end)
  teardown(function() sb:stop() end)
  before_each(function() sb:reset() end)
  after_each(function()
    for i = #clients, 1, -1 do clients[i]:close(); clients[i] = nil end
    assert.equal(0, governor.state(sb.integration_id).active)
  end)

  local function client(opts)
    local c = sb:client(opts)
    clients[#clients + 1] = c
    return c
  end

  local function note(c, i)
    return c.ats:add_application_note({ application_id = app_id,
      body = { content = "note " .. i, content_type = "PLAIN_TEXT" } })
  end

  -- Spawns n writes spread over `cs` (round robin); true when all succeeded.
  local function burst(cs, n)
    for i = 1, n do
      kombo.spawn(function() assert(note(cs[(i - 1) % #cs + 1], i)) end)
    end
    return kombo.run()
  end

  -- n writes spawned over `cs` all succeed, without one refused, and at
  -- most `most` were at the sandbox at once (as it counted them on
  -- arrival, and from their start and end times), reaching it.
  local function assert_burst(cs, n, most)
    sb:clear_requests()
    local ok, errs = burst(cs, n)
    assert.is_true(ok, errs and tostring(errs[1]))
    local w, seen, refused = sandbox.writes(sb:requests())
    assert.equal(n, #w)
    assert.equal(0, refused)
    assert.equal(most, seen)
    assert.equal(most, sandbox.max_overlap(w))
  end

  -- Every write is held at the sandbox a while, so they overlap.
  local function slow_writes(ms)
    sb:fault({ method = "POST", delay_ms = ms or 50, times = -1 })
  end

  it("keeps 100 spawned writes of two clients of one integration under Kombo's 30 in flight, and reaches 30", function()
    slow_writes()
    assert_burst({ client(), client() }, 100, 30)
  end)

  it("keeps at most max_in_flight_writes = 5, however many are spawned", function()
    slow_writes()
    assert_burst({ client({ max_in_flight_writes = 5 }) }, 40, 5)
  end)

  it("counts a write a before_request hook sends for another integration under the one it is sent for", function()
    slow_writes()
    local moved = client({ integration_id = "int_elsewhere", max_in_flight_writes = 5, hooks = {
      before_request = function(exchange) exchange.headers["X-Integration-Id"] = sb.integration_id end,
    } })
    assert_burst({ client({ max_in_flight_writes = 5 }), moved }, 40, 5)
    assert.equal(0, governor.state("int_elsewhere").active)
  end)

  it("leaves reads alone: they are not counted", function()
    sb:fault({ path = "/v1/ats/tags", delay_ms = 50, times = -1 })
    local c = client({ max_in_flight_writes = 1 })
    for _ = 1, 10 do kombo.spawn(function() assert(c.ats:get_tags()) end) end
    assert.is_true(kombo.run())
    assert.equal(10, sandbox.max_overlap(sb:requests()))
  end)

  it("narrows to the integration's Concurrency-Limit, and widens again when it grows", function()
    slow_writes()
    sb:concurrency({ limit = 8 })
    local c = client()
    assert(note(c, 0)) -- one answer teaches the governor the cap
    assert.equal(8, governor.state(sb.integration_id).cap)
    assert_burst({ c }, 40, 8)

    sb:concurrency({ limit = 30 })
    sb:clear_requests()
    assert.is_true(burst({ c }, 60))
    local _, most, refused = sandbox.writes(sb:requests())
    assert.equal(0, refused)
    assert.is_true(most > 8, "stayed at " .. most)
    assert.is_true(most <= 30)
  end)

  it("narrows to what other processes leave (Concurrency-Remaining)", function()
    slow_writes()
    sb:concurrency({ held = 20 }) -- someone else holds 20 of the 30
    local c = client()
    assert(note(c, 0))
    assert.equal(10, governor.state(sb.integration_id).cap)
    assert_burst({ c }, 40, 10)
  end)

  it("gives every place back after errors, refusals and resets: a later burst still reaches the limit", function()
    local c = client({ max_in_flight_writes = 5, retries = NO_RETRIES })
    sb:fault({
      { method = "POST", status = 503, times = 3 },
      { method = "POST", action = "reset_before_response", times = 3 },
      { method = "POST", status = 429, code = "PLATFORM.CONCURRENCY_LIMIT_EXCEEDED", times = 3 },
      { method = "POST", delay_ms = 50, times = -1 },
    })
    local failed = 0
    for i = 1, 20 do
      kombo.spawn(function()
        local r = note(c, i)
        if not r then failed = failed + 1 end
      end)
    end
    assert.is_true(kombo.run())
    assert.equal(9, failed)
    assert.equal(0, governor.state(sb.integration_id).active)
    assert_burst({ c }, 20, 5)
  end)

  it("starts a write's max_elapsed_time when it has a place: the last of a long queue still goes", function()
    slow_writes(100)
    local c = client({ max_in_flight_writes = 1, retries = { backoff = { max_elapsed_time = 250 } } })
    local ok, errs = burst({ c }, 5) -- the fifth waits about 400 ms for its place
    assert.is_true(ok, errs and tostring(errs[1]))
    local w, most = sandbox.writes(sb:requests())
    assert.equal(5, #w)
    assert.equal(1, most)
  end)

  -- A place handed to a waiter belongs to the waiter's call: the call that
  -- gave it back ending must not free it while the waiter's write runs.
  it("keeps a handed-over place held after the call that gave it back has ended", function()
    slow_writes(300)
    local c = client({ max_in_flight_writes = 1 })
    kombo.spawn(function() assert(note(c, 1)) end) -- holds the place, then ends
    kombo.spawn(function() assert(note(c, 2)) end) -- waits, and gets it
    kombo.spawn(function()
      require("kombo.drivers.tasks").sleep(450) -- while the second write runs
      assert(note(c, 3))
    end)
    assert.is_true(kombo.run())
    local w, most = sandbox.writes(sb:requests())
    assert.equal(3, #w)
    assert.equal(1, most)
  end)

  it("retries a write refused with 429 CONCURRENCY_LIMIT_EXCEEDED, in a new place", function()
    local c = client({ retries = { backoff = { initial_interval = 10, max_interval = 20 } } })
    sb:fault({ method = "POST", status = 429, code = "PLATFORM.CONCURRENCY_LIMIT_EXCEEDED", times = 2 })
    local r = assert(note(c, 1))
    assert.equal(3, kombo.meta(r).attempts)
  end)

  -- The caller's logger yields the caller's own coroutine while its write
  -- holds the only place (the SDK's calls never yield a coroutine that is
  -- not a task's: there they block). PUC Lua 5.1 cannot yield out of a
  -- logger (it runs under pcall), so there no call is left mid-way.
  local it_yields = require("kombo.compat").YIELD_IN_FOR and it or pending
  it_yields("gives back the place of a call whose coroutine was dropped mid-call", function()
    local yieldable = require("kombo.compat").yieldable
    local c = client({ max_in_flight_writes = 1, logger = function(_, message)
      if message == "request" and yieldable() then coroutine.yield() end
    end })
    local after
    kombo.spawn(function()
      -- A coroutine of the caller's own starts a write and is dropped
      -- while the write holds the only place.
      local co = coroutine.create(function() note(c, 1) end)
      coroutine.resume(co)
      assert.equal(1, governor.state(sb.integration_id).active)
      co = nil -- luacheck: ignore 311
      after = assert(note(c, 2))
    end)
    assert.is_true(kombo.run())
    assert.equal("success", after.status)
  end)

  it("counts a blocking write, and a blocking call waits for places tasks hold", function()
    slow_writes(100)
    local c = client({ max_in_flight_writes = 2 })
    kombo.spawn(function() assert(note(c, 1)) end)
    kombo.spawn(function() assert(note(c, 2)) end)
    -- Start both tasks' writes (Neovim's loop would), then write blocking.
    local tasks = require("kombo.drivers.tasks")
    while governor.state(sb.integration_id).active < 2 do tasks.step(10) end
    assert(note(c, 3))
    assert.is_true(kombo.run())
    local w, most = sandbox.writes(sb:requests())
    assert.equal(3, #w)
    assert.equal(2, most)
  end)

  it("checks max_in_flight_writes and shared_dict before anything is sent", function()
    for _, bad in ipairs({ 0, -1, 1.5, 0 / 0, math.huge }) do
      local c, err = kombo.new({ api_key = "k", max_in_flight_writes = bad })
      assert.is_nil(c)
      assert.equal("invalid_request", err.kind)
      assert.equal("max_in_flight_writes", err.field)
      assert.matches("whole number >= 1", err.message, 1, true)
    end
    local _, err = kombo.new({ api_key = "k", max_in_flight_writes = "30" })
    assert.equal("max_in_flight_writes", err.field)
    -- A lua_shared_dict exists only inside OpenResty (spec/ngx_spec.lua).
    _, err = kombo.new({ api_key = "k", shared_dict = "kombo" })
    assert.equal("shared_dict", err.field)
    assert.matches("outside OpenResty", err.message, 1, true)
  end)
end)
