-- Prefetch (README "Performance", docs/DRIVERS.md): while the caller holds
-- page N, page N+1 is already requested. One case table, run against every
-- driver as spec/drivers_spec.lua does; what went over the wire is read
-- from the sandbox's request log, never from the clock of this process.
local sandbox = require("support.sandbox")
local drivers = require("support.drivers")

local APPS, TAGS = "/v1/ats/applications", "/v1/ats/tags"
-- The seeded applications in pages of 250: three pages.
local PAGE, PAGES = 250, 3
-- How long the sandbox holds its answer to a marker call the caller makes
-- while holding a page.
local HOLD_MS = 200
-- One attempt, with the whole timeout: the default spec retries' budget
-- would cut an attempt short of a held answer.
local ONE_ATTEMPT = { strategy = "none" }

local function logged(reqs, path)
  local out = {}
  for _, r in ipairs(reqs) do
    if r.method == "GET" and r.path == path then out[#out + 1] = r end
  end
  return out
end

-- Runs fn in this code, or in a kombo.spawn task run to its end.
local function run_as(in_task, fn)
  if in_task then
    local kombo = require("kombo")
    kombo.spawn(fn)
    assert(kombo.run())
  else
    fn()
  end
end

-- How many applications a walk yields, asked of the sandbox directly.
local function total(sb)
  local n, query = 0, "?page_size=" .. PAGE
  while query do
    local _, page = sb:request("GET", "/ats/applications" .. query)
    n = n + #page.data.results
    local cursor = page.data.next
    query = type(cursor) == "string"
      and ("?page_size=" .. PAGE .. "&cursor=" .. cursor:gsub("[^%w]", function(ch)
        return ("%%%02X"):format(ch:byte())
      end)) or nil
  end
  return n
end

-- Client code: a chunk called with (client, env); see support/drivers.lua.
-- The caller holds page 1 and makes a marker call (get_tags, which the
-- sandbox answers HOLD_MS late) before asking for page 2.
local HOLD_PAGES = [[
  local c = client(env.client_opts)
  local first = assert(c.ats:get_applications({ page_size = env.page }, env.call_opts))
  local pages = 0
  for _ in first:pages() do
    pages = pages + 1
    if pages == 1 then assert(c.ats:get_tags()) end
  end
  return first, nil, { pages = pages }
]]
-- The same with next(): the page next() returns has its own next page in
-- flight, so page 3 is requested while the caller holds page 2.
local HOLD_NEXT = [[
  local c = client(env.client_opts)
  local first = assert(c.ats:get_applications({ page_size = env.page }))
  local second = assert(first:next())
  assert(c.ats:get_tags())
  local third = assert(second:next())
  local after, err = third:next()
  assert(after == nil and err == nil)
  return third
]]

-- Page 2 asked for while the marker's answer was still held: before the
-- caller could have asked for it.
local function ahead(reqs, n)
  local apps, tags = logged(reqs, APPS), logged(reqs, TAGS)
  assert.equal(PAGES, #apps)
  assert.equal(1, #tags)
  assert.is_true(apps[n].at_ms < tags[1].at_ms + HOLD_MS,
    ("page %d at %.1f ms, the marker at %.1f ms"):format(n, apps[n].at_ms, tags[1].at_ms))
end

-- At most one page ahead: page 3 asked for only once the caller moved on
-- to page 2, after the marker was answered.
local function one_ahead(reqs)
  local apps, tags = logged(reqs, APPS), logged(reqs, TAGS)
  assert.is_true(apps[3].at_ms >= tags[1].at_ms + HOLD_MS - 5,
    ("page 3 at %.1f ms, the marker at %.1f ms"):format(apps[3].at_ms, tags[1].at_ms))
end

-- Page 2 asked for only once the marker was answered.
local function not_ahead(reqs)
  local apps, tags = logged(reqs, APPS), logged(reqs, TAGS)
  assert.equal(PAGES, #apps)
  assert.is_true(apps[2].at_ms >= tags[1].at_ms + HOLD_MS - 5,
    ("page 2 at %.1f ms, the marker at %.1f ms"):format(apps[2].at_ms, tags[1].at_ms))
end

-- A walk through every item, the hooks' calls in order: with a driver that
-- receives a page before building it (docs/DRIVERS.md), page 3 is asked
-- for before page 2's after_success hook runs.
local HOOK_ORDER = [[
  local events, opts = {}, {}
  for k, v in pairs(env.client_opts) do opts[k] = v end
  opts.hooks = {
    before_request = function(x) events[#events + 1] = { what = "request", url = x.url } end,
    after_success = function(x) events[#events + 1] = { what = "success", url = x.url } end,
  }
  local c = client(opts)
  local n = 0
  for _ in assert(c.ats:get_applications({ page_size = env.page })):items() do n = n + 1 end
  return nil, nil, { events = events, n = n }
]]

-- A walk through every item, resumed from err.cursor when a page fails.
local WALK_RESUMING = [[
  local c = client()
  local first = assert(c.ats:get_applications({ page_size = env.page }))
  local seen = 0
  local ok, err = pcall(function() for _ in first:items() do seen = seen + 1 end end)
  local found = { seen = seen }
  if not ok then
    found.kind, found.status, found.cursor = err.kind, err.status, err.cursor
    local rest = assert(c.ats:get_applications({ page_size = env.page, cursor = err.cursor }))
    for _ in rest:items() do seen = seen + 1 end
  end
  found.total = seen
  return first, nil, found
]]

-- Walks left early: a loop left with break, an iterator dropped after one
-- item, and a loop left by an error of the caller's; each had page 2 in
-- flight (the sandbox delays it). Then a
-- marker call, which lets a scheduler run. pending: is a prefetch still
-- held (a busy handle of the blocking driver, anything left in the tasks
-- scheduler)? open: under nginx, the connections open at the sandbox once
-- every page-2 request is there and neither's connection is (or after 50
-- looks), asked before the request ends, which would close every socket
-- it has.
local ABANDON = [[
  local c = client(env.client_opts)
  local first = assert(c.ats:get_applications({ page_size = env.page }))
  for _ in first:items() do break end
  local again = assert(c.ats:get_applications({ page_size = env.page }))
  local f = again:items()
  f()
  f = nil -- luacheck: ignore 311
  local third = assert(c.ats:get_applications({ page_size = env.page }))
  pcall(function() for _ in third:items() do error("the caller's own error") end end)
  collectgarbage()
  collectgarbage()
  assert(c.ats:get_tags())
  local loaded, pending, open = package.loaded, nil, nil
  local d = require("kombo.drivers").current()
  if d == loaded["kombo.drivers.tasks"] then
    pending = d.busy()
  elseif d == loaded["kombo.drivers.curl"] then
    pending = c._pool ~= nil and next(c._pool.ahead) ~= nil
  elseif d == loaded["kombo.drivers.ngx"] then
    local get = require("support.drivers").sandbox_get
    for _ = 1, 50 do
      local prefetched, n, left = {}, 0, false
      for _, r in ipairs(get(env.url, "/_sandbox/requests").requests) do
        if r.query:find("cursor=", 1, true) then prefetched[r.connection], n = true, n + 1 end
      end
      open = get(env.url, "/_sandbox/stats").open_ids
      for _, id in ipairs(open) do left = left or prefetched[id] ~= nil end
      if n == 3 and not left then break end
      ngx.sleep(0.02)
    end
  end
  return first, nil, { pending = pending, open = open }
]]

-- Many walks at once: one task per integration, each its own client,
-- walking with next() (a for-in loop cannot yield on PUC Lua 5.1, so
-- there items() would fetch its pages blocking, one walk at a time).
local MANY = [[
  local kombo = require("kombo")
  local done, items = 0, 0
  for i = 1, env.walks do
    kombo.spawn(function()
      local c = client({ integration_id = "walk-" .. i })
      local p = assert(c.ats:get_applications({ page_size = env.small_page }))
      while p do
        items = items + #p.data.results
        local err
        p, err = p:next()
        if err then error(err, 0) end
      end
      done = done + 1
    end)
  end
  if require("kombo.drivers.tasks").current() then
    while done < env.walks do coroutine.yield() end
  else
    assert(kombo.run())
  end
  return nil, nil, { done = done, items = items }
]]

-- A caller that works on each page longer than its timeout_ms, without
-- yielding (a task's scheduler does not run meanwhile): pages(), then
-- items() working at each page's first item.
local SLOW_CALLER = [[
  local core = require("kombo.core")
  local c = client(env.client_opts)
  local pages, items = 0, 0
  for _ in assert(c.ats:get_applications({ page_size = env.page })):pages() do
    pages = pages + 1
    core.sleep_ms(env.work_ms)
  end
  for _ in assert(c.ats:get_applications({ page_size = env.page })):items() do
    items = items + 1
    if items % env.page == 1 then core.sleep_ms(env.work_ms) end
  end
  return nil, nil, { pages = pages, items = items }
]]
-- The same caller reaching, with next(), a page fetched ahead that the
-- server never answers; how long the SDK waited for it once reached.
local SLOW_CALLER_STALLED = [[
  local core = require("kombo.core")
  local c = client(env.client_opts)
  local second = assert(assert(c.ats:get_applications({ page_size = env.page })):next())
  core.sleep_ms(env.work_ms)
  local reached = core.now_ms()
  local third, err = second:next()
  return third, err, { waited_ms = core.now_ms() - reached }
]]
local SLOW = { client_opts = { timeout_ms = 400, retries = ONE_ATTEMPT }, work_ms = 500 }

local CASES = {
  {
    name = "the next page is requested while the caller holds the page (pages())",
    rules = { { path = TAGS, delay_ms = HOLD_MS } },
    source = HOLD_PAGES,
    check = function(out, reqs)
      assert.equal(PAGES, out.extra.pages)
      ahead(reqs, 2)
      one_ahead(reqs)
    end,
  },
  {
    name = "the page next() returns has the following one in flight; nothing past the last page",
    rules = { { path = TAGS, delay_ms = HOLD_MS } },
    source = HOLD_NEXT,
    check = function(_, reqs) ahead(reqs, 3) end,
  },
  {
    name = "prefetch = false: page 2 goes out only when the caller asks",
    rules = { { path = TAGS, delay_ms = HOLD_MS } },
    source = HOLD_PAGES, env = { client_opts = { prefetch = false, retries = ONE_ATTEMPT } },
    check = function(_, reqs) not_ahead(reqs) end,
  },
  {
    name = "prefetch = false as the call's option",
    rules = { { path = TAGS, delay_ms = HOLD_MS } },
    source = HOLD_PAGES, env = { call_opts = { prefetch = false } },
    check = function(_, reqs) not_ahead(reqs) end,
  },
  {
    name = "page 3 is asked for before page 2's after_success hook runs, on the walk's one connection",
    source = HOOK_ORDER,
    check = function(out, reqs, ctx, runner)
      local events = out.extra.events
      assert.equal(ctx.total, out.extra.n)
      -- Page 1 asked and answered; page 2 asked (fetched ahead); page 3
      -- asked once page 2's answer is in, before page 2 is decoded.
      local order = {}
      for _, e in ipairs(events) do order[#order + 1] = e.what end
      assert.same({ "request", "success", "request", "request", "success", "success" }, order)
      assert.equal(events[1].url, events[2].url)
      assert.equal(events[3].url, events[5].url)
      assert.equal(events[4].url, events[6].url)
      local apps = logged(reqs, APPS)
      assert.equal(PAGES, #apps)
      -- Page 2's answer left its connection before page 3 was asked for
      -- on it. (A task on PUC 5.1 fetches a loop's pages blocking, beside
      -- the task's first call.)
      if runner.driver ~= "tasks" then
        assert.equal(apps[1].connection, apps[2].connection)
        assert.equal(apps[2].connection, apps[3].connection)
      end
    end,
  },
  {
    name = "every item once, every page once, nothing past the last page",
    source = WALK_RESUMING,
    check = function(out, reqs, ctx)
      assert.is_nil(out.extra.kind)
      assert.equal(ctx.total, out.extra.total)
      local apps = logged(reqs, APPS)
      assert.equal(PAGES, #apps)
      assert.are_not.equal(apps[2].query, apps[3].query)
    end,
  },
  {
    name = "a prefetched page that failed raises at its first item, after every item before it; resume works",
    rules = { { path = APPS, every = PAGES, times = 1, status = 400 } },
    source = WALK_RESUMING,
    check = function(out, reqs, ctx)
      local found = out.extra
      assert.equal("api", found.kind)
      assert.equal(400, found.status)
      assert.equal((PAGES - 1) * PAGE, found.seen)
      assert.equal(ctx.total, found.total)
      local apps = logged(reqs, APPS)
      assert.equal(PAGES + 1, #apps)
      assert.equal("400", apps[PAGES].fault)
      assert.truthy(apps[PAGES + 1].query:find("cursor=", 1, true))
      assert.equal(apps[PAGES].query, apps[PAGES + 1].query)
    end,
  },
  {
    name = "a prefetched page answered 503 is retried as without prefetch and the walk completes",
    rules = { { path = APPS, every = PAGES, times = 1, status = 503 } },
    source = WALK_RESUMING,
    check = function(out, reqs, ctx)
      assert.is_nil(out.extra.kind)
      assert.equal(ctx.total, out.extra.total)
      local apps = logged(reqs, APPS)
      assert.equal(PAGES + 1, #apps)
      assert.equal("503", apps[PAGES].fault)
      assert.equal(apps[PAGES].query, apps[PAGES + 1].query)
    end,
  },
  {
    name = "a walk left early cancels its prefetch: no handle, transfer or connection left",
    rules = { { path = APPS, delay_ms = 1000, times = -1 } },
    source = ABANDON,
    check = function(out, reqs, ctx, runner)
      -- Three walks, each page 1 and, unless it was cancelled before going
      -- out, the prefetched page 2.
      local apps = logged(reqs, APPS)
      assert.is_true(#apps >= 3 and #apps <= 6, #apps .. " requests")
      local firsts = 0
      for _, r in ipairs(apps) do
        if not r.query:find("cursor=", 1, true) then firsts = firsts + 1 end
      end
      assert.equal(3, firsts)
      if runner.driver == "ngx" then
        -- Every page 2 went out (nginx's start sends at once), and their
        -- connections were closed while the request ran; the pool's (the
        -- marker's) stays open.
        local open = {}
        for _, id in ipairs(out.extra.open) do open[id] = true end
        assert.equal(6, #apps)
        for _, r in ipairs(apps) do
          if r.query:find("cursor=", 1, true) then
            assert.is_nil(open[r.connection], ("page 2's connection %d left open"):format(r.connection))
          end
        end
        assert.is_true(open[logged(reqs, TAGS)[1].connection])
        return
      end
      assert.is_false(out.extra.pending)
      -- Every connection the client made is closed (the clients are
      -- closed after the case); only this stats request's is open.
      assert.equal(1, ctx.sb:open_connections(1))
    end,
  },
  {
    name = "a caller slower than timeout_ms on each page: every page requested once, the walk completes",
    rules = { { path = APPS, delay_ms = 50, times = -1 } },
    source = SLOW_CALLER, env = SLOW,
    check = function(out, reqs, ctx)
      assert.is_nil(out.kind, out.message)
      assert.equal(PAGES, out.extra.pages)
      assert.equal(ctx.total, out.extra.items)
      local apps, queries = logged(reqs, APPS), {}
      assert.equal(2 * PAGES, #apps)
      for i, r in ipairs(apps) do
        assert.equal(200, r.status)
        if i <= PAGES then
          assert.is_nil(queries[r.query])
          queries[r.query] = true
        else
          assert.is_true(queries[r.query]) -- the second walk asks for the same pages
        end
      end
    end,
  },
  {
    name = "a page fetched ahead that the server never answers times out only after the caller reaches it",
    rules = { { path = APPS, every = 3, times = 1, delay_ms = 5000 } },
    source = SLOW_CALLER_STALLED, env = SLOW,
    check = function(out, reqs)
      assert.equal("timeout", out.kind)
      assert.equal("timeout", out.reason)
      -- Its whole timeout, less what sending it took (no figure of this
      -- machine's speed: half of it).
      assert.is_true(out.extra.waited_ms >= SLOW.client_opts.timeout_ms / 2,
        ("waited %.1f ms for it once reached"):format(out.extra.waited_ms))
      local apps = logged(reqs, APPS)
      assert.equal(PAGES, #apps)
      assert.equal("delay", apps[PAGES].fault)
    end,
  },
  {
    name = "many walks at once overlap: every walk starts before any ends",
    rules = { { path = APPS, delay_ms = 40, times = -1 } },
    source = MANY, env = { walks = 20, small_page = 100 },
    check = function(out, reqs, ctx)
      assert.equal(20, out.extra.done)
      assert.equal(20 * ctx.total, out.extra.items)
      local first, last = {}, {}
      for _, r in ipairs(logged(reqs, APPS)) do
        local id = r.headers["x-integration-id"]
        first[id] = first[id] or r.at_ms
        last[id] = r.at_ms
      end
      local latest_start, earliest_end, n = 0, math.huge, 0
      for id, at in pairs(first) do
        n = n + 1
        latest_start = math.max(latest_start, at)
        earliest_end = math.min(earliest_end, last[id])
      end
      assert.equal(20, n)
      assert.is_true(latest_start < earliest_end,
        ("the last walk started at %.1f ms, the first ended at %.1f ms"):format(latest_start, earliest_end))
    end,
  },
}

drivers.each({ describe = describe, setup = setup, teardown = teardown }, "prefetch: ", function(runner)
  for _, case in ipairs(CASES) do
    it(case.name, function()
      local sb = sandbox.start()
      finally(function() sb:stop() end)
      local env = { url = sb.url, api_key = sb.api_key, integration_id = sb.integration_id, page = PAGE,
        client_opts = { retries = ONE_ATTEMPT } }
      for k, v in pairs(case.env or {}) do env[k] = v end
      local ctx = { sb = sb, total = total(sb) }
      sb:clear_requests()
      if case.rules then sb:fault(case.rules) end

      local out = runner.run(case.source, env)

      assert.is_nil(out.error)
      assert.equal(runner.driver, out.driver)
      case.check(out, sb:requests(), ctx, runner)
    end)
  end
end)

-- Nothing reads a prefetched answer while the caller works without
-- yielding (the blocking driver has no scheduler; a task that does not
-- yield keeps the scheduler from running): items() pumps the transfer every
-- few items, so the answer is taken in when it comes, not when the page is
-- reached. Its page's elapsed_ms then counts the server's delay, not the
-- time the caller spent on the page before (which an answer left in the
-- socket would add), and so does the retry policy's view of that attempt.
describe("prefetch: items() while the caller works without yielding", function()
  local sb = sandbox.fixture()
  local core = require("kombo.core")
  local kombo = require("kombo")
  local DELAY_MS, HOLD_PAGE_MS = 300, 1200

  for _, in_task in ipairs({ false, true }) do
    local where = in_task and "in a task" or "blocking"
    it("takes the next page's answer in while the caller works on items (" .. where .. ")", function()
      sb:fault({ { path = APPS, delay_ms = DELAY_MS, times = -1 } })
      local elapsed = {}
      local c = sb:client({ retries = ONE_ATTEMPT, hooks = {
        after_success = function(_, result) elapsed[#elapsed + 1] = kombo.meta(result).elapsed_ms end,
      } })
      local n = 0
      local function walk()
        local first = assert(c.ats:get_applications({ page_size = PAGE }))
        for _ in first:items() do
          n = n + 1
          if n <= PAGE then core.sleep_ms(HOLD_PAGE_MS / PAGE) end
        end
      end
      run_as(in_task, walk)
      c:close()
      assert.equal(total(sb), n)
      assert.equal(PAGES, #elapsed)
      -- Page 2 came DELAY_MS after it was asked for, while page 1 was held
      -- HOLD_PAGE_MS: taken in on the way, not when reached.
      assert.is_true(elapsed[2] >= DELAY_MS - 5 and elapsed[2] < (DELAY_MS + HOLD_PAGE_MS) / 2,
        ("page 2 took %.1f ms"):format(elapsed[2]))
    end)
  end
end)

-- The blocking and tasks drivers take a prefetched page's answer in before
-- decoding it, read its next cursor off the raw bytes, and request the page
-- after it then, so that page's transfer runs while this one is decoded
-- (and while its caller works on it). The cursor is a hint: the decoded
-- page says where the walk goes on.
describe("prefetch: the page after a prefetched one is requested before that one is decoded", function()
  local sb = sandbox.fixture()
  local cjson = require("cjson")

  -- The cursor each logged page request carried (false: none), in order.
  local function cursors(reqs)
    local out = {}
    for _, r in ipairs(logged(reqs, APPS)) do
      out[#out + 1] = (r.query or ""):match("cursor=([^&]*)") or false
    end
    return out
  end

  it("asks for page 3 before page 2 is built (blocking: received, then the request, then built)", function()
    local curl = require("kombo.drivers.curl")
    local calls, saved = {}, {}
    for _, name in ipairs({ "start", "receive", "finish" }) do
      saved[name] = curl[name]
      curl[name] = function(...)
        calls[#calls + 1] = name
        return saved[name](...)
      end
    end
    finally(function() for name, f in pairs(saved) do curl[name] = f end end)
    local c = sb:client({ retries = ONE_ATTEMPT })
    local n = 0
    for _ in assert(c.ats:get_applications({ page_size = PAGE })):items() do n = n + 1 end
    c:close()
    assert.equal(total(sb), n)
    -- Page 2 fetched ahead; received, page 3 asked for, page 2 built; page
    -- 3 received (no cursor after it) and built.
    assert.same({ "start", "receive", "start", "finish", "receive", "finish" }, calls)
  end)

  it("follows the decoded cursor when the raw bytes told another, cancelling the request made early", function()
    -- Page 2 as a server that writes data.next twice: the first is what the
    -- raw bytes show, the decoder keeps the last (page 3's real cursor).
    local pages = {}
    local query = "?page_size=" .. PAGE
    for i = 1, PAGES do
      local _, page = sb:request("GET", "/ats/applications" .. query)
      pages[i] = page
      if type(page.data.next) == "string" then
        query = "?page_size=" .. PAGE .. "&cursor=" .. page.data.next:gsub("[^%w]", function(ch)
          return ("%%%02X"):format(ch:byte())
        end)
      end
    end
    local want = total(sb)
    local real = pages[2].data.next
    local body = ('{"status":"success","data":{"next":"not-a-cursor","results":%s,"next":%s}}')
      :format(cjson.encode(pages[2].data.results), cjson.encode(real))
    sb:clear_requests()
    sb:fault({ path = APPS, every = 2, times = 1, status = 200, body = body })
    local c = sb:client({ retries = ONE_ATTEMPT })
    local n = 0
    for _ in assert(c.ats:get_applications({ page_size = PAGE })):items() do n = n + 1 end
    local busy = 0
    for h in pairs(c._pool and c._pool.out or {}) do if h:busy() then busy = busy + 1 end end
    c:close()
    assert.equal(want, n)
    assert.equal(0, busy)
    -- Page 3 was asked for early with the first cursor (then dropped), and
    -- the walk went on with the decoded one.
    local sent = cursors(sb:requests())
    assert.equal(false, sent[1])
    assert.equal("not-a-cursor", sent[3])
    assert.equal(real, sent[4] and sent[4]:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
    assert.equal(4, #sent)
  end)

  it("never sends a cursor that holds the API key, early or late: the walk ends with a pagination error", function()
    for _, in_task in ipairs({ false, true }) do
      sb:clear_requests()
      sb:clear_faults()
      local body = ('{"status":"success","data":{"next":"c-%s","results":[{"id":"only"}]}}'):format(sb.api_key)
      sb:fault({ path = APPS, every = 2, times = 1, status = 200, body = body })
      local seen = {}
      local c = sb:client({ retries = ONE_ATTEMPT,
        logger = function(_, _, fields) seen[#seen + 1] = tostring(fields and fields.url) end,
        hooks = { before_request = function(x) seen[#seen + 1] = x.url end } })
      local items, ok, err = 0, nil, nil
      run_as(in_task, function()
        ok, err = pcall(function()
          for _ in assert(c.ats:get_applications({ page_size = PAGE })):items() do items = items + 1 end
        end)
      end)
      c:close()
      assert.is_false(ok)
      assert.equal("pagination", err.kind)
      assert.equal("cursor_holds_key", err.reason)
      assert.equal("c-[REDACTED]", err.cursor)
      assert.equal(PAGE + 1, items) -- the page that held it was read whole
      -- The two pages, and nothing with the cursor after.
      assert.equal(2, #sb:requests())
      assert.is_true(#seen >= 4)
      for _, s in ipairs(seen) do assert.not_matches(sb.api_key, s, 1, true) end
      for _, r in ipairs(sb:requests()) do assert.not_matches("REDACTED", r.query or "", 1, true) end
    end
  end)

  it("leaves nothing in flight when a loop stops on a page whose next page was requested early", function()
    local c = sb:client({ retries = ONE_ATTEMPT })
    local n = 0
    local walk = assert(c.ats:get_applications({ page_size = PAGE }))
    local ok = pcall(function()
      for _ in walk:items() do
        n = n + 1
        if n == PAGE + 1 then error("stop") end
      end
    end)
    walk = nil -- luacheck: ignore 311
    collectgarbage()
    collectgarbage()
    local busy = 0
    for h in pairs(c._pool and c._pool.out or {}) do if h:busy() then busy = busy + 1 end end
    c:close()
    assert.is_false(ok)
    assert.equal(0, busy)
    -- Page 3 had been asked for when the loop stopped on page 2.
    assert.equal(PAGES, #logged(sb:requests(), APPS))
  end)
end)
