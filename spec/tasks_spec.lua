-- kombo.spawn/run in plain Lua: tasks' requests run at once over the C
-- core's multi handle, failures stay inside their task, errors raised in a
-- task reach kombo.run()'s caller, and pages iterate inside tasks.
local kombo = require("kombo")
local core = require("kombo.core")
local drivers = require("kombo.drivers")
local sandbox = require("support.sandbox")

local NO_RETRIES = { strategy = "none" }

describe("kombo.spawn / kombo.run", function()
  local sb, client

  setup(function() sb = sandbox.start() end)
  teardown(function() sb:stop() end)
  before_each(function()
    sb:reset()
    client = assert(kombo.new({
      api_key = sb.api_key, integration_id = sb.integration_id, server_url = sb.url, retries = NO_RETRIES,
    }))
  end)
  after_each(function() client:close() end)

  it("finishes 20 tasks whose requests each take 500 ms in under a second", function()
    local _, want = sb:request("GET", "/ats/tags")
    sb:clear_requests()
    sb:fault({ path = "/v1/ats/tags", delay_ms = 500, times = -1 })
    local got = {}
    for i = 1, 20 do
      kombo.spawn(function()
        local tags, err = client.ats:get_tags()
        got[i] = tags and #tags.data.results or tostring(err)
      end)
    end
    local t0 = core.now_ms()
    kombo.run()
    local took = core.now_ms() - t0
    for i = 1, 20 do assert.equal(#want.data.results, got[i]) end
    -- The sandbox's libuv timer counts whole milliseconds and may end 1 ms early.
    assert.is_true(took >= 499 and took < 1000, "20 tasks took " .. took .. " ms")
    assert.equal(20, #sb:requests())
  end)

  it("passes arguments to the task function", function()
    local seen
    kombo.spawn(function(a, b) seen = a .. b end, "x", "y")
    kombo.run()
    assert.equal("xy", seen)
  end)

  it("keeps a failure inside its task: each task sees its own nil, err", function()
    sb:fault({ path = "/v1/ats/tags", status = 503, times = -1 })
    local refused = assert(kombo.new({ api_key = sb.api_key, integration_id = sb.integration_id,
      server_url = "http://127.0.0.1:" .. sandbox.free_port() .. "/v1", retries = NO_RETRIES }))
    local r = {}
    kombo.spawn(function() r.tags = { client.ats:get_tags() } end)
    kombo.spawn(function() r.refused = { refused.ats:get_users() } end)
    kombo.spawn(function() r.users = { client.ats:get_users({ page_size = 3 }) } end)
    kombo.run()
    refused:close()

    assert.is_nil(r.tags[1])
    assert.equal("api", r.tags[2].kind)
    assert.equal(503, r.tags[2].status)
    assert.equal("get_tags", r.tags[2].operation)

    assert.is_nil(r.refused[1])
    assert.equal("connection", r.refused[2].kind)
    assert.equal("refused", r.refused[2].reason)
    assert.equal("get_users", r.refused[2].operation)

    assert.is_nil(r.users[2])
    assert.equal(3, #r.users[1].data.results)
  end)

  it("re-raises an error from a task in kombo.run() with its traceback, after the others finish", function()
    local function fails_deep() error("boom in a task") end
    local done = false
    kombo.spawn(function() fails_deep() end)
    kombo.spawn(function()
      assert(client.ats:get_tags())
      done = true
    end)
    local ok, err = pcall(kombo.run)
    assert.is_false(ok)
    assert.is_string(err)
    assert.matches("boom in a task", err, 1, true)
    assert.matches("stack traceback", err, 1, true)
    assert.matches("fails_deep", err, 1, true)
    assert.is_true(done)
    -- The scheduler is clean for the next run.
    local again = false
    kombo.spawn(function() again = true end)
    kombo.run()
    assert.is_true(again)
  end)

  it("re-raises a kombo error object raised in a task with a traceback field", function()
    sb:fault({ path = "/v1/ats/tags", status = 404, times = 1 })
    kombo.spawn(function()
      local tags, e = client.ats:get_tags()
      if not tags then error(e) end
    end)
    local ok, err = pcall(kombo.run)
    assert.is_false(ok)
    assert.equal("table", type(err))
    assert.equal("api", err.kind)
    assert.equal(404, err.status)
    assert.matches("stack traceback", err.traceback, 1, true)
  end)

  it("iterates pages and items inside tasks, alongside other tasks", function()
    local want = 0
    for p in assert(client.ats:get_applications({ page_size = 50 })):pages() do want = want + #p.data.results end
    assert.is_true(want > 150)
    sb:clear_requests()
    sb:fault({ path = "/v1/ats/applications", delay_ms = 100, times = -1 })
    -- One walk alone, under the same load, as the yardstick for overlap.
    local one = 0
    if drivers.YIELD_IN_FOR then
      kombo.spawn(function()
        for _ in assert(client.ats:get_applications({ page_size = 50 })):items() do end
      end)
      local t1 = core.now_ms()
      kombo.run()
      one = core.now_ms() - t1
    end

    local pages, items, ids = 0, 0, {}
    kombo.spawn(function()
      for p in assert(client.ats:get_applications({ page_size = 50 })):pages() do
        pages = pages + 1
        for _, a in ipairs(p.data.results) do ids[a.id] = true end
      end
    end)
    kombo.spawn(function()
      for _ in assert(client.ats:get_applications({ page_size = 50 })):items() do items = items + 1 end
    end)
    local t0 = core.now_ms()
    kombo.run()
    local took = core.now_ms() - t0
    local distinct = 0
    for _ in pairs(ids) do distinct = distinct + 1 end
    assert.equal(want, distinct)
    assert.equal(want, items)
    assert.equal(math.ceil(want / 50), pages)
    -- Both walks ran at once: well under twice one walk alone. PUC Lua
    -- 5.1 cannot yield out of a for-in iterator, so there a walk's page
    -- fetches block (correct results, no overlap).
    if drivers.YIELD_IN_FOR then
      assert.is_true(took < one * 1.75,
        ("two walks of %d pages took %.0f ms, one took %.0f ms"):format(pages, took, one))
    else
      assert.is_true(took >= 2 * (pages - 1) * 99, "two blocking walks took only " .. took .. " ms")
    end
  end)

  it("overlaps page walks made with page:next() on every Lua version", function()
    sb:fault({ path = "/v1/ats/applications", delay_ms = 100, times = -1 })
    local counts, pages = {}, 0
    local function walks(n)
      for t = 1, n do
        kombo.spawn(function()
          local p = assert(client.ats:get_applications({ page_size = 100 }))
          counts[t] = 0
          while p do
            if t == 1 then pages = pages + 1 end
            counts[t] = counts[t] + #p.data.results
            local err
            p, err = p:next()
            assert(not err, tostring(err))
          end
        end)
      end
      local t0 = core.now_ms()
      kombo.run()
      return core.now_ms() - t0
    end
    -- One walk alone first, under the same load: the sandbox's own work per
    -- page (one process serving both walks) is part of both timings, so two
    -- walks that overlap take well under twice one walk.
    local one = walks(1)
    pages = 0
    local two = walks(2)
    assert.is_true(pages > 3)
    assert.equal(counts[1], counts[2])
    assert.is_true(two < one * 1.75, ("two walks of %d pages took %.0f ms, one took %.0f ms"):format(pages, two, one))
  end)

  it("blocks as before outside a task", function()
    local tags = assert(client.ats:get_tags())
    assert.equal("success", tags.status)
  end)
end)
