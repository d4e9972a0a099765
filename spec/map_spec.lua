-- kombo.map against the sandbox: every item's result in list order, at
-- most `concurrency` items at the server at once (from the sandbox's log),
-- failures kept per index without stopping the others, from plain Lua and
-- from inside a task (nginx: spec/ngx_spec.lua).
local kombo = require("kombo")
local sandbox = require("support.sandbox")

describe("kombo.map", function()
  local sb, client

  setup(function() sb = sandbox.start() end)
  teardown(function() sb:stop() end)
  before_each(function()
    sb:reset()
    client = sb:client({ retries = { strategy = "none" } })
  end)
  after_each(function() client:close() end)

  -- Each item reads one page of tags, of size i, held 30 ms at the server.
  local function sizes(n)
    local list = {}
    for i = 1, n do list[i] = i end
    return list
  end
  local function tags(size) return assert(client.ats:get_tags({ page_size = size })).data.results end

  it("returns fn's results in list order, with at most `concurrency` items at the server at once", function()
    sb:fault({ path = "/v1/ats/tags", delay_ms = 30, times = -1 })
    local results = assert(kombo.map(sizes(12), function(size, i)
      assert.equal(size, i)
      return #tags(size)
    end, { concurrency = 4 }))
    local want = #tags(100)
    for i = 1, 12 do assert.equal(math.min(i, want), results[i]) end
    local reqs = sb:requests()
    assert.equal(13, #reqs)
    table.remove(reqs) -- the check above
    assert.equal(4, sandbox.max_overlap(reqs))
  end)

  it("defaults to 30 at once", function()
    sb:fault({ path = "/v1/ats/tags", delay_ms = 30, times = -1 })
    assert(kombo.map(sizes(40), function(size) return tags(size) end))
    assert.equal(30, sandbox.max_overlap(sb:requests()))
  end)

  it("keeps each failure at its index and runs every other item", function()
    sb:fault({ path = "/v1/ats/users", status = 503, times = -1 })
    local ran = {}
    local results, errs, partial = kombo.map(sizes(6), function(size, i)
      ran[#ran + 1] = i
      if i == 2 then error("item two broke") end
      if i == 5 then return nil, "five said no" end
      if i == 3 then return client.ats:get_users() end
      return client.ats:get_tags({ page_size = size })
    end, { concurrency = 2 })
    assert.is_nil(results)
    table.sort(ran)
    assert.same({ 1, 2, 3, 4, 5, 6 }, ran)
    assert.matches("item two broke", errs[2], 1, true)
    assert.matches("stack traceback", errs[2], 1, true)
    assert.equal("api", errs[3].kind)
    assert.equal(503, errs[3].status)
    assert.equal("get_users", errs[3].operation)
    assert.equal("five said no", errs[5])
    assert.is_nil(errs[1] or errs[4] or errs[6])
    for _, i in ipairs({ 1, 4, 6 }) do assert.equal(i, #partial[i].data.results) end
    -- What map collected is not reported again by kombo.run.
    assert.is_true(kombo.run())
  end)

  it("runs inside a task, yielding while the other tasks go on", function()
    sb:fault({ path = "/v1/ats/tags", delay_ms = 50, times = -1 })
    local got, users
    kombo.spawn(function()
      got = assert(kombo.map({ 1, 2, 3 }, function(size) return #tags(size) end))
    end)
    kombo.spawn(function() users = assert(client.ats:get_users({ page_size = 2 })) end)
    assert.is_true(kombo.run())
    assert.same({ 1, 2, 3 }, got)
    assert.equal(2, #users.data.results)
    local first_tags, the_users
    for _, r in ipairs(sb:requests()) do
      if r.path == "/v1/ats/tags" then first_tags = first_tags or r else the_users = r end
    end
    assert.is_true(the_users.at_ms < first_tags.done_ms, "the map held the other task back")
  end)

  -- It reported every item failed, and the items ran afterwards all the
  -- same: a caller retrying the failed writes sent each twice.
  it("from a coroutine of the caller's own inside a task, cannot wait: it says so and runs no item", function()
    local ran, r, err = 0, nil, nil
    kombo.spawn(function()
      r, err = coroutine.wrap(function()
        return kombo.map({ 1, 2, 3 }, function(size) ran = ran + 1; return #tags(size) end)
      end)()
    end)
    assert.is_true(kombo.run())
    assert.is_nil(r)
    assert.equal("invalid_request", err.kind)
    assert.equal("call", err.field)
    assert.equal(0, ran)
    assert.same({}, sb:requests(function(q) return q.path == "/v1/ats/tags" end))
  end)

  it("returns an empty list for an empty one, and checks its arguments", function()
    assert.same({}, kombo.map({}, function() error("not called") end))
    for _, case in ipairs({
      { "list", nil, function() end },
      { "fn", {}, "not a function" },
      { "opts.concurrency", {}, function() end, { concurrency = 0 } },
      { "opts.concurrency", {}, function() end, { concurrency = 2.5 } },
      { "opts.concurrency", {}, function() end, { concurrency = "4" } },
      { "opts.limit", {}, function() end, { limit = 4 } },
    }) do
      local r, err = kombo.map(case[2], case[3], case[4])
      assert.is_nil(r)
      assert.equal("invalid_request", err.kind)
      assert.equal(case[1], err.field)
    end
  end)
end)
