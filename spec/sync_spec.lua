-- Resume tokens and incremental sync, against the sandbox: what went over
-- the wire (updated_after, include_deleted, the filters and cursor of a
-- resumed page) is read from the sandbox's request log.
local kombo = require("kombo")
local sandbox = require("support.sandbox")

describe("resume tokens", function()
  local sb = sandbox.fixture()
  local client

  before_each(function() client = sb:client() end)
  after_each(function() client:close() end)

  local FILTERS = { page_size = 50, outcome = "PENDING" }

  -- Every id of a walk, and the error that ended it (nil when it finished).
  local function walk(params)
    local ids = {}
    local ok, err = pcall(function()
      for app in assert(client.ats:get_applications(params)):items() do ids[#ids + 1] = app.id end
    end)
    return ids, not ok and err or nil
  end

  it("carries the filters and the cursor of the failed page, and { resume = token } sends both exactly", function()
    local all = walk(FILTERS)
    sb:clear_requests()
    sb:fault({ path = "/v1/ats/applications", every = 3, times = 1, status = 400 })
    local ids, err = walk(FILTERS)
    assert.equal("api", err.kind)
    assert.equal(100, #ids)
    local failed = sb:requests()[3]
    assert.matches("^page_size=50&outcome=PENDING&cursor=", failed.query)
    assert.equal(err.cursor, err.resume.cursor)

    local page = assert(client.ats:get_applications({ resume = err.resume }))
    for app in page:items() do ids[#ids + 1] = app.id end
    local reqs = sb:requests()
    assert.equal(failed.query, reqs[4].query)
    assert.same(all, ids)
  end)

  it("keeps through JSON, and a copy of the filters: changing the params table later changes nothing", function()
    local params = { page_size = 100, outcomes = { "PENDING", "HIRED" } }
    sb:fault({ path = "/v1/ats/applications", every = 2, times = 1, status = 400 })
    local _, err = walk(params)
    params.outcomes[2], params.page_size = "DECLINED", 5
    local cjson = require("cjson")
    local token = assert(require("kombo.core").json_decode(cjson.encode(err.resume)))
    assert(client.ats:get_applications({ resume = token }))
    local reqs = sb:requests()
    assert.equal(reqs[2].query, reqs[3].query)
    assert.matches("^page_size=100&outcomes=PENDING,HIRED&cursor=", reqs[3].query)
  end)

  it("is on a failed first page too, without a cursor: the walk starts again", function()
    sb:fault({ path = "/v1/ats/applications", status = 400 })
    local page, err = client.ats:get_applications(FILTERS)
    assert.is_nil(page)
    assert.is_nil(err.resume.cursor)
    assert(client.ats:get_applications({ resume = err.resume }))
    local reqs = sb:requests()
    assert.equal(reqs[1].query, reqs[2].query)
  end)

  it("refuses other parameters beside it, a token of another operation, and operations that do not page", function()
    sb:fault({ path = "/v1/ats/applications", every = 2, times = 1, status = 400 })
    local _, err = walk(FILTERS)
    sb:clear_requests()
    local function refused(call, expected)
      local res, e = call()
      assert.is_nil(res)
      assert.equal("invalid_request", e.kind)
      assert.equal("resume", e.field)
      assert.matches(expected, e.message, 1, true)
    end
    refused(function() return client.ats:get_applications({ resume = err.resume, page_size = 10 }) end,
      "pass { resume = err.resume } alone (got page_size too)")
    refused(function() return client.ats:get_candidates({ resume = err.resume }) end,
      "err.resume of a failed walk of this operation")
    refused(function() return client.ats:get_applications({ resume = "token" }) end, "unchanged")
    refused(function()
      return client.ats:get_applications({ resume = { operation = "get_applications", path = "/ats/applications",
        filters = { cursor = "x" } } })
    end, "unchanged")
    refused(function() return client.general:check_api_key({ resume = err.resume }) end,
      "not accepted: check_api_key does not page")
    refused(function() return client.general:check_api_key({ resume = err.resume }, { validate = false }) end,
      "does not page")
    assert.equal(0, #sb:requests())
    -- validate = false resumes too: the token is still checked and sent as made
    assert(client.ats:get_applications({ resume = err.resume }, { validate = false }))
    assert.equal(1, #sb:requests())
  end)
end)

describe("client:sync", function()
  local sb = sandbox.fixture()
  local client, path
  local core = require("kombo.core")
  local NULL = kombo.null

  before_each(function()
    client = sb:client()
    path = os.tmpname()
    os.remove(path)
  end)
  after_each(function()
    client:close()
    os.remove(path)
    os.remove(path .. ".lock")
  end)

  local read_file = require("support.files").read
  local epoch = require("support.time").epoch
  local function state_of(sync)
    return core.json_decode(read_file(path))[sync.key]
  end

  -- The ids a run yields, and the error that ended it (nil when it finished).
  local function run(sync, stop_at)
    local ids, items = {}, {}
    local ok, err = pcall(function()
      for item in sync:items() do
        if #ids + 1 == stop_at then error("the caller's own failure") end
        ids[#ids + 1], items[item.id] = item.id, item
      end
    end)
    return ids, not ok and err or nil, items
  end

  -- Every application the sandbox has, in its order, deleted ones too.
  local function all_applications()
    local ids, newest = {}, nil
    for app in assert(client.ats:get_applications({ page_size = 100, include_deleted = true })):items() do
      ids[#ids + 1] = app.id
      if not newest or app.changed_at > newest then newest = app.changed_at end
    end
    sb:clear_requests()
    return ids, newest
  end

  local function queries()
    local out = {}
    for i, r in ipairs(sb:requests()) do out[i] = r.query end
    return out
  end

  local function concat(a, b)
    local out = {}
    for _, v in ipairs(a) do out[#out + 1] = v end
    for _, v in ipairs(b) do out[#out + 1] = v end
    return out
  end

  local function applications(opts)
    opts = opts or {}
    if not opts.store then opts.state_file = path end
    return assert(client:sync("ats.get_applications", { page_size = 100 }, opts))
  end

  it("walks everything the first time, deletions included, and saves the largest changed_at", function()
    local all, newest = all_applications()
    local sync = applications()
    local ids, err, items = run(sync)
    assert.is_nil(err)
    assert.same(all, ids)
    local deleted = 0
    for _, item in pairs(items) do
      if item.remote_deleted_at ~= NULL then deleted = deleted + 1 end
    end
    assert.equal(12, deleted)
    local sent = queries()
    assert.equal(7, #sent)
    assert.equal("page_size=100&include_deleted=true", sent[1])
    for i = 2, #sent do assert.matches("^page_size=100&include_deleted=true&cursor=[^&]+$", sent[i]) end
    assert.same({ watermark = newest }, state_of(sync))
  end)

  it("dies at the 4th request and resumes there: nothing lost or repeated, the watermark over both runs", function()
    local all = all_applications()
    -- the newest change is on page 1, which only the first run sees
    sb:delete("applications", all[5])
    local newest = select(2, all_applications())
    sb:fault({ path = "/v1/ats/applications", every = 4, times = 1, status = 400 })
    local sync = applications()
    local first, err = run(sync)
    assert.equal("api", err.kind)
    assert.equal(300, #first)
    local sent = queries()
    assert.equal(4, #sent)
    assert.equal(sent[4], "page_size=100&include_deleted=true&cursor=" .. err.resume.cursor)
    local st = state_of(sync)
    assert.same(err.resume, st.resume)
    assert.equal(newest, st.seen)
    assert.is_nil(st.watermark)

    sb:clear_requests()
    local second, err2 = run(sync)
    assert.is_nil(err2)
    assert.equal(sent[4], queries()[1])
    assert.same(all, concat(first, second))
    assert.same({ watermark = newest }, state_of(sync))
  end)

  it("after a raise in the loop on page 4, starts again at page 4: only the failed item comes twice", function()
    local all = all_applications()
    local sync = applications()
    local first, err = run(sync, 301)
    assert.matches("the caller's own failure", err)
    assert.equal(300, #first)
    local page4 = queries()[4]
    sb:clear_requests()
    local second = run(sync)
    assert.equal(page4, queries()[1])
    assert.same(all, concat(first, second))
  end)

  it("then asks for updated_after = watermark - overlap and gets only what changed, deletions too", function()
    local sync = assert(client:sync("ats.get_candidates", { page_size = 100 }, { state_file = path, overlap_ms = 0 }))
    run(sync)
    local watermark = state_of(sync).watermark
    local cands = assert(client.ats:get_candidates({ page_size = 3 })).data.results
    assert(client.ats:add_candidate_tag({ candidate_id = cands[1].id, body = { tag = { name = "Synced" } } }))
    sb:delete("candidates", cands[2].id)
    sb:clear_requests()

    local ids, err, items = run(sync)
    assert.is_nil(err)
    assert.same({ cands[1].id, cands[2].id }, ids)
    assert.equal(NULL, items[cands[1].id].remote_deleted_at)
    assert.is_string(items[cands[2].id].remote_deleted_at)
    local sent = queries()
    assert.equal(1, #sent)
    assert.equal("page_size=100&updated_after=" .. watermark:gsub(":", "%%3A") .. "&include_deleted=true", sent[1])
    local latest = state_of(sync).watermark
    assert.equal(items[cands[2].id].changed_at, latest)

    -- nothing changed since: nothing comes, the watermark stays
    assert.same({}, (run(sync)))
    assert.same({ watermark = latest }, state_of(sync))

    -- the default overlap asks five minutes earlier, and gets both again
    sb:clear_requests()
    local overlapping = assert(client:sync("ats.get_candidates", { page_size = 100 }, { state_file = path }))
    assert.equal(sync.key, overlapping.key)
    assert.same({ cands[1].id, cands[2].id }, (run(overlapping)))
    local expected = kombo.iso8601(epoch(latest) - 300)
    assert.equal("page_size=100&updated_after=" .. expected:gsub(":", "%%3A") .. "&include_deleted=true", queries()[1])
  end)

  it("gets a record changed behind its cursor during a walk in the next run, whatever came later", function()
    local all = all_applications()
    local sync = applications({ overlap_ms = 0 })
    local ids = {}
    for item in sync:items() do
      ids[#ids + 1] = item.id
      if #ids == 150 then
        sb:delete("applications", all[5])   -- behind the cursor: this walk has passed it
        sb:delete("applications", all[500]) -- ahead, changed later: this walk sees it
      end
    end
    assert.same(all, ids)
    sb:clear_requests()
    local again = run(sync)
    assert.same({ all[5], all[500] }, again)
  end)

  it("cancels the prefetched page of a loop left by break: its connection is closed at once", function()
    local sync = applications()
    -- Page 2 answered late, so it is in flight when the loop is left (an
    -- answer already in is no transfer: its connection is kept for the
    -- next call).
    sb:fault({ path = "/v1/ats/applications", every = 2, delay_ms = 5000 })
    assert.equal(1, sb:open_connections(1)) -- the one asking
    -- Held off: collecting a dropped walk cancels it too, where a loop has
    -- no closing value to (before Lua 5.4).
    collectgarbage("stop")
    local ok, err = pcall(function()
      for _ in sync:items() do break end -- luacheck: ignore 512
      if _VERSION < "Lua 5.4" then collectgarbage() end
      assert.equal(1, sb:open_connections(1))
      -- page 1, and page 2 fetched ahead (read before its connection closed)
      local sent = queries()
      assert.equal(2, #sent)
      assert.matches("cursor=", sent[2], 1, true)
    end)
    collectgarbage("restart")
    assert(ok, err)
  end)

  it("walks inside a kombo task as in the main program", function()
    local all = all_applications()
    local sync = applications()
    local ids = {}
    kombo.spawn(function()
      for item in sync:items() do ids[#ids + 1] = item.id end
    end)
    assert(kombo.run())
    assert.same(all, ids)
    assert.is_string(state_of(sync).watermark)
  end)

  -- A store as the README describes it: store:get(key), store:set(key, value).
  local function table_store(fail_at)
    local store = { values = {}, sets = 0 }
    function store:get(key) return self.values[key] end
    function store:set(key, value)
      self.sets = self.sets + 1
      if self.sets == fail_at then return false, "no memory" end
      assert.is_string(value)
      self.values[key] = value
      return true
    end
    return store
  end

  it("keeps its state in a store under a key of the operation, the integration and the filters", function()
    local all = all_applications()
    local store = table_store()
    local sync = applications({ store = store })
    assert.same(all, (run(sync)))
    assert.equal(7, store.sets) -- after each of the 6 pages with a next one, and at the end
    assert.same({ [sync.key] = store.values[sync.key] }, store.values)
    assert.is_string(core.json_decode(store.values[sync.key]).watermark)
    assert.matches("sandbox:integration", sync.key, 1, true)
    assert.matches("ats.get_applications", sync.key, 1, true)

    local function key(params, opts)
      opts = opts or {}
      opts.store = store
      return assert(client:sync("ats.get_applications", params, opts)).key
    end
    assert.equal(sync.key, key({ page_size = 7 }))
    assert.are_not.equal(sync.key, key({ outcome = "HIRED" }))
    assert.are_not.equal(key({ outcome = "HIRED" }), key({ outcome = "PENDING" }))
    assert.equal(key({ outcomes = { "HIRED", "PENDING" } }), key({ outcomes = "HIRED,PENDING" }))
    assert.are_not.equal(sync.key, key(nil, { integration_id = "other:integration" }))
    assert.are_not.equal(sync.key, assert(client:sync("ats.get_candidates", nil, { store = store })).key)

    -- another filter's first run starts from nothing
    sb:clear_requests()
    run(assert(client:sync("ats.get_applications", { outcome = "HIRED" }, { store = store })))
    assert.equal("include_deleted=true&outcome=HIRED", queries()[1])
  end)

  it("stops when the store cannot save, keeping the last saved place", function()
    local store = table_store(2)
    local sync = applications({ store = store })
    local ids, err = run(sync)
    assert.equal("state", err.kind)
    assert.equal("write", err.reason)
    assert.matches("no memory", err.message, 1, true)
    assert.equal(200, #ids)
    local sent = queries()
    -- Page 3 is not delivered; it may have been requested ahead of the
    -- walk (README "Pagination": prefetch), never more than that.
    assert.is_true(#sent == 2 or #sent == 3, #sent .. " requests")
    sb:clear_requests()
    local again = run(sync)
    assert.equal(sent[2], queries()[1])
    assert.equal(612 - 100, #again)
  end)

  it("finds a state file it could not save before it asks for anything", function()
    local sync = assert(client:sync("ats.get_applications", { page_size = 100 },
      { state_file = "/nonexistent-dir/kombo-state.json" }))
    sb:clear_requests()
    local ids, err = run(sync)
    assert.equal("state", err.kind)
    assert.equal("write", err.reason)
    assert.matches("/nonexistent-dir/kombo-state.json", err.message, 1, true)
    assert.equal(0, #ids)
    assert.same({}, queries())
  end)

  it("stops at a save that fails, the state file as the save before left it", function()
    local sync = applications()
    local replace, saves, saved = core.replace_file, 0, nil
    -- the second save finds the disk full
    core.replace_file = function(name, text)
      saves = saves + 1
      if saves == 2 then return nil, name .. ": No space left on device" end
      saved = text
      return replace(name, text)
    end
    local ids, err = run(sync)
    core.replace_file = replace
    assert.equal("state", err.kind)
    assert.equal("write", err.reason)
    assert.matches(path .. ": No space left on device", err.message, 1, true)
    assert.equal(200, #ids)
    assert.equal(saved, read_file(path))
    assert.is_table(state_of(sync).resume)
  end)

  it("writes the state file whole or not at all, leaving no other file", function()
    local files = require("support.files")
    local dir = files.tmp(".d")
    finally(function() files.sh("rm -rf " .. files.quote(dir)) end)
    files.sh("mkdir " .. files.quote(dir))
    local state = dir .. "/state.json"
    files.write(state, "old")
    -- A limit of one 512-byte block on the files the child writes: its
    -- write stops part way, as on a full disk.
    local out = files.run_lua([[
      local core = require("kombo.core")
      print(core.replace_file(arg[1], string.rep("x", 4096)))
    ]], { state }, "trap '' XFSZ; ulimit -f 1; ")
    assert.equal("nil\t" .. state .. ": File too large\n", out)
    assert.equal("old", read_file(state))
    assert.equal("state.json\n", (files.sh("ls -A " .. files.quote(dir))))
    assert.is_true(core.replace_file(state, "new"))
    assert.equal("new", read_file(state))
    assert.equal("state.json\n", (files.sh("ls -A " .. files.quote(dir))))
  end)

  it("writes through no link planted beside the state file, and refuses a lock file that is a link", function()
    local files = require("support.files")
    local victim, missing = files.tmp(".victim"), files.tmp(".missing")
    finally(function()
      os.remove(victim)
      os.remove(missing)
      os.remove(path .. ".tmp")
    end)
    files.write(victim, "precious")
    local function link(target, name)
      assert.equal(0, select(2, files.sh(("ln -sfn %s %s"):format(files.quote(target), files.quote(name)))))
    end
    -- Links where io.open made its temporary file: one to no file (which
    -- opening it would create), then, before each save, one to a file.
    link(missing, path .. ".tmp")
    local all, newest = all_applications()
    local sync = applications({ before_save = function() link(victim, path .. ".tmp") end })
    local ids, err = run(sync)
    assert.is_nil(err)
    assert.same(all, ids)
    assert.equal("precious", read_file(victim))
    assert.is_nil(io.open(missing))
    assert.same({ watermark = newest }, state_of(sync))
    -- a file of its own, which only its owner reads
    assert.equal("-rw-------", (files.sh("ls -l " .. files.quote(path))):sub(1, 10))

    os.remove(path .. ".lock")
    link(missing, path .. ".lock")
    sb:clear_requests()
    local _, lerr = run(applications())
    assert.equal("state", lerr.kind)
    assert.equal("write", lerr.reason)
    assert.matches(path .. ".lock: Too many levels of symbolic links", lerr.message, 1, true)
    assert.is_nil(io.open(missing))
    assert.same({}, queries())
  end)

  it("waits for another process's save of the same file, and keeps the keys that process wrote", function()
    local files = require("support.files")
    files.write(path, '{"other":{"watermark":"2026-01-01T00:00:00.000Z"}}')
    -- Another process in the middle of its read-modify-write: it has read
    -- the file and writes it back (its own key added) a moment later.
    local child = assert(io.popen(("LUA_CPATH=%s %s -e %s"):format(files.quote(files.BUILD .. "/?.so;;"), files.LUA,
      files.quote(([[
        local core = require("kombo.core")
        local path = %q
        local lock = assert(core.lock_file(path .. ".lock"))
        io.write("locked\n")
        io.stdout:flush()
        local f = assert(io.open(path, "rb"))
        local text = f:read("*a")
        f:close()
        core.sleep_ms(500)
        assert(core.replace_file(path, (text:gsub("}%%s*$", ',"child":{"watermark":"2026-02-01T00:00:00.000Z"}}'))))
        lock:unlock()
      ]]):format(path)))))
    assert.equal("locked", child:read("*l"))
    local all, newest = all_applications()
    local ids, err = run(applications())
    child:close()
    assert.is_nil(err)
    assert.same(all, ids)
    assert.same({
      other = { watermark = "2026-01-01T00:00:00.000Z" },
      child = { watermark = "2026-02-01T00:00:00.000Z" },
      [applications().key] = { watermark = newest },
    }, core.json_decode(read_file(path)))
  end)

  it("stops with reason locked when another holds the state file's lock too long, the last save kept", function()
    local sync = applications()
    local ids, lock = {}, nil
    local ok, err = pcall(function()
      for item in sync:items() do
        ids[#ids + 1] = item.id
        -- page 1 is saved: page 2's save finds the file locked
        if #ids == 101 then lock = assert(core.lock_file(path .. ".lock")) end
      end
    end)
    lock:unlock()
    assert.is_false(ok)
    assert.equal("state", err.kind)
    assert.equal("locked", err.reason)
    assert.matches(path .. ".lock is held by another run with this state file", err.message, 1, true)
    assert.equal(200, #ids)
    local st = state_of(sync)
    assert.equal(queries()[2], "page_size=100&include_deleted=true&cursor=" .. st.resume.cursor)
  end)

  it("calls before_save right before each save; one that fails stops the run and saves nothing", function()
    local all = all_applications()
    local store = table_store()
    local events = {}
    local set = store.set
    function store:set(...)
      events[#events + 1] = "set"
      return set(self, ...)
    end
    local ids = run(applications({ store = store, before_save = function() events[#events + 1] = "before" end }))
    assert.same(all, ids)
    assert.same({ "before", "set", "before", "set", "before", "set", "before", "set", "before", "set", "before",
      "set", "before", "set" }, events)

    local raised = { code = "ENOSPC" }
    local how = { [4] = "raised", [5] = "returned" }
    for case, failing in ipairs({
      function(n) if n == 2 then return nil, "No space left on device" end return true end,
      function(n) if n == 2 then error("No space left on device") end end,
      function(n) if n == 2 then return false, "No space left on device" end end,
      function(n) if n == 2 then error(raised) end end,
      function(n) if n == 2 then return nil, raised end end,
    }) do
      local fresh, calls = table_store(), 0
      local sync = applications({ store = fresh, before_save = function()
        calls = calls + 1
        return failing(calls)
      end })
      local got, err = run(sync)
      assert.equal("state", err.kind)
      assert.equal("before_save", err.reason)
      if err.cause == raised then
        -- An error object is kept as it was raised, and named by its type.
        assert.matches("before_save failed, so nothing was saved: it " .. how[case] .. " a table (err.cause)",
          err.message, 1, true)
      else
        assert.matches("before_save failed, so nothing was saved: .*No space left on device", err.message)
        assert.matches("No space left on device", err.cause)
      end
      assert.equal(200, #got)
      assert.equal(1, fresh.sets)
      assert.is_table(core.json_decode(fresh.values[sync.key]).resume)
    end
  end)

  it("caps the watermark by Kombo's clock, the first page's Date, when the local clock is ahead", function()
    local all = all_applications()
    -- Kombo's clock (the sandbox's) an hour behind the local one.
    local now = os.time()
    sb:fault({ path = "/v1/ats/applications", headers = { Date = os.date("!%a, %d %b %Y %H:%M:%S GMT", now) } })
    local time_ms = core.time_ms
    core.time_ms = function() return time_ms() + 3600000 end
    local ok, err = pcall(function()
      local sync = applications({ overlap_ms = 0 })
      local n = 0
      for _ in sync:items() do
        n = n + 1
        if n == 150 then
          sb:delete("applications", all[5])   -- behind the cursor: this walk has passed it
          sb:delete("applications", all[500]) -- ahead, changed later: this walk sees it
        end
      end
      assert.equal(now, epoch(state_of(sync).watermark))
      sb:clear_requests()
      assert.same({ all[5], all[500] }, (run(sync)))
    end)
    core.time_ms = time_ms
    assert(ok, err)
  end)

  it("asks from year 0001 when the watermark minus the overlap, or Kombo's Date, falls before it", function()
    local all = all_applications()
    local store = table_store()
    local sync = applications({ store = store, overlap_ms = 30 * 86400000 })
    local watermark = "0001-01-02T00:00:00.000Z"
    store.values[sync.key] = '{"watermark":"' .. watermark .. '"}'
    -- Kombo's clock at year 0: the walk's start, the cap on its watermark, before year 1
    sb:fault({ path = "/v1/ats/applications", headers = { Date = "Sat, 01 Jan 0000 00:00:00 GMT" } })
    local ids, err = run(sync)
    assert.is_nil(err)
    assert.same(all, ids)
    assert.equal("page_size=100&updated_after=0001-01-01T00%3A00%3A00.000Z&include_deleted=true", queries()[1])
    -- the cap, year 0001, is before the previous watermark, which stays
    assert.same({ watermark = watermark }, core.json_decode(store.values[sync.key]))
  end)

  it("walks again from the watermark when Kombo refuses the saved resume point, with a warning", function()
    local all, newest = all_applications()
    local warnings = {}
    client:close()
    client = sb:client({ logger = function(level, message, fields)
      if level == "warn" then warnings[#warnings + 1] = { message = message, fields = fields } end
    end })
    local sync = applications({ overlap_ms = 0 })
    local watermark = "2020-01-01T00:00:00.000Z" -- before every record
    require("support.files").write(path, require("cjson").encode({ [sync.key] = { watermark = watermark } }))
    -- a walk stopped on page 4, whose cursor Kombo no longer takes
    sb:fault({ path = "/v1/ats/applications", every = 4, times = 1, status = 400 })
    local first = run(sync)
    assert.equal(300, #first)
    local resumed = queries()[4]
    local fresh = "page_size=100&updated_after=" .. watermark:gsub(":", "%%3A") .. "&include_deleted=true"

    -- the fresh walk's own failure ends the run as any other, saving nothing
    sb:clear_requests()
    sb:fault({ path = "/v1/ats/applications", status = 400, times = 2 })
    local state = read_file(path)
    local _, err = run(sync)
    assert.equal("api", err.kind)
    assert.equal(400, err.status)
    assert.same({ resumed, fresh }, queries())
    assert.equal(state, read_file(path))

    sb:clear_requests()
    sb:fault({ path = "/v1/ats/applications", status = 400, code = "INTEGRATION.INVALID_CURSOR" })
    local ids, err2 = run(sync)
    assert.is_nil(err2)
    local sent = queries()
    assert.equal(resumed, sent[1])
    assert.equal(fresh, sent[2])
    assert.same({ watermark = newest }, state_of(sync))
    assert.same(all, ids)
    assert.equal(2, #warnings)
    assert.equal("sync resume refused, walking again from the watermark", warnings[2].message)
    assert.equal("get_applications", warnings[2].fields.operation)
    assert.equal(400, warnings[2].fields.status)
    assert.equal("INTEGRATION.INVALID_CURSOR", warnings[2].fields.code)
  end)

  it("ends at INTEGRATION.SETUP_SYNC_PENDING saying so, and saves nothing", function()
    sb:fault({ path = "/v1/ats/applications", status = 409, code = "INTEGRATION.SETUP_SYNC_PENDING" })
    local store = table_store()
    local ids, err = run(applications({ store = store }))
    assert.same({}, ids)
    assert.equal("api", err.kind)
    assert.equal(409, err.status)
    assert.equal("INTEGRATION.SETUP_SYNC_PENDING", err.code)
    assert.equal("setup_sync_pending", err.reason)
    assert.matches("first sync has not finished", tostring(err), 1, true)
    assert.equal(0, store.sets)
    assert.equal(1, #sb:requests())

    sb:fault({ path = "/v1/ats/applications", status = 409, code = "INTEGRATION.SETUP_SYNC_PENDING" })
    local _, ferr = run(applications())
    assert.equal("setup_sync_pending", ferr.reason)
    assert.is_nil(io.open(path))
  end)

  it("refuses a state it did not write, before any request", function()
    local files = require("support.files")
    for _, text in ipairs({ "{", "[1]", '{"kombo.sync|sandbox:integration|ats.get_applications|/ats/applications":'
      .. '{"watermark":"yesterday"}}' }) do
      files.write(path, text)
      local _, err = run(applications())
      assert.equal("state", err.kind)
      assert.equal("corrupt", err.reason)
      assert.matches(path, err.message, 1, true)
    end
    local store = table_store()
    local sync = applications({ store = store })
    -- an array, as a state file's is; a date no calendar has, which read
    -- as one would put the watermark past every record
    for _, text in ipairs({ '{"resume":{"operation":"get_tags"}}', "[1,2]",
      '{"watermark":"9999-99-99T99:99:99Z"}', '{"watermark":"2026-02-30T10:00:00Z"}',
      '{"watermark":"2025-02-29T10:00:00Z"}', '{"watermark":"2026-01-01T10:00:00+99:99"}' }) do
      store.values[sync.key] = text
      local _, err = run(sync)
      assert.equal("corrupt", err.reason, text)
    end
    assert.equal(0, #sb:requests())
  end)

  it("checks the name, params and options before any request", function()
    local store = table_store()
    local cases = {
      { "ats.get_aplications", nil, { store = store }, "name", "did you mean ats.get_applications?" },
      { "get_applications", nil, { store = store }, "name", "did you mean ats.get_applications or ai_apply" },
      { 42, nil, { store = store }, "name", "an operation name" },
      { "ats.move_application_to_stage", nil, { store = store }, "name", "does not page" },
      { "assessment.get_open_orders", nil, { store = store }, "name", "takes no updated_after and include_deleted" },
      { "ats.get_applications", nil, nil, "opts", "state_file" },
      { "ats.get_applications", nil, {}, "opts.state_file", "required" },
      { "ats.get_applications", nil, { state_file = "" }, "opts.state_file", "non-empty" },
      { "ats.get_applications", nil, { state_file = path .. "\0.json" }, "opts.state_file", "without NUL bytes" },
      { "ats.get_applications", nil, { store = store, before_save = "flush" }, "opts.before_save", "a function" },
      { "ats.get_applications", nil, { state_file = path, store = store }, "opts.store", "not with opts.state_file" },
      { "ats.get_applications", nil, { store = { get = function() end } }, "opts.store", "get and set" },
      { "ats.get_applications", nil, { store = store, overlap_ms = -1 }, "opts.overlap_ms", "whole number" },
      { "ats.get_applications", nil, { store = store, overlap_ms = 0.5 }, "opts.overlap_ms", "whole number" },
      { "ats.get_applications", nil, { store = store, overlap_ms = 30 * 86400000 + 1 }, "opts.overlap_ms",
        "from 0 to 2592000000 (30 days)" },
      { "ats.get_applications", nil, { store = store, timeout = 5 }, "opts.timeout", "not a known option" },
      { "ats.get_applications", nil, { state_fiel = path }, "opts.state_fiel", "did you mean state_file?" },
      { "ats.get_applications", nil, { store = store, overlapms = 5 }, "opts.overlapms", "did you mean overlap_ms?" },
      { "ats.get_applications", nil, { store = store, timeout_ms = -5 }, "timeout_ms", "positive" },
      { "ats.get_applications", { updated_after = "2026-01-01T00:00:00Z" }, { store = store }, "updated_after",
        "watermark" },
      { "ats.get_applications", { include_deleted = false }, { store = store }, "include_deleted", "deletions" },
      { "ats.get_applications", { cursor = "x" }, { store = store }, "cursor", "leave it out" },
      { "ats.get_applications", { outcome = "WON" }, { store = store }, "outcome", "PENDING" },
      { "ats.get_applications", "PENDING", { store = store }, "params", "a table" },
      -- Filters or options through a metatable would be dropped by the copy: a walk of everything.
      { "ats.get_applications", setmetatable({}, { __index = { job_ids = { "j1" } } }), { store = store }, "params",
        "a plain table" },
      { "ats.get_applications", nil, setmetatable({}, { __index = { store = store } }), "opts", "a plain table" },
    }
    for _, c in ipairs(cases) do
      local sync, err = client:sync(c[1], c[2], c[3])
      assert.is_nil(sync)
      assert.equal("invalid_request", err.kind)
      assert.equal(c[4], err.field)
      assert.matches(c[5], err.message, 1, true)
    end
    local sync, err = client.sync("ats.get_applications", nil, { store = store })
    assert.is_nil(sync)
    assert.matches("client:sync", err.message, 1, true)
    assert.equal(0, store.sets)
    assert.equal(0, #sb:requests())
  end)

  it("runs fn over the items with sync:run, returning true or nil and what stopped it", function()
    local store = table_store()
    local n = 0
    assert.is_true(applications({ store = store }):run(function() n = n + 1 end))
    assert.equal(612, n)
    sb:fault({ path = "/v1/ats/applications", status = 400 })
    local ok, err = assert(client:sync("ats.get_applications", { outcome = "HIRED" }, { store = store }))
      :run(function() end)
    assert.is_nil(ok)
    assert.equal("api", err.kind)
    local ok2, raised = applications({ store = table_store() }):run(function() error({ mine = true }) end)
    assert.is_nil(ok2)
    assert.same({ mine = true }, raised)
    assert.equal("fn", select(2, applications({ store = store }):run()).field)
    -- A dot for the colon is said, with nothing sent.
    local before = #sb:requests()
    local s = applications({ store = table_store() })
    local ok3, dot = s.run(function() end)
    assert.is_nil(ok3)
    assert.equal("call", dot.field)
    assert.matches("sync:run(fn), not sync.run(fn)", dot.message, 1, true)
    local ok4, dot2 = pcall(s.items)
    assert.is_false(ok4)
    assert.equal("call", dot2.field)
    assert.matches("sync:items()", dot2.message, 1, true)
    assert.equal(before, #sb:requests())
  end)
end)

describe("client:sync inside nginx", function()
  local nginx = require("support.nginx")
  local cjson = require("cjson")
  local sb = sandbox.fixture()
  local server

  -- One run per request, its state in an ngx.shared dict (store:get and
  -- store:set as methods, as the README says).
  local SYNC = [[
    local c = assert(require("kombo").new({ api_key = %q, integration_id = %q, server_url = %q }))
    local sync = assert(c:sync("ats.get_candidates", { page_size = 100 },
      { store = ngx.shared.kombo_sync, overlap_ms = 0 }))
    local ids = {}
    local ok, err = sync:run(function(item) ids[#ids + 1] = item.id end)
    ngx.say(require("cjson").encode({ ok = ok, err = err and tostring(err), ids = ids,
      state = ngx.shared.kombo_sync:get(sync.key) }))
  ]]

  setup(function()
    server = nginx.start({
      http = "lua_shared_dict kombo_sync 1m;",
      locations = { ["/sync"] = SYNC:format(sb.api_key, sb.integration_id, sb.url) },
    })
  end)
  teardown(function() if server then server:stop() end end)

  local function sync_run()
    local status, body = server:get("/sync")
    assert.equal(200, status, body)
    return cjson.decode(body)
  end

  it("keeps its watermark in an ngx.shared dict", function()
    local first = sync_run()
    assert.is_true(first.ok, first.err)
    assert.equal(sb:counts().candidates, #first.ids)
    assert.is_string(cjson.decode(first.state).watermark)
    local c = sb:client()
    local cand = assert(c.ats:get_candidates({ page_size = 1 })).data.results[1]
    c:close()
    sb:delete("candidates", cand.id)
    sb:clear_requests()
    local second = sync_run()
    assert.same({ cand.id }, second.ids)
    assert.matches("updated_after=", sb:requests()[1].query, 1, true)
  end)
end)
