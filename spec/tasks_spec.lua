-- kombo.spawn/run in plain Lua: tasks' requests run at once over the C
-- core's multi handle, failures stay inside their task, errors raised in
-- tasks come back from kombo.run() after every task ended, and pages
-- iterate inside tasks.
local kombo = require("kombo")
local core = require("kombo.core")
local sandbox = require("support.sandbox")
local overlapped = sandbox.overlapped

local NO_RETRIES = { strategy = "none" }

describe("kombo.spawn / kombo.run", function()
  local sb = sandbox.fixture()
  local client

  before_each(function() client = sb:client({ retries = NO_RETRIES }) end)
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
    kombo.run()
    for i = 1, 20 do assert.equal(#want.data.results, got[i]) end
    -- All 20 were at the server before the first could be answered: they
    -- ran at once, however busy the machine.
    local reqs = sb:requests()
    assert.equal(20, #reqs)
    assert.is_true(reqs[20].at_ms < reqs[1].done_ms, "the 20 requests did not overlap")
  end)

  -- The scheduler holds the collector in its own work on 5.1 and 5.3 (a
  -- finalizer's error there would lose an answer); tasks and the caller
  -- keep it as the caller has it. 5.1 cannot tell whether it runs.
  if pcall(collectgarbage, "isrunning") then
    it("leaves the collector as the caller has it, in tasks and after kombo.run", function()
      local seen = {}
      for _, running in ipairs({ true, false }) do
        collectgarbage(running and "restart" or "stop")
        local t = kombo.spawn(function()
          local before = collectgarbage("isrunning")
          assert(client.ats:get_tags())
          return before, collectgarbage("isrunning")
        end)
        assert(kombo.run())
        seen[#seen + 1] = { running, t:wait() }
        seen[#seen][4] = collectgarbage("isrunning")
        collectgarbage("restart")
      end
      assert.same({ { true, true, true, true }, { false, false, false, false } }, seen)
    end)
  end

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

  it("runs every task to its end and returns nil, errors listing each failed task's error in spawn order", function()
    -- Three tasks fail at different points (before any request, after a
    -- 100 ms one, after a 300 ms one); three succeed with requests of their
    -- own, one of them after the last failure.
    sb:fault({ path = "/v1/ats/tags", delay_ms = 100, times = -1 })
    sb:fault({ path = "/v1/ats/users", delay_ms = 300, times = -1 })
    local function fails_at_once() error("first failure") end
    local done = {}
    local third = kombo.spawn(function()
      assert(client.ats:get_users({ page_size = 1 }))
      error("third failure")
    end)
    kombo.spawn(function()
      local jobs = assert(client.ats:get_jobs({ page_size = 1 }))
      done[#done + 1] = #jobs.data.results
    end)
    local first = kombo.spawn(function() fails_at_once() end)
    local second = kombo.spawn(function()
      assert(client.ats:get_tags({ page_size = 1 }))
      local _, e = client.ats:get_jobs({ page_size = 250, cursor = "not-a-cursor" })
      error(e) -- a kombo error object
    end)
    kombo.spawn(function()
      local users = assert(client.ats:get_users({ page_size = 2 }))
      assert(client.ats:get_users({ page_size = 3 }))
      done[#done + 1] = #users.data.results
    end)
    kombo.spawn(function()
      local tags = assert(client.ats:get_tags({ page_size = 2 }))
      done[#done + 1] = #tags.data.results
    end)

    local ok, res, errs = pcall(kombo.run)
    assert.is_true(ok, tostring(res))
    assert.is_nil(res)
    -- Spawn order, whatever order they failed in (first, second, third).
    assert.equal(3, #errs)
    assert.same({ third, first, second }, errs.tasks)
    assert.is_string(errs[1])
    assert.matches("third failure", errs[1], 1, true)
    assert.matches("stack traceback", errs[1], 1, true)
    assert.is_string(errs[2])
    assert.matches("first failure", errs[2], 1, true)
    assert.matches("stack traceback", errs[2], 1, true)
    assert.matches("fails_at_once", errs[2], 1, true)
    assert.equal("table", type(errs[3]))
    assert.equal("get_jobs", errs[3].operation)
    assert.equal(400, errs[3].status)
    assert.matches("stack traceback", errs[3].traceback, 1, true)
    -- Each task gives the same error to task:wait after the run.
    for i, t in ipairs(errs.tasks) do
      local r, e = t:wait()
      assert.is_nil(r)
      assert.equal(errs[i], e)
    end

    table.sort(done)
    assert.same({ 1, 2, 2 }, done)
    -- Every request of every task reached the server.
    local seen = {}
    for _, r in ipairs(sb:requests()) do seen[#seen + 1] = r.path .. "?" .. r.query end
    table.sort(seen)
    assert.same({
      "/v1/ats/jobs?page_size=1", "/v1/ats/jobs?page_size=250&cursor=not-a-cursor",
      "/v1/ats/tags?page_size=1", "/v1/ats/tags?page_size=2",
      "/v1/ats/users?page_size=1", "/v1/ats/users?page_size=2", "/v1/ats/users?page_size=3",
    }, seen)

    -- The scheduler is clean for the next run, which returns true.
    local again = false
    kombo.spawn(function() again = true end)
    assert.is_true(kombo.run())
    assert.is_true(again)
  end)

  it("lists an error object that refuses new fields as raised, and one whose __tostring raises by its type", function()
    local frozen = setmetatable({ kind = "mine" }, { __newindex = function() error("read-only error object") end })
    -- A userdata error value whose text cannot be had (its own metatable).
    local odd = io.tmpfile()
    odd:close()
    debug.setmetatable(odd, { __tostring = function() error("no text") end })
    local ok_task = kombo.spawn(function() return assert(client.ats:get_tags({ page_size = 1 })) and "done" end)
    kombo.spawn(function() error(frozen) end)
    kombo.spawn(function() error(odd) end)
    local ok, res, errs = pcall(kombo.run)
    assert.is_true(ok, tostring(res))
    assert.is_nil(res)
    assert.equal(2, #errs)
    assert.equal(frozen, errs[1])
    assert.is_nil(rawget(frozen, "traceback"))
    assert.matches("a userdata whose __tostring raised", errs[2], 1, true)
    assert.matches("stack traceback", errs[2], 1, true)
    assert.equal("done", ok_task:wait())
    -- A dot for the colon is said, not an index error from inside.
    local none, said = ok_task.wait()
    assert.is_nil(none)
    assert.matches("task:wait(), not task.wait()", said, 1, true)
    -- Nothing of that run is left for the next.
    assert.is_true(kombo.run())
  end)

  it("returns true when no task fails, and when there was nothing to run", function()
    assert.is_true(kombo.run())
    local n = 0
    for _ = 1, 3 do kombo.spawn(function() assert(client.ats:get_tags()); n = n + 1 end) end
    assert.is_true(kombo.run())
    assert.equal(3, n)
  end)

  it("fails a task whose transfer cannot start, and runs the others", function()
    local fresh = sb:client({ retries = NO_RETRIES })
    -- client has a spare handle from this run; fresh has none yet.
    kombo.spawn(function() assert(client.ats:get_tags()) end)
    assert.is_true(kombo.run())
    local real = core.easy
    local tags
    core.easy = function() error("no easy handle today") end
    kombo.spawn(function() fresh.ats:get_tags() end)
    kombo.spawn(function() tags = client.ats:get_tags() end)
    local ok, res, errs = pcall(kombo.run)
    core.easy = real
    fresh:close()
    assert.is_true(ok, tostring(res))
    assert.is_nil(res)
    assert.equal(1, #errs)
    assert.matches("no easy handle today", errs[1], 1, true)
    assert.matches("stack traceback", errs[1], 1, true)
    assert.equal("success", tags.status)
  end)

  it("iterates pages and items inside tasks, alongside other tasks", function()
    local want = 0
    for p in assert(client.ats:get_applications({ page_size = 50 })):pages() do want = want + #p.data.results end
    assert.is_true(want > 150)
    sb:fault({ path = "/v1/ats/applications", delay_ms = 100, times = -1 })
    sb:clear_requests()
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
    kombo.run()
    local distinct = 0
    for _ in pairs(ids) do distinct = distinct + 1 end
    assert.equal(want, distinct)
    assert.equal(want, items)
    assert.equal(math.ceil(want / 50), pages)
    -- Both walks ran at once: most pages of one were asked for while the
    -- other's were at the server. PUC Lua 5.1 cannot yield out of a for-in
    -- iterator, so there a walk's page fetches block (correct results, no
    -- overlap past the two first pages, asked for outside the loops).
    local reqs = sb:requests()
    assert.equal(2 * pages, #reqs)
    local n = overlapped(reqs)
    local why = ("%d of %d requests overlapped another"):format(n, #reqs)
    if require("kombo.compat").YIELD_IN_FOR then
      assert.is_true(n >= pages - 1, why)
    else
      assert.is_true(n <= 1, why)
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
      sb:clear_requests()
      kombo.run()
      return sb:requests()
    end
    -- One walk alone never overlaps itself; two overlap on most pages.
    local one = walks(1)
    assert.equal(0, overlapped(one))
    pages = 0
    local two = walks(2)
    assert.is_true(pages > 3)
    assert.equal(counts[1], counts[2])
    assert.equal(2 * pages, #two)
    local n = overlapped(two)
    assert.is_true(n >= pages - 1, ("%d of %d requests overlapped another"):format(n, #two))
  end)

  it("hands an answer that came in while a task worked to its task at once, not after another transfer", function()
    -- B's answer reaches the socket while A works on its own; A then sends
    -- a slow request. B must go on now, not once A's slow answer is in.
    sb:fault({
      { path = "/v1/ats/users", delay_ms = 150, times = 1 },
      { path = "/v1/ats/jobs", delay_ms = 400, times = 1 },
    })
    local function done(path)
      for _, r in ipairs(sb:requests()) do
        if r.path == path and r.done_ms then return r end
      end
    end
    kombo.spawn(function()
      assert(client.ats:get_tags())
      -- Work until B's answer has been written (bounded: the spec fails
      -- below, not hangs, if it never is).
      for _ = 1, 500 do
        if done("/v1/ats/users") then break end
        require("socket").sleep(0.01)
      end
      require("socket").sleep(0.02)
      assert(client.ats:get_jobs())
    end)
    kombo.spawn(function()
      assert(client.ats:get_users())
      assert(client.ats:get_users())
    end)
    sb:clear_requests()
    assert(kombo.run())
    local slow, users = nil, {}
    for _, r in ipairs(sb:requests()) do
      if r.path == "/v1/ats/jobs" then slow = r end
      if r.path == "/v1/ats/users" then users[#users + 1] = r end
    end
    assert.equal(2, #users)
    assert.is_true(users[2].at_ms < slow.done_ms,
      ("B's second request came %.0f ms after A's slow answer"):format(users[2].at_ms - slow.done_ms))
  end)

  describe("task:wait", function()
    it("inside a task yields until the task ends, while others run, and gives all its results", function()
      sb:fault({ path = "/v1/ats/tags", delay_ms = 300, times = -1 })
      local slow = kombo.spawn(function()
        local tags = assert(client.ats:get_tags())
        return #tags.data.results, nil, "third"
      end)
      local got
      kombo.spawn(function() got = require("kombo.compat").pack(slow:wait()) end)
      local users
      kombo.spawn(function() users = assert(client.ats:get_users({ page_size = 2 })) end)
      assert.is_true(kombo.run())
      local _, want = sb:request("GET", "/ats/tags")
      assert.same({ n = 3, #want.data.results, nil, "third" }, got)
      assert.equal(2, #users.data.results)
      -- The users request reached the server while the tags one was still
      -- there: the waiting task did not hold the others back.
      local by = {}
      for _, r in ipairs(sb:requests()) do by[r.path] = by[r.path] or r end
      assert.is_true(by["/v1/ats/users"].at_ms < by["/v1/ats/tags"].done_ms)
    end)

    it("gives nil, err for a task that raised: the error object, or the message with its traceback", function()
      local api = kombo.spawn(function()
        error(select(2, client.ats:get_jobs({ page_size = 250, cursor = "not-a-cursor" })))
      end)
      local text = kombo.spawn(function() error("went wrong") end)
      local seen, me = {}, nil
      me = kombo.spawn(function()
        seen.api = { api:wait() }
        seen.text = { text:wait() }
        seen.self = { me:wait() }
      end)
      local ok, errs = kombo.run()
      assert.is_nil(ok)
      assert.equal(2, #errs)
      assert.is_nil(seen.api[1])
      assert.equal(errs[1], seen.api[2])
      assert.equal(400, seen.api[2].status)
      assert.matches("stack traceback", seen.api[2].traceback, 1, true)
      assert.is_nil(seen.text[1])
      assert.matches("went wrong", seen.text[2], 1, true)
      assert.matches("stack traceback", seen.text[2], 1, true)
      assert.is_nil(seen.self[1])
      assert.matches("cannot wait for itself", seen.self[2], 1, true)
    end)

    it("outside a task runs the scheduler until that task ends; kombo.run finishes the rest", function()
      sb:fault({ path = "/v1/ats/users", delay_ms = 200, times = -1 })
      local slow_done = false
      kombo.spawn(function() assert(client.ats:get_users({ page_size = 1 })); slow_done = true end)
      local quick = kombo.spawn(function() return assert(client.ats:get_tags()).status end)
      assert.equal("success", quick:wait())
      assert.is_false(slow_done)
      assert.equal("success", quick:wait()) -- again: the same results
      assert.is_true(kombo.run())
      assert.is_true(slow_done)
    end)

    it("ends a wait that can never end: two tasks waiting for each other", function()
      local a, b
      local seen = {}
      a = kombo.spawn(function() seen.a = { b:wait() } end)
      b = kombo.spawn(function() seen.b = { a:wait() } end)
      assert.is_true(kombo.run())
      assert.is_nil(seen.a[1])
      assert.matches("waiting (for another task", seen.a[2], 1, true)
      assert.is_nil(seen.b[1])
      assert.matches("waiting (for another task", seen.b[2], 1, true)
    end)
  end)

  -- PUC 5.1 cannot yield across pcall: there such a call blocks (README).
  it("answers a call made inside pcall in a task, on every Lua version", function()
    local _, want = sb:request("GET", "/ats/tags")
    local got = {}
    for i = 1, 3 do
      kombo.spawn(function()
        local ok, tags, err = pcall(client.ats.get_tags, client.ats)
        got[i] = ok and (tags and #tags.data.results or tostring(err)) or ("raised: " .. tostring(tags))
      end)
    end
    assert.is_true(kombo.run())
    for i = 1, 3 do assert.equal(#want.data.results, got[i]) end
  end)

  -- Code a C function calls back inside a task (table.sort's comparator;
  -- a finalizer or a hook likewise) cannot yield: a walk there blocks,
  -- its pages fetched on coroutines of the SDK's that are not the task's
  -- either (they took the task's waits, and raised "attempt to yield
  -- across a C-call boundary"), and the task goes on with its own calls.
  it("walks inside table.sort's comparator in a task, blocking, and the task goes on", function()
    local inner, own = 0, nil
    local task = kombo.spawn(function()
      table.sort({ 2, 1 }, function(a, b)
        if inner == 0 then
          for _ in assert(client.ats:get_applications({ page_size = 5 })):items() do
            inner = inner + 1
            if inner == 20 then break end
          end
        end
        return a < b
      end)
      own = #assert(client.ats:get_applications({ page_size = 5 })).data.results
      local n = 0
      for _ in assert(client.ats:get_tags({ page_size = 2 })):items() do n = n + 1 end
      return n
    end)
    assert.is_true(kombo.run())
    local _, all_tags = sb:request("GET", "/ats/tags?page_size=250")
    assert.same({ #all_tags.data.results }, { task:wait() })
    assert.equal(20, inner)
    assert.equal(5, own)
  end)

  -- A finalizer or a hook of the caller's may run the scheduler (task:wait
  -- outside any task) while kombo.spawn is making its task's entry, and
  -- the scheduler takes the list of ready tasks as it steps: the entry
  -- goes on the list that is current once made, never on one already
  -- taken (where the task was lost: "the scheduler lost" it, unstarted).
  it("keeps a task spawned while a hook runs the scheduler", function()
    local pack = require("kombo.compat").pack
    local first = kombo.spawn(function() return "first" end)
    local fired = 0
    debug.sethook(function()
      local called, caller = debug.getinfo(2, "f"), debug.getinfo(3, "S")
      if called.func == pack and caller and caller.short_src:find("drivers/tasks.lua", 1, true) then
        debug.sethook()
        fired = fired + 1
        assert(first:wait() == "first")
      end
    end, "c")
    local second = kombo.spawn(function() return "second" end)
    debug.sethook()
    assert.equal(1, fired)
    assert.is_true(kombo.run())
    assert.same({ "second" }, { second:wait() })
  end)

  -- A coroutine of the caller's own inside a task (a generator over a
  -- walk) is not the task: the SDK's waits must not be yielded to it.
  describe("a coroutine of the caller's own inside a task", function()
    local function all_ids()
      local ids = {}
      for tag in assert(client.ats:get_tags({ page_size = 2 })):items() do ids[#ids + 1] = tag.id end
      return ids
    end

    it("gets a call's answer, not the SDK's wait", function()
      local _, want = sb:request("GET", "/ats/tags")
      local got
      kombo.spawn(function()
        local get = coroutine.wrap(function() return client.ats:get_tags() end)
        local tags, err = get()
        got = tags and #tags.data.results or tostring(err)
      end)
      assert.is_true(kombo.run())
      assert.equal(#want.data.results, got)
    end)

    it("goes on with a walk the task started: the page fetched ahead is fetched again, blocking", function()
      local want = all_ids()
      sb:fault({ path = "/v1/ats/tags", delay_ms = 100, times = -1 })
      local got, next_ok
      kombo.spawn(function()
        local it = assert(client.ats:get_tags({ page_size = 2 })):items()
        got = { it().id, it().id } -- page 2 is in flight for the task now
        local rest = coroutine.wrap(function()
          for tag in it do got[#got + 1] = tag.id end
          return true
        end)
        assert(rest())
        local p1 = assert(client.ats:get_tags({ page_size = 2 }))
        local p2 = assert(p1:next()) -- page 3 in flight for the task
        local p3 = coroutine.wrap(function() return p2:next() end)()
        next_ok = p3 ~= nil and #p3.data.results == 2
      end)
      assert.is_true(kombo.run())
      assert.same(want, got)
      assert.is_true(next_ok)
    end)

    it("yields every item of a walk, as a generator, and kombo.run ends cleanly", function()
      local want = all_ids()
      local got = {}
      local task = kombo.spawn(function()
        local gen = coroutine.wrap(function()
          for tag in assert(client.ats:get_tags({ page_size = 2 })):items() do coroutine.yield(tag) end
        end)
        for tag in gen do got[#got + 1] = tag.id end
        return #got
      end)
      assert.is_true(kombo.run())
      assert.equal(#want, task:wait())
      assert.same(want, got)
    end)
  end)

  -- The SDK runs a walk's fetches on coroutines of its own; a yield of the
  -- caller's code running there (a logger, a hook) is passed on to whoever
  -- resumed the walk, or returns nothing where nothing can take it.
  it("walks to the end when the logger or a hook yields, in a script and in a task", function()
    local yieldable = require("kombo.compat").yieldable
    local function yields() if yieldable() then coroutine.yield() end end
    local yielding = sb:client({ retries = NO_RETRIES, logger = yields, hooks = { before_request = yields } })
    local function walk()
      local n = 0
      for _ in assert(yielding.ats:get_tags({ page_size = 2 })):items() do n = n + 1 end
      return n
    end
    local _, want = sb:request("GET", "/ats/tags?page_size=250")
    assert.equal(#want.data.results, walk())
    local task = kombo.spawn(walk)
    assert.is_true(kombo.run())
    assert.equal(#want.data.results, task:wait())
    yielding:close()
  end)

  -- PUC 5.1: a for-in iterator cannot yield, so a walk that takes over the
  -- page next() fetched ahead in a task fetches it again, blocking.
  it("walks items() of a page next() returned in a task, on every Lua version", function()
    local _, want = sb:request("GET", "/ats/tags?page_size=250")
    local n
    kombo.spawn(function()
      local p2 = assert(assert(client.ats:get_tags({ page_size = 2 })):next())
      n = 2
      for _ in p2:items() do n = n + 1 end
    end)
    assert.is_true(kombo.run())
    assert.equal(#want.data.results, n)
  end)

  it("blocks as before outside a task", function()
    local tags = assert(client.ats:get_tags())
    assert.equal("success", tags.status)
  end)
end)
