-- The SDK under an adversary: re-entrant callers, servers that hammer back,
-- reflect the key or loop their cursors, and bad input. Each case shows
-- what went over the wire (the sandbox's request log) and what came back.
local kombo = require("kombo")
local core = require("kombo.core")
local sandbox = require("support.sandbox")
local run_lua = require("support.files").run_lua

local SHORT = { backoff = { initial_interval = 20, max_interval = 40, exponent = 2, max_elapsed_time = 10000 },
  max_attempts = 5 }

-- A finalizer that re-arms itself, so it runs again at every collection
-- for as long as `armed` holds. LuaJIT and 5.1 run __gc on userdata only.
local function rearming_finalizer(fn)
  local state = { armed = true, runs = 0 }
  local function arm()
    local gc = function()
      if not state.armed then return end
      state.runs = state.runs + 1
      fn()
      arm()
    end
    if newproxy then -- luacheck: ignore 113
      local p = newproxy(true) -- luacheck: ignore 113
      getmetatable(p).__gc = gc
    else
      setmetatable({}, { __gc = gc })
    end
  end
  arm()
  return state
end

-- The longest request head (URL and header lines) the SDK hands libcurl.
local HEAD_BYTES = 1024 * 1024 - 16 * 1024

describe("hardening", function()
  local sb = sandbox.fixture()

  local function new_client(opts)
    local o = { retries = SHORT }
    for k, v in pairs(opts or {}) do o[k] = v end
    return sb:client(o)
  end

  local function requests_to(path)
    return sb:requests(function(r) return r.path == path end)
  end

  describe("re-entry from finalizers, hooks and loggers", function()
    local restore
    -- the collector always running: finalizers run mid-call
    before_each(function() restore = require("support.gc").eager() end)
    after_each(function() restore() end)

    local function walk_with_finalizer(outer, inner)
      local tags, failures = 0, {}
      -- A full collection first: the next cycle's threshold then follows
      -- this heap, not one earlier specs left (the cycles a large one puts
      -- off would fall after the walks).
      collectgarbage("collect")
      local state = rearming_finalizer(function()
        local page, err = inner.ats:get_tags()
        if page then tags = tags + #page.data.results else failures[#failures + 1] = tostring(err) end
      end)
      -- Walks until the collector has run the finalizer a few times: when
      -- it runs depends on the heap the earlier specs left.
      local ids, walks = {}, 0
      repeat
        local page = assert(outer.ats:get_applications({ page_size = 250 }))
        for app in page:items() do ids[#ids + 1] = app.id end
        walks = walks + 1
        -- a collector left idle by earlier specs (a large heap, LuaJIT's
        -- threshold after a huge string) is pushed into a cycle, which
        -- the next walk's allocations then carry on
        if state.runs == 0 then collectgarbage("step", 64) end
      until (state.runs >= 3 and walks >= 3) or walks == 40
      state.armed = false
      collectgarbage("collect")
      return ids, tags, failures, state.runs, walks
    end

    it("a finalizer calling another client mid-walk neither crashes nor corrupts either result", function()
      local outer, inner = new_client(), new_client()
      local expected = {}
      for app in assert(outer.ats:get_applications({ page_size = 250 })):items() do expected[#expected + 1] = app.id end
      local ids, tags, failures, runs, walks = walk_with_finalizer(outer, inner)
      assert.is_true(runs > 0, "the finalizer never ran")
      assert.same({}, failures)
      assert.equal(walks * #expected, #ids)
      for i = 1, #expected do assert.equal(expected[i], ids[i]) end
      assert.is_true(tags > 0)
    end)

    it("a finalizer calling the same client mid-walk gets valid answers, and so does the walk", function()
      local client = new_client()
      local ids, tags, failures, runs, walks = walk_with_finalizer(client, client)
      assert.is_true(runs > 0, "the finalizer never ran")
      assert.same({}, failures)
      assert.equal(walks * 600, #ids)
      assert.is_true(tags > 0)
    end)

    it("a finalizer decoding JSON during a page decode gets its own document back", function()
      local client = new_client()
      local bad = 0
      local state = rearming_finalizer(function()
        local v = core.json_decode('{"k":[1,2,{"x":"y"}]}')
        if not (v and v.k[3].x == "y") then bad = bad + 1 end
      end)
      local fetches = 0
      repeat
        local page = assert(client.ats:get_applications({ page_size = 250 }))
        assert.equal(250, #page.data.results)
        fetches = fetches + 1
        if state.runs == 0 then collectgarbage("step", 64) end
      until (state.runs >= 3 and fetches >= 3) or fetches == 60
      state.armed = false
      assert.is_true(state.runs > 0)
      assert.equal(0, bad)
    end)

    it("a finalizer closing the client while an answer is built leaves that answer whole", function()
      -- Two large response headers: the block's Lua string, made before the
      -- body is decoded, is most of each answer's allocation, so that is
      -- where the collector's cycles (and the finalizer) fall.
      local items = {}
      for i = 1, 5 do items[i] = '{"id":"app' .. i .. '"}' end
      local pad = string.rep("p", 90 * 1024)
      sb:fault({ path = "/v1/ats/applications", times = -1, status = 200,
        headers = { ["X-Pad-A"] = pad, ["X-Pad-B"] = pad },
        body = '{"status":"success","data":{"next":null,"results":[' .. table.concat(items, ",") .. "]}}" })
      local client
      local closed = 0
      -- The blocking driver's handle is out of the pool from the request
      -- to the last Lua value of its answer; only the build runs Lua
      -- (finalizers) in between.
      local state = rearming_finalizer(function()
        local pool = client and client._pool
        if pool and next(pool.out) then closed = closed + 1; client:close() end
      end)
      -- A collector that starts its next cycle as soon as one ends, so its
      -- finalizers fall in every answer's build, however big the heap the
      -- specs before this one left (a paused generational collector ran it
      -- a few times in 200 fetches, never while a handle was out).
      local mode = _VERSION == "Lua 5.4" and collectgarbage("incremental", 100, 400)
      -- LuaJIT's likewise, over more fetches: there they also fall between
      -- a transfer's end and its build's start (where a closed handle lost
      -- its answer: HTTP 0, no body).
      local jit = rawget(_G, "jit")
      local pause, stepmul
      if jit then pause, stepmul = collectgarbage("setpause", 0), collectgarbage("setstepmul", 100) end
      local most = jit and 1500 or 200
      -- A full collection first: the cycles then follow this heap, not
      -- one earlier specs left.
      collectgarbage("collect")
      local fetches = 0
      repeat
        client = new_client()
        local page, err = client.ats:get_applications({ page_size = 5 })
        assert(page, err and tostring(err))
        assert.equal(5, #page.data.results)
        for i = 1, 5 do assert.equal("app" .. i, page.data.results[i].id) end
        fetches = fetches + 1
        if state.runs == 0 then collectgarbage("step", 64) end
      until (closed >= 5 and not jit) or fetches == most
      state.armed = false
      if jit then
        collectgarbage("setpause", pause)
        collectgarbage("setstepmul", stepmul)
      end
      if mode then
        collectgarbage("incremental", 200, 100)
        collectgarbage(mode)
      end
      sb:clear_faults()
      -- Lua 5.1 checks the collector before an allocation, not after it,
      -- so a cycle the header block's string starts falls later, and its
      -- finalizers seldom while a handle is out; Lua 5.3 runs its
      -- finalizers at a cycle's end, which falls where the heap's history puts
      -- it (once a fetch, at the same point of each). There only the answers
      -- are checked.
      -- (LuaJIT's falls there in most runs, not all: in a suite whose heap
      -- earlier specs grew, none may.)
      if _VERSION == "Lua 5.4" then
        assert.is_true(closed > 0, ("the finalizer never ran while an answer was built (%d runs in %d fetches)")
          :format(state.runs, fetches))
      end
    end)

    -- A finalizer may close the client between the walk's look at it and
    -- the driver's read of the page fetched ahead (as the answer is taken
    -- off its handle, say): the read ends with a failure, never a raise
    -- about a closed handle, and the walk with the closed-client error.
    it("a page fetched ahead whose client was closed ends with a failure, never a raise", function()
      local curl = require("kombo.drivers.curl")
      for _, read in ipairs({ "receive", "finish" }) do
        local client = new_client()
        local headers = { "Authorization: Bearer " .. sb.api_key, "X-Integration-Id: " .. sb.integration_id }
        local p = assert(curl.start(client, { method = "GET", url = sb.url .. "/ats/tags", timeout_ms = 5000,
          json = true, headers = headers }))
        client:close()
        if read == "receive" then assert.is_nil(curl.receive(p)) end
        local res, fail = curl.finish(p)
        assert.is_nil(res)
        assert.same({ kind = "connection", reason = "other", sent = true,
          message = "its transfer was stopped" }, fail)
      end
    end)

    it("a finalizer closing the client as a walk goes on ends the walk with an error saying so", function()
      local client
      local state = rearming_finalizer(function()
        local pool = client and client._pool
        if pool and next(pool.out) then client:close() end
      end)
      local outcomes = {}
      for _ = 1, 300 do
        -- No retry: an attempt the close stopped says so itself, not a
        -- next one that finds the client closed.
        client = new_client({ retries = { strategy = "none" } })
        local ok, err = pcall(function()
          local n = 0
          for _ in client.ats:get_applications({ page_size = 5 }):items() do
            n = n + 1
            if n > 40 then break end
          end
        end)
        local outcome = ok and "whole" or tostring(err)
        if type(err) == "table" and err.kind == "invalid_request" and err.field == "client" then
          outcome = "closed before a request"
        elseif type(err) == "table" and err.kind == "connection"
          and err.message:find("client:close() was called while this call's request was out", 1, true) then
          outcome = "closed as a request was out"
        end
        outcomes[outcome] = (outcomes[outcome] or 0) + 1
      end
      state.armed = false
      outcomes.whole = nil
      -- (where the collector runs its finalizers depends on the heap the
      -- suite left; on 5.4 some always fall inside a walk's calls)
      if _VERSION == "Lua 5.4" then assert.is_truthy(next(outcomes), "the finalizer never closed the client") end
      for outcome in pairs(outcomes) do
        assert.is_truthy(outcome:find("^closed "), outcome)
      end
    end)

    -- Inside a task a call yields; one from a finalizer cannot, so it
    -- blocks. With the collector never paused, finalizers fall at every
    -- kind of point of the tasks' code (5.1 named a finalizer after the
    -- call its caller was making as the collector ran, and its call
    -- yielded, raising "attempt to yield across metamethod/C-call
    -- boundary" into the task).
    it("a finalizer calling the client inside tasks blocks, and every task gets its answers", function()
      local client
      local failures, calls = {}, 0
      local state = rearming_finalizer(function()
        if not client then return end
        calls = calls + 1
        local tags, err = client.ats:get_tags()
        if not tags then failures[#failures + 1] = tostring(err) end
      end)
      -- (5.3's and 5.4's as they are: a cycle that starts as the last ends
      -- makes each of their finalizers' calls start the next one)
      local fast = _VERSION == "Lua 5.1"
      local pause, stepmul
      if fast then pause, stepmul = collectgarbage("setpause", 0), collectgarbage("setstepmul", 100) end
      local outcomes = {}
      for i = 1, 300 do
        client = new_client({ retries = { strategy = "none" } })
        local task = kombo.spawn(function()
          if i % 2 == 0 then
            local n = 0
            for _ in assert(client.ats:get_applications({ page_size = 5 })):items() do
              n = n + 1
              if n > 30 then break end
            end
          else
            assert(client.ats:get_jobs({ page_size = 3 }))
          end
        end)
        local ok, err = pcall(kombo.run)
        local _, why = task:wait()
        local outcome = not ok and tostring(err) or why and tostring(why) or "whole"
        outcomes[outcome] = (outcomes[outcome] or 0) + 1
      end
      state.armed = false
      client = nil
      if fast then
        collectgarbage("setpause", pause)
        collectgarbage("setstepmul", stepmul)
      end
      assert.same({ whole = 300 }, outcomes)
      assert.same({}, failures)
      if fast then assert.is_true(calls > 0, "no finalizer ran") end
    end)

    it("hooks and loggers that call back into the same client get answers, and the call still succeeds", function()
      local nested = {}
      local client
      client = new_client({
        hooks = {
          before_request = function(ex)
            if ex.operation == "get_jobs" then nested[#nested + 1] = client.ats:get_tags() ~= nil end
          end,
          after_success = function(ex)
            if ex.operation == "get_jobs" then nested[#nested + 1] = client.ats:get_users() ~= nil end
          end,
        },
        logger = function(_, message, fields)
          if message == "retrying" and fields.operation == "get_jobs" then
            nested[#nested + 1] = client.ats:get_offers() ~= nil
          end
        end,
      })
      sb:fault({ path = "/v1/ats/jobs", status = 503, times = 1 })
      local jobs = assert(client.ats:get_jobs())
      assert.is_true(#jobs.data.results > 0)
      assert.same({ true, true, true, true }, nested)
    end)

    -- A finalizer the collector runs inside a task (or in the scheduler
    -- between two tasks) cannot yield: its calls must block, not try to
    -- wait the task's way.
    it("a finalizer calling the SDK while kombo.run drives tasks is answered, and every task ends", function()
      local client, other = new_client(), new_client()
      local answered, failures = 0, {}
      collectgarbage("collect")
      local state = rearming_finalizer(function()
        local page, err = client.ats:get_tags()
        if page then answered = answered + 1 else failures[#failures + 1] = tostring(err) end
        if other.ats:get_users() then answered = answered + 1 end
      end)
      local walked, rounds = 0, 0
      repeat
        for _ = 1, 10 do
          kombo.spawn(function()
            for _ in assert(client.ats:get_applications({ page_size = 50 })):items() do walked = walked + 1 end
          end)
        end
        local ok, errs = kombo.run()
        assert.is_true(ok, errs and tostring(errs[1]))
        rounds = rounds + 1
      until state.runs >= 3 or rounds == 20
      state.armed = false
      collectgarbage("collect")
      assert.is_true(state.runs > 0, "the finalizer never ran")
      assert.same({}, failures)
      assert.equal(2 * state.runs, answered)
      assert.equal(rounds * 10 * 600, walked)
      -- the scheduler is left as it should be: the next run works
      local t = kombo.spawn(function() return #assert(client.ats:get_tags()).data.results end)
      assert.is_true(kombo.run())
      assert.is_true(t:wait() > 0)
    end)

    -- lua-cjson's encoder writes into one buffer per instance, and on 5.1
    -- and LuaJIT lua_pushlstring runs the collector before it copies that
    -- buffer out: a finalizer encoding a body there spliced its bytes into
    -- the other body (a note sent with another note's text in it).
    it("a finalizer encoding a body while another is encoded leaves both whole", function()
      local encode = require("kombo.build").encode_json
      local text = "the finalizer's own note, long enough to overlap the other"
      local theirs, wrong_theirs = '{"content":"' .. text .. '","content_type":"PLAIN_TEXT"}', 0
      local state = rearming_finalizer(function()
        if encode({ content = text, content_type = "PLAIN_TEXT" }) ~= theirs then
          wrong_theirs = wrong_theirs + 1
        end
      end)
      -- A collector that starts its next cycle as soon as one ends.
      local mode = _VERSION == "Lua 5.4" and collectgarbage("incremental", 100, 400)
      local pause, stepmul
      if not mode then pause, stepmul = collectgarbage("setpause", 0), collectgarbage("setstepmul", 100) end
      local mine, wrong = '{"content":"the caller\'s note","content_type":"PLAIN_TEXT"}', {}
      -- A full collection first: the cycles then follow this heap, not one
      -- earlier specs left.
      collectgarbage("collect")
      for _ = 1, 3000 do
        local got = encode({ content = "the caller's note", content_type = "PLAIN_TEXT" })
        if got ~= mine then wrong[#wrong + 1] = got end
      end
      state.armed = false
      if mode then
        collectgarbage("incremental", 200, 100)
        collectgarbage(mode)
      else
        collectgarbage("setpause", pause)
        collectgarbage("setstepmul", stepmul)
      end
      -- Where the collector never pauses its finalizers run here whatever
      -- the heap; 5.4's incremental one may not end a cycle in these
      -- encodes after a full suite's heap (5.4 copies before collecting).
      if _VERSION ~= "Lua 5.4" then assert.is_true(state.runs > 0) end
      assert.same({}, wrong)
      assert.equal(0, wrong_theirs)
    end)

    -- 5.1, 5.3 and LuaJIT pass on what a finalizer raises from whatever
    -- allocation ran it: one in the scheduler's own code dropped the rest
    -- of the tasks it was resuming (never run, their wait nil, nil).
    it("a finalizer raising in the scheduler's own code loses no task: each runs and its wait answers", function()
      local client = new_client()
      sb:clear_requests()
      local n, done, raised, armed, in_step = 50, {}, 0, false, 0
      local stepping = require("kombo.drivers.tasks").stepping
      local function gc()
        -- only in the scheduler's own code, not in a task (the main thread)
        local co, main = coroutine.running()
        if armed and (co == nil or main) and stepping() then in_step = in_step + 1 end
        if armed and raised == 0 and (co == nil or main) then
          raised = raised + 1
          error("finalizer error", 0)
        end
      end
      local tasks = {}
      for i = 1, n do
        tasks[i] = kombo.spawn(function()
          armed = true
          for _ = 1, 3 do
            for _ = 1, 200 do
              if newproxy then getmetatable(newproxy(true)).__gc = gc -- luacheck: ignore 113
              else setmetatable({}, { __gc = gc }) end
            end
            coroutine.yield()
          end
          assert(client.general:check_api_key())
          done[#done + 1] = i
          return i
        end)
      end
      local ok, err = pcall(kombo.run)
      assert.is_true(kombo.run())
      armed = false
      collectgarbage("collect")
      -- 5.4 only warns about it. Elsewhere it comes out of kombo.run when
      -- it was raised (5.1 and 5.3 hold the collector while the scheduler
      -- hands answers over, so there it can only come from kombo.run's own
      -- code between steps).
      -- 5.1 and 5.3 hold the collector in the scheduler's own work: no
      -- finalizer runs there at all (LuaJIT's runs on leaving a trace).
      if _VERSION ~= "Lua 5.4" and not rawget(_G, "jit") then assert.equal(0, in_step) end
      if _VERSION ~= "Lua 5.4" and raised == 1 then
        assert.is_false(ok)
        assert.matches("finalizer error", err, 1, true)
      else
        assert.is_true(ok, tostring(err))
      end
      assert.equal(n, #done)
      for i = 1, n do assert.same({ i }, { tasks[i]:wait() }) end
      assert.equal(n, #requests_to("/v1/check-api-key"))
    end)

    -- Many finalizers that raise, armed while tasks' answers come in (half
    -- the tasks leave a walk whose next page is in flight): each
    -- allocation of the scheduler's may raise one (LuaJIT; elsewhere the
    -- collector is held there), also while libcurl's finished transfers
    -- are read. kombo.run never spins on a transfer that left libcurl and
    -- reached no task, and task:wait answers for every task, none lost
    -- between its resumption and what it waits for. In a child process
    -- under timeout(1), since a spin would never return.
    it("finalizers raising over and over as answers are handed over: kombo.run ends, every task is told", function()
      local out, code = run_lua(([[
        if rawget(_G, "jit") then jit.off() end
        local kombo = require("kombo")
        local tasks = require("kombo.drivers.tasks")
        local client = assert(kombo.new({ api_key = %q, integration_id = "i", server_url = %q,
          retries = { strategy = "none" } }))
        local armed, spawned = true, {}
        local function gc() if armed then error("finalizer error", 0) end end
        local function call() return client.ats:get_applications({ page_size = 50 }) end
        -- A walk left with its next page requested: the prefetch cancelled.
        local function walk()
          local n = 0
          for _ in client.ats:get_applications({ page_size = 5 }):items() do
            n = n + 1
            if n == 7 then break end
          end
        end
        local function spawn_all()
          for i = 1, 20 do
            local fn = i %% 2 == 0 and walk or call
            local ok, task = pcall(kombo.spawn, function() pcall(fn) end)
            if ok then spawned[#spawned + 1] = task end
          end
        end
        local function arm()
          for _ = 1, 3000 do
            if newproxy then getmetatable(newproxy(true)).__gc = gc -- luacheck: ignore 113
            else setmetatable({}, { __gc = gc }) end
          end
        end
        local function main()
          for _ = 1, 20 do
            pcall(spawn_all)
            pcall(arm)
            while true do
              local ok, busy = pcall(tasks.busy)
              if ok and not busy then break end
              pcall(kombo.run)
            end
          end
        end
        local ok, err = pcall(main)
        armed = false
        -- wait returns what the task returned, or why it has not: never
        -- that the scheduler lost it.
        local told, lost = 0, 0
        for _, task in ipairs(spawned) do
          local _, why = task:wait()
          told = told + 1
          if type(why) == "string" and why:find("scheduler lost", 1, true) then lost = lost + 1 end
        end
        io.stdout:write(("told %%d of %%d, %%d lost %%s %%s\n")
          :format(told, #spawned, lost, tostring(ok), tostring(err)))
      ]]):format(sb.api_key, sb.url), nil, "timeout 120 env ")
      assert.equal(0, code, out)
      local told, spawned, lost = out:match("told (%d+) of (%d+), (%d+) lost")
      assert.is_truthy(told, out)
      assert.equal(spawned, told)
      assert.equal("0", lost, out)
    end)

    -- A debug hook that raises as the scheduler's own pcall returns (a
    -- count hook that stops a runaway script can land there): the error
    -- comes out of kombo.run, and the scheduler is not left marked as
    -- running, which refused every later kombo.run. LuaJIT calls no hook
    -- as its pcall returns.
    -- A debug hook on event that raises "hook raised" where at() says, the
    -- first `times` times; done() removes it and says how often it raised.
    local function raise_in_hook(event, at, times)
      local fired = 0
      debug.sethook(function()
        if at() then
          fired = fired + 1
          if fired >= (times or 1) then debug.sethook() end
          error("hook raised", 0)
        end
      end, event)
      return function()
        debug.sethook()
        return fired
      end
    end

    local it_return_hook = rawget(_G, "jit") and pending or it
    it_return_hook("a hook raising as the scheduler's pcall returns leaves kombo.run usable", function()
      local tasks = require("kombo.drivers.tasks")
      local client = sb:client()
      local task = kombo.spawn(function() return client.ats:get_tags() end)
      local done = raise_in_hook("r", function()
        local returning, caller = debug.getinfo(3, "f"), debug.getinfo(4, "f")
        return returning and returning.func == pcall and caller and caller.func == tasks.step
      end)
      local ok, err = pcall(kombo.run)
      assert.equal(1, done())
      assert.is_false(ok)
      assert.equal("hook raised", err)
      assert.is_false(tasks.stepping())
      assert.is_true(kombo.run())
      local page = assert(task:wait())
      assert.is_table(page.data.results)
      assert.equal(1, #sb:requests())
    end)

    -- The same as Neovim's driver steps the scheduler from its timer (a
    -- Neovim built on Lua 5.1; here a stand-in for vim.uv's timer): the
    -- error is reported, and the next tick steps the tasks on.
    it_return_hook("a hook raising as the editor driver's pcall returns leaves its ticks stepping", function()
      local tasks = require("kombo.drivers.tasks")
      local tick, active, reported = nil, false, {}
      local timer = {
        start = function(_, _, _, fn) tick, active = fn, true end,
        stop = function() active = false end,
        is_active = function() return active end,
      }
      rawset(_G, "vim", { uv = { new_timer = function() return timer end },
        schedule = function(fn) reported[#reported + 1] = select(2, pcall(fn)) end })
      package.loaded["kombo.drivers.uv"] = nil
      local ok, err = pcall(function()
        require("kombo.drivers.uv").install()
        local client = sb:client()
        local task = kombo.spawn(function() return client.ats:get_tags() end)
        assert.is_function(tick)
        local done = raise_in_hook("r", function()
          local returning, caller = debug.getinfo(3, "f"), debug.getinfo(4, "f")
          return returning and returning.func == pcall and caller and caller.func == tick
        end)
        local first = { pcall(tick) }
        assert.equal(1, done())
        assert.same({ false, "hook raised" }, first)
        for _ = 1, 400 do
          if not active then break end
          tick()
          core.sleep_ms(5)
        end
        assert.is_false(active)
        assert.is_table(assert(task:wait()).data.results)
        assert.same({}, reported)
      end)
      tasks.on_spawn = nil
      package.loaded["kombo.drivers.uv"] = nil
      rawset(_G, "vim", nil)
      assert(ok, err)
    end)

    -- A raise as a queued send is started, when a transfer before it ends
    -- (a finalizer's, or here a hook's): the send stays queued and goes
    -- out at the next step; nothing spins and no task is lost.
    it("a raise as a queued send starts leaves it queued for the next step", function()
      local tasks = require("kombo.drivers.tasks")
      local client = sb:client({ max_connections = 1 })
      local first = kombo.spawn(function() return client.ats:get_tags() end)
      local second = kombo.spawn(function() return client.ats:get_tags() end)
      local done = raise_in_hook("c", function()
        local called, caller, via = debug.getinfo(3, "n"), debug.getinfo(4, "n"), debug.getinfo(5, "n")
        return called.name == "_start" and caller and caller.name == "_drain" and via and via.name == "_finished"
      end)
      local ok, err = pcall(kombo.run)
      assert.equal(1, done())
      assert.is_false(ok)
      assert.equal("hook raised", err)
      for _ = 1, 50 do
        if not tasks.busy() then break end
        tasks.step(100)
      end
      assert.is_false(tasks.busy())
      assert.is_table(assert(first:wait()).data)
      assert.is_table(assert(second:wait()).data)
      assert.equal(2, #sb:requests())
    end)

    -- A raise as the scheduler hands a send to libcurl (a finalizer's, as
    -- it allocates the transfer's entry; here a hook's as that starts) is
    -- not the request's failure: the send goes out on the next try, the
    -- task gets its answer, and the raise comes out of kombo.run. One that
    -- comes back on every try is: the task fails with it, after a bounded
    -- number of tries.
    local function raise_as_sends_start(times)
      return raise_in_hook("c", function()
        local called, via, caller = debug.getinfo(3, "S"), debug.getinfo(4, "f"), debug.getinfo(5, "n")
        return called.what == "Lua" and via and via.func == pcall and caller and caller.name == "_start"
      end, times)
    end

    it("a raise as a send is handed to libcurl comes out of kombo.run; the send goes out once", function()
      local client = sb:client()
      local task = kombo.spawn(function() return client.ats:get_tags() end)
      local done = raise_as_sends_start(1)
      local ok, err = pcall(kombo.run)
      assert.equal(1, done())
      assert.is_false(ok)
      assert.equal("hook raised", err)
      assert.is_true(kombo.run())
      assert.is_table(assert(task:wait()).data.results)
      assert.equal(1, #sb:requests())
    end)

    it("a send that cannot be handed to libcurl on any try fails its task, and nothing is sent", function()
      local client = sb:client()
      local task = kombo.spawn(function() return client.ats:get_tags() end)
      local done = raise_as_sends_start(math.huge)
      local ok, res, errs = pcall(kombo.run)
      local fired = done()
      assert.is_true(ok, tostring(res))
      assert.is_nil(res)
      assert.is_true(fired > 1)
      assert.is_table(errs)
      assert.matches("^hook raised", errs[1])
      assert.equal(task, errs.tasks[1])
      local res2, err = task:wait()
      assert.is_nil(res2)
      assert.matches("^hook raised", err)
      assert.equal(0, #sb:requests())
    end)

    -- LuaJIT 2.1 as distributions ship it can compile a loop of the SDK's
    -- into a trace that never exits once a finalizer re-enters the SDK.
    local jit = rawget(_G, "jit")
    local it_jit = (jit and jit.attach) and it or pending
    it_jit("under LuaJIT, the SDK's own Lua never becomes a trace, while the caller's code does", function()
      local traced, funcinfo = {}, require("jit.util").funcinfo
      local function on_trace(what, _, func)
        if what == "start" and func then traced[#traced + 1] = funcinfo(func).source or "?" end
      end
      jit.attach(on_trace, "trace")
      -- A signed event to parse: openssl's HMAC, base64url as Kombo sends it.
      local event = '{"id":"e1","type":"data-changed","data":{"integration_id":"personio:Zoë",'
        .. '"integration_tool":"personio","integration_category":"HRIS","changed_models":[{"name":"hris_employees"}]}}'
      local files = require("support.files")
      local body_file = files.tmp(".body")
      files.write(body_file, event)
      local b64 = files.sh("openssl dgst -sha256 -hmac whsec -binary " .. files.quote(body_file)
        .. " | openssl base64 -A")
      os.remove(body_file)
      local signature = b64:match("[%w+/=]+"):gsub("+", "-"):gsub("/", "_"):gsub("=", "")
      local ok, err = xpcall(function()
        local client = new_client()
        local schema, build, webhooks = require("kombo.schema"), require("kombo.build"), require("kombo").webhooks
        local NOTE = { type = "object", properties = { tags = { type = "array", items = { type = "string" } } } }
        local n = 0
        for i = 1, 300 do
          assert(client.ats:get_tags())
          if schema.is_array({ i, i + 1 }) then n = n + 1 end
          -- A body of UTF-8 text and an array, checked and encoded as a write's is.
          local body = { content = "Zoë Ångström ✓ " .. i, tags = { "a", "b" } }
          assert(schema.check(NOTE, body, "body", true))
          assert(build.encode_json(body, NOTE))
          assert(webhooks.parse(event, signature, "whsec"))
        end
        for app in assert(client.ats:get_applications({ page_size = 250 })):items() do
          if app.id then n = n + 1 end
        end
        assert.is_true(n > 300)
      end, debug.traceback)
      jit.attach(on_trace)
      assert(ok, err)
      local ours, theirs = {}, 0
      for _, src in ipairs(traced) do
        if src:find("lua/kombo/", 1, true) then ours[#ours + 1] = src else theirs = theirs + 1 end
      end
      assert.same({}, ours)
      assert.is_true(theirs > 0, "no trace started at all: the check saw nothing")
    end)

    -- Closing a state unloads the C modules it loaded; LuaJIT then still
    -- runs the finalizers that finalizers made. A call into kombo.core from
    -- one of them jumped into unmapped code (a segfault at exit).
    it("a finalizer still armed when the process ends can call the SDK, and the process exits cleanly", function()
      local out, code = run_lua(([[
        local kombo = require("kombo")
        local core = require("kombo.core")
        local client = assert(kombo.new({ api_key = %q, integration_id = "i", server_url = %q }))
        assert(client.ats:get_tags())
        local runs = 0
        local function arm()
          local gc = function()
            runs = runs + 1
            if runs > 4 then return end
            local decoded = core.json_decode('{"k":1}')
            local ok, page = pcall(client.ats.get_tags, client.ats)
            io.stdout:write("run ", runs, " ", decoded.k, " ", tostring(ok and page ~= nil), "\n")
            io.stdout:flush()
            arm()
          end
          if newproxy then getmetatable(newproxy(true)).__gc = gc -- luacheck: ignore 113
          else setmetatable({}, { __gc = gc }) end
        end
        arm()
      ]]):format(sb.api_key, sb.url))
      assert.equal(0, code, out)
      -- the finalizer ran at least once at the close, and its calls answered
      assert.matches("run 1 1 ", out, 1, true)
    end)

    -- The modules loaded on first use (an operation group, kombo.webhooks,
    -- kombo.sync): LuaJIT refused the chunk's jit.off inside a finalizer,
    -- and 5.1's require then refused the module for good.
    it("a finalizer that is the first to use a module loaded on first use gets it, and so does later code", function()
      sb:clear_requests()
      local out, code = run_lua(([[
        local kombo = require("kombo")
        local c = assert(kombo.new({ api_key = %q, integration_id = "i", server_url = %q }))
        local store = { get = function() end, set = function() end }
        local function use(who)
          local ok, r, e = pcall(function() return c.general:check_api_key() end)
          io.stdout:write(who, " general ", tostring(ok and r ~= nil or (r or e)), "\n")
          ok, r = pcall(function() return type(kombo.webhooks.parse) end)
          io.stdout:write(who, " webhooks ", tostring(r), "\n")
          ok, r, e = pcall(function() return c:sync("ats.get_tags", nil, { store = store }) end)
          io.stdout:write(who, " sync ", tostring(ok and r ~= nil or (r or e)), "\n")
        end
        local function gc() use("finalizer") end
        if newproxy then getmetatable(newproxy(true)).__gc = gc -- luacheck: ignore 113
        else setmetatable({}, { __gc = gc }) end
        collectgarbage("collect")
        use("after")
      ]]):format(sb.api_key, sb.url))
      assert.equal(0, code, out)
      assert.equal(table.concat({ "finalizer general true", "finalizer webhooks function", "finalizer sync true",
        "after general true", "after webhooks function", "after sync true", "" }, "\n"), out)
      assert.equal(2, #requests_to("/v1/check-api-key"))
    end)

    -- A finalizer (or anything else) raising in a module's chunk as it
    -- loads: 5.1 and LuaJIT left require's marker behind, and every later
    -- use raised "loop or previous error" (in nginx, in every later request).
    it("a module loaded on first use whose loading raised loads at the next use", function()
      sb:clear_requests()
      local out, code = run_lua(([[
        local kombo = require("kombo")
        local c = assert(kombo.new({ api_key = %q, integration_id = "i", server_url = %q }))
        local armed = true
        debug.sethook(function()
          local f = debug.getinfo(2, "S")
          if armed and f.what == "main" and f.source:find("operations/general.lua", 1, true) then
            armed = false
            error("raised while loading", 0)
          end
        end, "c")
        io.stdout:write("first ", tostring(select(2, pcall(function() return c.general end))), "\n")
        debug.sethook()
        local r, e = c.general:check_api_key()
        io.stdout:write("next ", tostring(r ~= nil or e), "\n")
      ]]):format(sb.api_key, sb.url))
      assert.equal(0, code, out)
      assert.equal("first raised while loading\nnext true\n", out)
      assert.equal(1, #requests_to("/v1/check-api-key"))
    end)
  end)

  describe("retries have a floor and a ceiling", function()
    for _, case in ipairs({
      { "Retry-After: 0", { ["Retry-After"] = "0" } },
      { "retry-after-ms: 0", { ["retry-after-ms"] = "0" } },
      { "an HTTP date in the past", { ["Retry-After"] = "Sun, 06 Nov 1994 08:49:37 GMT" } },
    }) do
      it("a 503 with " .. case[1] .. " gets at most max_attempts requests, spaced by the backoff", function()
        sb:fault({ path = "/v1/ats/tags", status = 503, headers = case[2], times = -1 })
        local client = new_client()
        local _, err = client.ats:get_tags()
        assert.equal("api", err.kind)
        assert.equal(5, err.attempts)
        local reqs = requests_to("/v1/ats/tags")
        assert.equal(5, #reqs)
        -- backoff 20, 40, 40, 40 ms, jittered to at least half
        local floors = { 10, 20, 20, 20 }
        for i = 2, #reqs do
          local gap = reqs[i].at_ms - reqs[i - 1].at_ms
          assert.is_true(gap >= floors[i - 1] - 1, ("gap %d was %.1f ms"):format(i - 1, gap))
        end
      end)
    end

    it("a dead server gets max_attempts tries by default, and the defaults are documented ones", function()
      local client = new_client({ server_url = "http://127.0.0.1:" .. sandbox.free_port() .. "/v1",
        retries = { backoff = { initial_interval = 1, max_interval = 2 } } })
      local _, err = client.ats:get_tags()
      assert.equal("connection", err.kind)
      assert.equal("refused", err.reason)
      assert.equal(10, err.attempts)
      assert.equal("kombo.retry_policy (backoff 500..60000 ms x1.5, max_elapsed_time 300000 ms, max_attempts 10)",
        tostring(core.retry_policy()))
    end)

    it("the last attempt's timeout is clipped to what is left of max_elapsed_time", function()
      sb:fault({ path = "/v1/ats/tags", delay_ms = 4000, times = -1 })
      local client = new_client({ timeout_ms = 60000,
        retries = { backoff = { initial_interval = 10, max_interval = 10, max_elapsed_time = 400 } } })
      local _, err = client.ats:get_tags()
      assert.equal("timeout", err.kind)
      -- the server holds every answer for 4 s: ending before it means the
      -- attempt was cut at the budget, not at timeout_ms
      assert.is_true(kombo.meta(err).elapsed_ms < 4000, "took " .. kombo.meta(err).elapsed_ms)
    end)

    it("a response over max_response_bytes is not retried", function()
      local client = new_client({ max_response_bytes = 1000 })
      local _, err = client.ats:get_applications({ page_size = 50 })
      assert.equal("decode", err.kind)
      assert.equal("too_large", err.reason)
      assert.equal(1, err.attempts)
      assert.equal(1, #requests_to("/v1/ats/applications"))
    end)

    it("URLs libcurl refuses are failures that are never retried, with their own reason", function()
      local h = core.easy()
      local _, f = h:perform({ method = "GET", url = "ftp://127.0.0.1/x", timeout_ms = 1000 })
      assert.equal("unsupported_protocol", f.reason)
      assert.is_true(core.failure_final(f.reason))
      _, f = h:perform({ method = "GET", url = "http://exa mple.com/", timeout_ms = 1000 })
      assert.equal("bad_url", f.reason)
      assert.is_true(core.failure_final(f.reason))
      h:close()
    end)

    it("a server_url with an invalid port is refused by kombo.new and per call", function()
      for _, url in ipairs({ "http://127.0.0.1:0/v1", "http://127.0.0.1:65536/v1", "http://127.0.0.1:999999/v1" }) do
        local c, err = kombo.new({ api_key = "k", server_url = url })
        assert.is_nil(c)
        assert.equal("server_url", err.field)
        assert.matches("port is 1 to 65535", err.message, 1, true)
        local _, cerr = new_client().ats:get_tags(nil, { server_url = url })
        assert.equal("server_url", cerr.field)
      end
      assert.is_table((kombo.new({ api_key = "k", server_url = "http://127.0.0.1:65535/v1" })))
    end)

    it("an id that would make the URL too long for libcurl is an invalid_request before anything is sent", function()
      local client = new_client()
      local _, err = client.ats:get_candidate_attachments({ candidate_id = ("x"):rep(8000001) })
      assert.equal("invalid_request", err.kind)
      assert.equal(0, #sb:requests())
    end)

    it("running out of file descriptors is its own reason, not refused, and is not retried", function()
      local out = run_lua(([[
        local kombo = require("kombo")
        local client = kombo.new({ api_key = %q, integration_id = "i", server_url = %q })
        local ats = client.ats -- a group's table is read from disk on first use
        local files = {}
        while true do
          local h = io.open("/dev/null")
          if not h then break end
          files[#files + 1] = h
        end
        local _, err = ats:get_tags()
        io.stderr:write(err and (err.reason .. " " .. err.attempts) or "ok", "\n")
      ]]):format(sb.api_key, sb.url), nil, "ulimit -n 64; ")
      assert.equal("fd_limit 1", out:match("^%s*(.-)%s*$"))
    end)
  end)

  describe("pagination", function()
    it("a server that repeats a cursor ends the walk with an error naming it", function()
      local body = '{"status":"success","data":{"next":"c-loop","results":[{"id":"t1","remote_id":"1","name":"x",'
        .. '"remote_created_at":null,"remote_updated_at":null,"changed_at":"2026-01-01T00:00:00.000Z",'
        .. '"remote_deleted_at":null}]}}'
      sb:fault({ path = "/v1/ats/tags", status = 200, body = body, times = -1 })
      local page = assert(new_client().ats:get_tags())
      local n = 0
      local ok, err = pcall(function() for _ in page:items() do n = n + 1 end end)
      assert.is_false(ok)
      assert.equal(2, n) -- the first page's item, then the second's: nothing after
      assert.equal("pagination", err.kind)
      assert.equal("cursor_repeated", err.reason)
      assert.equal("c-loop", err.cursor)
      assert.matches("c-loop", tostring(err), 1, true)
      assert.equal(2, #requests_to("/v1/ats/tags"))
      -- the same page asked twice for its next is not a loop
      assert.is_table((page:next()))
    end)

    it("a cursor pointing back to an earlier page is caught as well", function()
      sb:fault({
        { path = "/v1/ats/tags", status = 200, times = 1,
          body = '{"status":"success","data":{"next":"A","results":[]}}' },
        { path = "/v1/ats/tags", status = 200, times = 1,
          body = '{"status":"success","data":{"next":"B","results":[]}}' },
        { path = "/v1/ats/tags", status = 200, times = -1,
          body = '{"status":"success","data":{"next":"A","results":[]}}' },
      })
      local page = assert(new_client().ats:get_tags())
      local ok, err = pcall(function() for _ in page:pages() do end end)
      assert.is_false(ok)
      assert.equal("cursor_repeated", err.reason)
      assert.equal("A", err.cursor)
      assert.equal(3, #requests_to("/v1/ats/tags"))
    end)

    -- A page that is not what the API documents ends the walk with an error
    -- at the page, never with fewer items and no word of it.
    local TAG = '{"id":"%s","remote_id":"1","name":"x","remote_created_at":null,"remote_updated_at":null,'
      .. '"changed_at":"2026-01-01T00:00:00.000Z","remote_deleted_at":null}'
    for _, c in ipairs({
      { "a null among the results (null_as_nil)", '[' .. TAG:format("t1") .. ',null,' .. TAG:format("t3") .. ']',
        '"p2"', "data.results[2] is null", { null_as_nil = true } },
      { "a null among the results", '[' .. TAG:format("t1") .. ',null]', '"p2"', "data.results[2] is null" },
      { "results as a JSON object", '{"a":' .. TAG:format("t1") .. '}', '"p2"', "data.results is not an array" },
      { "a string among the results", '["t1"]', "null", "data.results[1] is string" },
      { "a number as the next cursor", '[' .. TAG:format("t1") .. ']', "12345", "data.next is number" },
      { "an object as the next cursor", '[' .. TAG:format("t1") .. ']', '{"c":"p2"}', "data.next is table" },
      { "an empty next cursor", '[' .. TAG:format("t1") .. ']', '""', "data.next is an empty string" },
    }) do
      it(c[1] .. " is a decode error at that page, not a shorter walk", function()
        -- The page after the bad one: asked for only with the cursor the
        -- bad page's raw bytes gave (the blocking driver asks before it
        -- decodes), then dropped; never by the walk.
        local after = c[3] == '"p2"' and 1 or 0
        sb:fault({
          { path = "/v1/ats/tags", status = 200, times = 1,
            body = '{"status":"success","data":{"next":"p1","results":[' .. TAG:format("t0") .. ']}}' },
          { path = "/v1/ats/tags", status = 200, times = 2 + after,
            body = '{"status":"success","data":{"next":' .. c[3] .. ',"results":' .. c[2] .. '}}' },
        })
        local page = assert(new_client(c[5]).ats:get_tags())
        local seen = {}
        local ok, err = pcall(function() for tag in page:items() do seen[#seen + 1] = tag.id end end)
        assert.is_false(ok)
        assert.same({ "t0" }, seen)
        assert.equal("decode", err.kind)
        assert.equal("p1", err.cursor)
        assert.matches(c[4], err.message, 1, true)
        local reqs = requests_to("/v1/ats/tags")
        assert.equal(2 + after, #reqs)
        if after == 1 then assert.matches("cursor=p2", reqs[3].query, 1, true) end
        local first, ferr = new_client(c[5]).ats:get_tags({ cursor = "p1" })
        assert.is_nil(first)
        assert.equal("decode", ferr.kind)
        assert.equal(3 + after, #requests_to("/v1/ats/tags"))
      end)
    end

    -- JSON.stringify writes such an escape for a string cut inside an emoji;
    -- refused, the page would fail the same way on every try.
    it("a lone surrogate escape in a page is U+FFFD, and the walk goes on", function()
      local cut = (TAG:format("t1"):gsub('"name":"x"', '"name":"Ren\\u00e9 \\ud83d"'))
      sb:fault({
        { path = "/v1/ats/tags", status = 200, times = 1,
          body = '{"status":"success","data":{"next":"p1","results":[' .. TAG:format("t0") .. ']}}' },
        { path = "/v1/ats/tags", status = 200, times = 1,
          body = '{"status":"success","data":{"next":"p2","results":[' .. cut .. ']}}' },
        { path = "/v1/ats/tags", status = 200, times = 1,
          body = '{"status":"success","data":{"next":null,"results":[' .. TAG:format("t2") .. ']}}' },
      })
      local names = {}
      for tag in assert(new_client().ats:get_tags()):items() do names[#names + 1] = tag.id .. " " .. tag.name end
      assert.same({ "t0 x", "t1 Ren\195\169 \239\191\189", "t2 x" }, names)
      local queries = {}
      for i, r in ipairs(requests_to("/v1/ats/tags")) do queries[i] = r.query or "" end
      assert.same({ "", "cursor=p1", "cursor=p2" }, queries)
    end)

    -- Too long for a URL alone, and short enough for one but too long with
    -- the header lines.
    for _, length in ipairs({ 8000001, HEAD_BYTES - 100 }) do
      it("a server cursor of " .. length .. " bytes is a pagination error, not retried", function()
        local cursor = ("c"):rep(length)
        sb:fault({ path = "/v1/ats/tags", status = 200, times = 1,
          body = '{"status":"success","data":{"next":"' .. cursor .. '","results":[]}}' })
        local page = assert(new_client().ats:get_tags())
        local nxt, err = page:next()
        assert.is_nil(nxt)
        assert.equal("pagination", err.kind)
        assert.equal("cursor_too_long", err.reason)
        assert.equal(1, #requests_to("/v1/ats/tags"))
      end)
    end
  end)

  describe("a request head longer than libcurl takes", function()
    -- What a 2 MiB list of ids, a 2 MB key or a 1 MiB header made: libcurl
    -- reported its request buffer's bound as out of memory, with no field.
    local BIG = ("x"):rep(2 * 1024 * 1024)
    local function refused(err, field)
      assert.equal("invalid_request", err.kind)
      assert.equal(field, err.field)
      assert.matches(field .. ": .* short enough for a request whose URL and header lines take at most "
        .. HEAD_BYTES .. " bytes %(libcurl's bound%): these take %d+$", err.message)
      assert.same({}, sb:requests())
    end

    it("is refused before sending, naming the parameter, the key or the headers", function()
      local client = new_client()
      local _, err = client.ats:get_jobs({ ids = BIG })
      refused(err, "ids")
      -- A path parameter that is most of it: the parameters as a whole.
      _, err = client.ats:get_application_attachments({ application_id = BIG })
      refused(err, "params")
      _, err = new_client({ api_key = BIG }).ats:get_tags()
      refused(err, "api_key")
      _, err = new_client({ api_key = function() return BIG end }).ats:get_tags()
      refused(err, "api_key")
      _, err = new_client({ headers = { ["X-Big"] = BIG } }).ats:get_tags()
      refused(err, "headers")
      _, err = client.ats:get_tags(nil, { headers = { ["X-Big"] = BIG:sub(1, HEAD_BYTES) } })
      refused(err, "headers")
      _, err = new_client({ hooks = { before_request = function(x) x.headers["X-Big"] = BIG end } }).ats:get_tags()
      refused(err, "headers")
      -- Neither alone too long: the larger is named.
      _, err = client.ats:get_jobs({ ids = BIG:sub(1, 600000), name_contains = "x" },
        { headers = { ["X-Big"] = BIG:sub(1, 500000) } })
      refused(err, "ids")
    end)

    it("is sent up to the bound", function()
      local ids = ("x"):rep(HEAD_BYTES - 1000)
      local _, err = new_client().ats:get_jobs({ ids = ids })
      -- The sandbox refuses a head this long itself (before logging it):
      -- libcurl sent it.
      assert.equal("api", err.kind)
      assert.equal(431, err.status)
    end)
  end)

  describe("the API key appears in nothing the SDK returns", function()
    local KEY = "sk_live_reflected_0123456789"
    local keyed = sandbox.fixture({ api_key = KEY })

    local function contains_key(v, seen)
      seen = seen or {}
      if type(v) == "string" then return v:find(KEY, 1, true) ~= nil end
      if type(v) ~= "table" or seen[v] then return false end
      seen[v] = true
      for k, x in pairs(v) do
        if contains_key(k, seen) or contains_key(x, seen) then return true end
      end
      return false
    end

    local function reflecting_rule(status)
      local body = ('{"status":"error","error":{"code":"PLATFORM.AUTH","title":"Bearer %s",'
        .. '"message":"your key %s is wrong","log_url":"https://app.kombo.dev/logs?key=%s"}}'):format(KEY, KEY, KEY)
      return { path = "/v1/ats/tags", status = status, body = body, times = -1,
        headers = { ["X-Echo-Authorization"] = "Bearer " .. KEY, ["X-Other"] = "prefix " .. KEY .. " suffix" } }
    end

    for _, how in ipairs({ "string", "function" }) do
      it("is redacted from every field of an error and its metadata (api_key as a " .. how .. ")", function()
        keyed:fault(reflecting_rule(400))
        local seen = {}
        local client = assert(kombo.new({
          api_key = how == "string" and KEY or function() return KEY end,
          integration_id = "i", server_url = keyed.url, retries = SHORT,
          logger = function(level, message, fields) seen[#seen + 1] = { level, message, fields } end,
          hooks = { after_error = function(ex, e) seen[#seen + 1] = { ex, e } end },
        }))
        local _, err = client.ats:get_tags()
        assert.equal("api", err.kind)
        assert.is_false(contains_key(tostring(err)))
        assert.is_false(contains_key(err))
        assert.is_false(contains_key(kombo.meta(err)))
        assert.is_false(contains_key(seen))
        assert.matches("[REDACTED]", err.message, 1, true)
        assert.matches("[REDACTED]", err.headers["x-echo-authorization"], 1, true)
        assert.equal("prefix [REDACTED] suffix", err.headers["x-other"])
      end)
    end

    -- The tags walked with `key`, plainly or in a task, with what the
    -- logger and hooks saw, the queries the server was asked and the error
    -- the walk ended with.
    local function walk_tags(key, how)
      local seen = {}
      local client = assert(kombo.new({
        api_key = key, integration_id = "i", server_url = keyed.url,
        logger = function(level, message, fields) seen[#seen + 1] = { level, message, fields } end,
        hooks = {
          before_request = function(ex) seen[#seen + 1] = { ex.url, ex.method } end,
          after_success = function(ex, r) seen[#seen + 1] = { ex.url, r } end,
        },
      }))
      local items = {}
      local function walk()
        for tag in assert(client.ats:get_tags()):items() do items[#items + 1] = tag end
      end
      local ok, err
      if how == "a plain walk" then
        ok, err = pcall(walk)
      else
        kombo.spawn(walk)
        local errs
        ok, errs = kombo.run()
        err = errs and errs[1]
      end
      local asked = {}
      for _, r in ipairs(keyed:requests()) do
        if r.path == "/v1/ats/tags" then asked[#asked + 1] = r.path .. "?" .. (r.query or "") end
      end
      return items, seen, asked, not ok and err or nil
    end

    -- A walk whose cursor held the key: the page's items, then an end
    -- that says why, and no request with the redacted cursor.
    local function ended_at_cursor(items, asked, err)
      assert.equal(1, #items)
      assert.equal(1, #asked)
      assert.is_table(err)
      assert.equal("pagination", err.kind)
      assert.equal("cursor_holds_key", err.reason)
      assert.equal("[REDACTED]", err.cursor)
    end

    for _, how in ipairs({ "a plain walk", "a walk in a task" }) do
      it("is redacted from a successful page that reflects it, and the walk ends at its cursor (" .. how .. ")",
        function()
        local item = '{"id":"t-%s","remote_id":"1","name":"key %s","remote_created_at":null,"remote_updated_at":null,'
          .. '"changed_at":"2026-01-01T00:00:00.000Z","remote_deleted_at":null}'
        keyed:fault({ path = "/v1/ats/tags", status = 200, times = 1,
          body = ('{"status":"success","data":{"next":"%s","results":[' .. item .. ']}}'):format(KEY, KEY, KEY) })
        local items, seen, asked, err = walk_tags(KEY, how)
        ended_at_cursor(items, asked, err)
        assert.equal("t-[REDACTED]", items[1].id)
        assert.equal("key [REDACTED]", items[1].name)
        assert.is_false(contains_key(items))
        assert.is_false(contains_key(seen))
        assert.is_false(contains_key(err))
        assert.is_false(contains_key(asked))
      end)
    end

    it("is redacted from the values of a result, never from the JSON text around them", function()
      -- A key that is part of ids, dates and numbers: the text holds it
      -- everywhere, and only a value that is the key holds it as such.
      local short = "1"
      local body = '{"status":"success","data":{"next":null,"results":[{"id":"t1","remote_id":"1",'
        .. '"name":"1","remote_created_at":null,"remote_updated_at":null,'
        .. '"changed_at":"2026-01-01T10:11:12.000Z","remote_deleted_at":null,"remote_data":{"n":123}}]}}'
      keyed:fault({ path = "/v1/ats/tags", status = 200, times = 2, body = body })
      for _, prefetch in ipairs({ true, false }) do
        local client = assert(kombo.new({ api_key = short, integration_id = "i", server_url = keyed.url,
          prefetch = prefetch }))
        local tag = assert(client.ats:get_tags()).data.results[1]
        assert.equal("t[REDACTED]", tag.id)
        assert.equal("[REDACTED]", tag.remote_id)
        assert.equal("2026-0[REDACTED]-0[REDACTED]T[REDACTED]0:[REDACTED][REDACTED]:[REDACTED]2.000Z", tag.changed_at)
        assert.equal(123, tag.remote_data.n) -- a number is no text: the JSON stays valid
      end
    end)

    it("is kept out of an error's body when the server sent it JSON-escaped", function()
      local escaped = KEY:gsub(".", function(c) return ("\\u%04x"):format(c:byte()) end)
      keyed:fault({ path = "/v1/ats/tags", status = 401, times = 1,
        body = '{"status":"error","error":{"code":"PLATFORM.AUTH","message":"your key ' .. escaped .. '"}}' })
      local client = assert(kombo.new({ api_key = KEY, integration_id = "i", server_url = keyed.url }))
      local _, err = client.ats:get_tags()
      assert.equal("your key [REDACTED]", err.message)
      assert.is_nil(err.body:find(escaped, 1, true))
      assert.is_false(contains_key(err))
      assert.matches("[REDACTED]", err.body, 1, true)
    end)

    -- One escaped character is enough to hide a key from a match on the
    -- text; a key with a slash may come with it escaped.
    local SLASHED = "sk_live_reflected/0123456789"
    local escapes = {
      { "its first character \\u-escaped", KEY, "\\u0073" .. KEY:sub(2) },
      { "every character \\u-escaped", KEY, (KEY:gsub(".", function(c) return ("\\u%04x"):format(c:byte()) end)) },
      { "its slash escaped", SLASHED, (SLASHED:gsub("/", "\\/")) },
    }

    for _, how in ipairs({ "a plain walk", "a walk in a task" }) do
      for _, case in ipairs(escapes) do
        local name, key, escaped = case[1], case[2], case[3]
        it("is redacted from a successful page that holds it with " .. name .. ", and the walk ends at its cursor ("
          .. how .. ")", function()
          local item = '{"id":"t-%s","remote_id":"1","name":"key","remote_created_at":null,"remote_updated_at":null,'
            .. '"changed_at":"2026-01-01T00:00:00.000Z","remote_deleted_at":null,"remote_data":{"%s":1}}'
          keyed:fault({ path = "/v1/ats/tags", status = 200, times = 1,
            body = ('{"status":"success","data":{"next":"%s","results":[' .. item .. ']}}')
              :format(escaped, escaped, escaped) })
          local items, seen, asked, err = walk_tags(key, how)
          local function holds(v, s)
            s = s or {}
            if type(v) == "string" then return v:find(key, 1, true) ~= nil end
            if type(v) ~= "table" or s[v] then return false end
            s[v] = true
            for k, x in pairs(v) do
              if holds(k, s) or holds(x, s) then return true end
            end
            return false
          end
          ended_at_cursor(items, asked, err)
          assert.equal("t-[REDACTED]", items[1].id)
          assert.equal(1, items[1].remote_data["[REDACTED]"])
          assert.is_false(holds(items))
          assert.is_false(holds(seen))
          assert.is_false(holds(err))
        end)
      end
    end

    it("is kept out of an error's body when the server sent it JSON-escaped outside the error's fields", function()
      keyed:fault({ path = "/v1/ats/tags", status = 401, times = 1,
        body = '{"status":"error","error":{"code":"PLATFORM.AUTH","message":"bad key"},"echo":"\\u0073'
          .. KEY:sub(2) .. '"}' })
      local client = assert(kombo.new({ api_key = KEY, integration_id = "i", server_url = keyed.url }))
      local _, err = client.ats:get_tags()
      assert.equal("bad key", err.message)
      assert.is_false(contains_key(err))
      assert.is_false(contains_key(core.json_decode(err.body) or {}))
      assert.matches("[REDACTED]", err.body, 1, true)
    end)

    it("keeps an error's body that holds it plainly and a backslash elsewhere, redacted", function()
      keyed:fault({ path = "/v1/ats/tags", status = 401, times = 1,
        body = '{"status":"error","error":{"code":"PLATFORM.AUTH","message":"bad key\\n' .. KEY .. '"}}' })
      local client = assert(kombo.new({ api_key = KEY, integration_id = "i", server_url = keyed.url }))
      local _, err = client.ats:get_tags()
      assert.equal("bad key\n[REDACTED]", err.message)
      assert.equal('{"status":"error","error":{"code":"PLATFORM.AUTH","message":"bad key\\n[REDACTED]"}}', err.body)
    end)

    it("is redacted from a successful result's metadata headers", function()
      local client = assert(kombo.new({ api_key = KEY, integration_id = "i", server_url = keyed.url }))
      local rule = reflecting_rule(200)
      rule.body = '{"status":"success","data":{"next":null,"results":[]}}'
      keyed:fault(rule)
      local page = assert(client.ats:get_tags())
      assert.is_false(contains_key(kombo.meta(page)))
      assert.equal("Bearer [REDACTED]", kombo.meta(page).headers["x-echo-authorization"])
    end)
  end)

  describe("bad input is a clear error, never a raise", function()
    local cases = {
      { "timeout_ms beyond what libcurl holds", { timeout_ms = 1e19 }, "timeout_ms" },
      { "infinite timeout_ms", { timeout_ms = math.huge }, "timeout_ms" },
      { "NaN max_response_bytes", { max_response_bytes = 0 / 0 }, "max_response_bytes" },
      { "infinite max_response_bytes", { max_response_bytes = math.huge }, "max_response_bytes" },
      { "fractional max_response_bytes", { max_response_bytes = 1.5 }, "max_response_bytes" },
      { "negative max_response_bytes", { max_response_bytes = -1 }, "max_response_bytes" },
      { "max_connections 0", { max_connections = 0 }, "max_connections" },
    }
    for _, c in ipairs(cases) do
      it(c[1] .. " is refused, naming the field", function()
        local o = { api_key = "k" }
        for k, v in pairs(c[2]) do o[k] = v end
        local client, err = kombo.new(o)
        assert.is_nil(client)
        assert.equal("invalid_request", err.kind)
        assert.equal(c[3], err.field)
      end)
    end

    for _, bad in ipairs({
      { "a value with CR LF", "X-Trace", "a\r\nX-Injected: 1" },
      { "a name with CR LF", "X-Trace\r\nX-Injected", "1" },
      { "a name with a colon", "X-Trace: 1\nX", "1" },
      { "a value with NUL", "X-Trace", "a\0b" },
      { "an Authorization of its own", "authorization", "Bearer other-key" },
      { "a Content-Length of its own", "Content-Length", "0" },
    }) do
      it("a hook that sets " .. bad[1] .. " makes the call fail with invalid_request, nothing sent", function()
        local client = new_client({ hooks = { before_request = function(ex) ex.headers[bad[2]] = bad[3] end } })
        local ok, res, err = pcall(client.ats.get_tags, client.ats)
        assert.is_true(ok, tostring(res))
        assert.is_nil(res)
        assert.equal("invalid_request", err.kind)
        assert.equal(0, #sb:requests())
      end)
    end

    it("a hook that replaces the headers table with something else fails the call, nothing sent", function()
      for _, v in ipairs({ false, "X-A: 1" }) do
        local client = new_client({ hooks = { before_request = function(ex) ex.headers = v end } })
        local ok, res, err = pcall(client.ats.get_tags, client.ats)
        assert.is_true(ok, tostring(res))
        assert.is_nil(res)
        assert.equal("headers", err.field)
      end
      assert.equal(0, #sb:requests())
    end)

    for _, where in ipairs({ "hook", "logger" }) do
      it("a " .. where .. " that closes the client mid-call: nothing more is sent, nothing kept open", function()
        local client, attempts = nil, 0
        local function close_on_second(message)
          if message ~= nil and message ~= "request" then return end
          attempts = attempts + 1
          if attempts == 2 then client:close() end
        end
        local opts = { retries = { strategy = "backoff", max_attempts = 3,
          backoff = { initial_interval = 1, max_interval = 2, max_elapsed_time = 5000 } } }
        if where == "hook" then
          opts.hooks = { before_request = function() close_on_second() end }
        else
          opts.logger = function(_, message) close_on_second(message) end
        end
        client = new_client(opts)
        sb:fault({ path = "/v1/ats/tags", status = 503, times = -1 })
        local _, err = client.ats:get_tags()
        assert.equal("invalid_request", err.kind)
        assert.equal("client", err.field)
        assert.equal(1, #requests_to("/v1/ats/tags"))
        assert.is_nil(client._pool)
        collectgarbage()
        collectgarbage()
        assert.equal(1, sb:open_connections(1)) -- only the sandbox's own look
      end)
    end

    it("inside tasks, such a hook fails its own call and every other task still runs", function()
      local bad = new_client({ hooks = { before_request = function(ex) ex.headers["X-A"] = "1\r\n2" end } })
      local good = new_client()
      local results = {}
      for i = 1, 4 do
        kombo.spawn(function()
          local c = (i % 2 == 1) and bad or good
          local res, err = c.ats:get_tags()
          results[i] = res and "ok" or err.kind
        end)
      end
      assert.is_true(kombo.run())
      assert.same({ "invalid_request", "ok", "invalid_request", "ok" }, results)
      assert.equal(2, #requests_to("/v1/ats/tags"))
    end)
  end)

  describe("null_as_nil", function()
    it("reads JSON null in results as nil, so `a and a.b` never meets a truthy null", function()
      local body = '{"status":"success","data":{"next":null,"results":[{"id":"A1","current_stage":null,'
        .. '"tags":[null,{"name":"t"}]}]}}'
      sb:fault({ path = "/v1/ats/applications", status = 200, body = body, times = -1 })
      local default = assert(new_client().ats:get_applications())
      assert.equal(kombo.null, default.data.results[1].current_stage)
      local page = assert(new_client({ null_as_nil = true }).ats:get_applications())
      local app = page.data.results[1]
      assert.is_nil(app.current_stage)
      assert.is_nil(app.current_stage and app.current_stage.name)
      assert.is_nil(app.tags[1])
      assert.equal("t", app.tags[2].name)
      assert.is_nil(page.data.next)
      local n = 0
      for _ in page:items() do n = n + 1 end
      assert.equal(1, n)
    end)
  end)

  describe("client:close()", function()
    it("is final: later calls and pages fail clearly, every handle is closed, nothing is sent", function()
      local client = new_client()
      local page = assert(client.ats:get_applications({ page_size = 100 }))
      kombo.spawn(function() assert(client.ats:get_tags()) end)
      assert.is_true(kombo.run())
      assert.is_not_nil(client._pool)
      client:close()
      client:close()
      assert.is_nil(client._pool)
      sb:clear_requests()
      local _, err = client.ats:get_tags()
      assert.equal("invalid_request", err.kind)
      assert.equal("client", err.field)
      assert.matches("closed by client:close()", err.message, 1, true)
      local nxt, perr = page:next()
      assert.is_nil(nxt)
      assert.equal("invalid_request", perr.kind)
      kombo.spawn(function()
        local res, terr = client.ats:get_tags()
        assert(res == nil and terr.field == "client")
      end)
      assert.is_true(kombo.run())
      assert.equal(0, #sb:requests())
    end)
  end)

  describe("repeated response headers", function()
    -- A server in a child process that answers once with n copies of one
    -- header; the core must join them into one value.
    local function serve_repeated(n)
      local port = sandbox.free_port()
      local script = os.tmpname()
      local f = assert(io.open(script, "w"))
      f:write(([[
        local socket = require("socket")
        local server = assert(socket.bind("127.0.0.1", %d))
        io.stdout:write("ready\n"); io.stdout:flush()
        local c = server:accept()
        c:settimeout(5)
        repeat local l = c:receive("*l") until l == "" or not l
        local body = '{"status":"success","data":{}}'
        local head = { "HTTP/1.1 200 OK", "Content-Length: " .. #body, "Connection: close" }
        for _ = 1, %d do head[#head + 1] = "X-Rep: v" end
        c:send(table.concat(head, "\r\n") .. "\r\n\r\n" .. body)
        c:close()
      ]]):format(port, n))
      f:close()
      local lua = os.getenv("KOMBO_LUA") or "lua5.4"
      local proc = io.popen(lua .. " " .. script)
      assert.equal("ready", proc:read("*l"))
      return port, function() proc:close(); os.remove(script) end
    end

    it("are joined with ', ' in time linear in their number", function()
      local function fetch(n)
        local port, done = serve_repeated(n)
        local h = core.easy()
        local t0 = os.clock()
        local res = assert(h:perform({ method = "GET", url = "http://127.0.0.1:" .. port .. "/", timeout_ms = 10000 }))
        res.headers = core.headers(res.head)
        local cpu = os.clock() - t0
        h:close()
        done()
        return res, cpu
      end
      local small, small_cpu = fetch(2000)
      local large, large_cpu = fetch(20000)
      assert.equal(("v, "):rep(1999) .. "v", small.headers["x-rep"])
      assert.equal(("v, "):rep(19999) .. "v", large.headers["x-rep"])
      -- ten times the headers: linear is about ten times the CPU, a
      -- growing concatenation about a hundred
      assert.is_true(large_cpu < 40 * math.max(small_cpu, 0.001),
        ("%.4f s for 20000 vs %.4f s for 2000"):format(large_cpu, small_cpu))
    end)
  end)
end)
