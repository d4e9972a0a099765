-- Cursor pagination: every record exactly once, in order, also when pages
-- fail and are retried; a failure that outlives its retries is raised out
-- of the loop with the cursor to resume from.
local kombo = require("kombo")
local sandbox = require("support.sandbox")

local FAST = { backoff = { initial_interval = 1, max_interval = 5, exponent = 1.5, max_elapsed_time = 5000 } }

describe("pagination", function()
  local sb = sandbox.fixture()
  local client

  before_each(function() client = sb:client({ retries = FAST }) end)
  after_each(function() client:close() end)

  local function all_ids(page)
    local ids = {}
    for app in page:items() do ids[#ids + 1] = app.id end
    return ids
  end

  it("keeps methods off the JSON: pairs(page) shows the response only", function()
    local page = assert(client.ats:get_tags({ page_size = 2 }))
    local keys = {}
    for k in pairs(page) do keys[#keys + 1] = k end
    table.sort(keys)
    assert.same({ "data", "status" }, keys)
    assert.is_function(page.next)
    assert.is_function(page.items)
  end)

  it("called with a dot instead of a colon says so, fetching nothing", function()
    local page = assert(client.ats:get_tags({ page_size = 2 }, { prefetch = false }))
    for _, method in ipairs({ "next", "pages", "items" }) do
      local ok, res, err = pcall(function()
        if method == "next" then return page.next() end
        for _ in page[method]({ data = page.data }) do error("a walk of no page yielded something") end
      end)
      if method ~= "next" then ok, err = not ok, res end
      assert.is_true(ok, tostring(res))
      assert.equal("invalid_request", err.kind)
      assert.equal("call", err.field)
      assert.equal("call: a method call with a colon: page:" .. method .. "(), not page." .. method .. "()",
        err.message)
    end
    assert.equal(1, #sb:requests())
  end)

  it("called with a colon on a copy of a page says it is no page the SDK returned", function()
    local page = assert(client.ats:get_tags({ page_size = 2 }, { prefetch = false }))
    local copy = setmetatable({ data = page.data }, getmetatable(page))
    local res, err = copy:next()
    assert.is_nil(res)
    assert.equal("page", err.field)
    assert.matches("a page an operation returned: page:next() on a copy", err.message, 1, true)
    local ok, raised = pcall(function() for _ in copy:items() do end end)
    assert.is_false(ok)
    assert.equal("page", raised.field)
    assert.equal(1, #sb:requests())
  end)

  it("re-sends the original filters with every cursor and stops on next null", function()
    local page = assert(client.ats:get_applications({ page_size = 40, outcome = "PENDING", include_deleted = false }))
    local n, pages = 0, 0
    for p in page:pages() do
      pages = pages + 1
      for _, app in ipairs(p.data.results) do
        n = n + 1
        assert.equal("PENDING", app.outcome)
      end
    end
    assert.is_true(pages > 1)
    local reqs = sb:requests()
    assert.equal(pages, #reqs)
    assert.equal("page_size=40&include_deleted=false&outcome=PENDING", reqs[1].query)
    for i = 2, #reqs do
      assert.matches("^page_size=40&include_deleted=false&outcome=PENDING&cursor=[^&]+$", reqs[i].query)
    end
    local last = page
    for p in page:pages() do last = p end
    assert.equal(kombo.null, last.data.next)
    assert.is_nil(last:next())
    assert.is_true(n > 40)
  end)

  -- The walk's coroutine is dead once it ended: resuming it again raised
  -- "cannot resume dead coroutine".
  it("an iterator called again after the walk ended returns nil again, sending nothing", function()
    for _, case in ipairs({ { "items", 10 }, { "pages", 10 }, { "items", 250 }, { "pages", 250 } }) do
      local page = assert(client.ats:get_jobs({ page_size = case[2] }))
      local it = page[case[1]](page)
      while it() do end
      sb:clear_requests()
      assert.same({ true }, { pcall(it) }, case[1] .. " " .. case[2])
      assert.same({ true }, { pcall(it) })
      assert.same({}, sb:requests())
    end
  end)

  it("one iterator shared by two coroutines gives each item once, then nil to both", function()
    local it = assert(client.ats:get_jobs({ page_size = 2 })):items()
    local seen, ended = {}, {}
    local function worker(name)
      return coroutine.create(function()
        for job in it do
          seen[#seen + 1] = job.id
          coroutine.yield()
        end
        ended[#ended + 1] = name
      end)
    end
    local workers = { worker("a"), worker("b") }
    repeat
      for _, co in ipairs(workers) do
        if coroutine.status(co) ~= "dead" then assert(coroutine.resume(co)) end
      end
    until #ended == 2
    local ids = {}
    for job in assert(client.ats:get_jobs({ page_size = 250 })):items() do ids[#ids + 1] = job.id end
    assert.same(ids, seen)
  end)

  it("yields every item exactly once, in order, when the first attempt of every page fails", function()
    local expected = all_ids(assert(client.ats:get_applications({ page_size = 10 })))
    assert.equal(60, math.ceil(#expected / 10))
    sb:reset()
    sb:fault({ path = "/v1/ats/applications", once_per_query = true, times = -1, status = 503 })
    local got = all_ids(assert(client.ats:get_applications({ page_size = 10 })))
    assert.same(expected, got)
    assert.equal(120, #sb:requests())

    sb:reset()
    sb:fault({ path = "/v1/ats/applications", once_per_query = true, times = -1, action = "reset_before_response" })
    got = all_ids(assert(client.ats:get_applications({ page_size = 10 })))
    assert.same(expected, got)
  end)

  it("raises the error object out of the loop with the cursor of the failed page, and resumes from it", function()
    local expected = all_ids(assert(client.ats:get_applications({ page_size = 100 })))
    local first = assert(client.ats:get_applications({ page_size = 100 }))
    sb:fault({ path = "/v1/ats/applications", status = 500, times = -1 })
    local seen = {}
    local ok, err = pcall(function()
      for app in first:items() do seen[#seen + 1] = app.id end
    end)
    assert.is_false(ok)
    assert.equal("api", err.kind)
    assert.equal(500, err.status)
    assert.equal("get_applications", err.operation)
    assert.is_true(err.attempts > 1)
    assert.equal(first.data.next, err.cursor)
    assert.equal(100, #seen)
    sb:clear_faults()
    local resumed = assert(client.ats:get_applications({ page_size = 100, cursor = err.cursor }))
    for app in resumed:items() do seen[#seen + 1] = app.id end
    assert.same(expected, seen)
  end)

  it("keeps only the current page alive: the heap stays flat over 200 pages", function()
    local page = assert(client.ats:get_applications({ page_size = 3 }))
    local samples, n, pages = {}, 0, 0
    for p in page:pages() do
      pages = pages + 1
      n = n + #p.data.results
      if pages % 20 == 0 then
        collectgarbage("collect")
        samples[#samples + 1] = collectgarbage("count")
      end
    end
    assert.is_true(pages >= 200, "pages " .. pages)
    -- Later samples may not grow past the first by more than a page's worth.
    for i = 2, #samples do
      assert.is_true(samples[i] - samples[1] < 64,
        ("heap grew from %.0f KiB to %.0f KiB"):format(samples[1], samples[i]))
    end
  end)
end)
