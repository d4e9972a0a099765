-- What a burst of tasks may use: connections (each client keeps at most
-- max_connections transfers in flight, the rest queue in order), file
-- descriptors and memory; and kombo.attachment on paths that are not
-- readable files.
--
-- The burst specs run a child interpreter (support/files.lua's run_lua)
-- under `ulimit -n 1024`.

local kombo = require("kombo")
local sandbox = require("support.sandbox")

local files = require("support.files")
local quote = files.quote

-- Runs `source` in a child interpreter, with the sandbox's URL as arg[1];
-- returns what it printed (stdout and stderr).
local function run_child(sb, source)
  return (files.run_lua(source, { sb.url }, "ulimit -n 1024 && "))
end

local function distinct_connections(requests)
  local seen, n = {}, 0
  for _, r in ipairs(requests) do
    if not seen[r.connection] then seen[r.connection], n = true, n + 1 end
  end
  return n
end

-- 2,000 tasks each send one request; prints "ok=N" and one line per failure reason.
local BURST = [[
local kombo = require("kombo")
local client = assert(kombo.new({ api_key = "sandbox-api-key", integration_id = "sandbox:integration",
  server_url = arg[1], retries = { strategy = "none" } }))
local ok, reasons = 0, {}
for _ = 1, 2000 do
  kombo.spawn(function()
    local tags, err = client.ats:get_tags({ page_size = 1 })
    if tags then
      ok = ok + 1
    else
      local why = tostring(err.reason or err.kind)
      reasons[why] = (reasons[why] or 0) + 1
    end
  end)
end
kombo.run()
print("ok=" .. ok)
for why, n in pairs(reasons) do print(why .. "=" .. n) end
]]

-- VmRSS (MiB) after one task (the baseline: libcurl's and the decoder's
-- buffers are sized) and after 100 tasks under the default
-- max_connections; each task fetches a ~5 MB page, and the client stays
-- alive throughout.
local MEMORY = [[
local kombo = require("kombo")
local function rss_mib()
  local f = assert(io.open("/proc/self/status", "r"))
  local s = f:read("*a")
  f:close()
  return tonumber(s:match("VmRSS:%s+(%d+) kB")) / 1024
end
local client = assert(kombo.new({ api_key = "sandbox-api-key", integration_id = "sandbox:integration",
  server_url = arg[1], retries = { strategy = "none" } }))
local ok, items = 0, 0
local function burst(n)
  for _ = 1, n do
    kombo.spawn(function()
      local tags = client.ats:get_tags()
      if tags then ok, items = ok + 1, items + #tags.data.results end
    end)
  end
  assert(kombo.run())
  return rss_mib()
end
local before = burst(1)
local after = burst(100)
print(("before=%.1f after=%.1f ok=%d items=%d lua=%s"):format(before, after, ok, items, _VERSION))
client:close()
]]

describe("resources", function()
  local sb = sandbox.fixture()

  describe("connections", function()
    it("runs 2,000 spawned requests under a 1,024 file-descriptor limit over at most max_connections connections",
      function()
        local out = run_child(sb, BURST)
        assert.equal("ok=2000", out:match("ok=%d+"), out)
        local requests = sb:requests()
        assert.equal(2000, #requests)
        local used = distinct_connections(requests)
        assert.is_true(used <= require("kombo.client").DEFAULTS.max_connections,
          used .. " connections for 2,000 requests")
      end)

    it("starts queued requests in the order they were sent, and a queued request's timeout waits with it", function()
      -- Each answer takes 150 ms and a request may take 400 ms: the fifth
      -- waits about 600 ms in the queue and must still succeed.
      sb:fault({ path = "/v1/ats/tags", delay_ms = 150, times = -1 })
      local client = sb:client({ retries = { strategy = "none" }, timeout_ms = 400, max_connections = 1 })
      local got = {}
      for i = 1, 5 do
        kombo.spawn(function()
          local tags, err = client.ats:get_tags({ page_size = i })
          got[i] = tags and #tags.data.results or tostring(err)
        end)
      end
      kombo.run()
      client:close()
      for i = 1, 5 do assert.equal(i, got[i]) end
      local requests = sb:requests()
      assert.equal(5, #requests)
      for i = 1, 5 do assert.equal("page_size=" .. i, requests[i].query) end
      assert.equal(1, distinct_connections(requests))
      -- One at a time: each arrives after the one before was answered.
      for i = 2, 5 do
        assert.is_true(requests[i].at_ms >= requests[i - 1].done_ms,
          ("request %d came %.1f ms before the one before was answered"):format(i,
            requests[i - 1].done_ms - requests[i].at_ms))
      end
    end)

    it("caps each client on its own", function()
      sb:fault({ path = "/v1/ats/tags", delay_ms = 200, times = -1 })
      local function new()
        return sb:client({ retries = { strategy = "none" }, max_connections = 1 })
      end
      local a, b = new(), new()
      local done = 0
      for _, c in ipairs({ a, a, b, b }) do
        kombo.spawn(function()
          assert(c.ats:get_tags())
          done = done + 1
        end)
      end
      kombo.run()
      a:close()
      b:close()
      assert.equal(4, done)
      local requests = sb:requests()
      assert.equal(4, #requests)
      assert.equal(2, distinct_connections(requests))
      -- The first request of each client went out before either was answered.
      assert.is_true(requests[2].at_ms < requests[1].done_ms)
      assert.not_equal(requests[1].connection, requests[2].connection)
    end)
  end)

  describe("memory", function()
    it("stays near its baseline through a burst of 100 tasks fetching ~5 MB pages, while the client lives",
      function()
        sb:fault({ path = "/v1/ats/tags", action = "huge_body", size_bytes = 5 * 1024 * 1024, times = -1 })
        -- 32 transfers in flight hold hundreds of MiB at the peak; once the
        -- burst ends kombo.run gives them back. The margin is LuaJIT's
        -- allocator, which keeps some arenas of its own.
        local out = run_child(sb, MEMORY)
        local before, after, ok, items =
          out:match("before=([%d.]+) after=([%d.]+) ok=(%d+) items=(%d+)")
        assert(before, out)
        before, after = tonumber(before), tonumber(after)
        assert.equal(101, tonumber(ok), out)
        assert.is_true(tonumber(items) > 101 * 70000, out)
        -- What comes back is the system allocator's to give: under
        -- AddressSanitizer (make asan) its own allocator and shadow memory
        -- keep what they like, so there only the burst's answers count.
        if (os.getenv("LD_PRELOAD") or ""):find("asan", 1, true) then return end
        assert.is_true(after < before + 96, ("VmRSS %.0f MiB after one task, %.0f MiB after 100 tasks")
          :format(before, after))
      end)
  end)

  describe("kombo.attachment", function()
    local function assert_path_error(att, err, want)
      assert.is_nil(att)
      assert.equal("invalid_request", err.kind)
      assert.equal("path", err.field)
      assert.matches(want, err.message, 1, true)
    end

    it("returns nil, err for a directory", function()
      local dir = os.tmpname()
      os.remove(dir)
      assert(os.execute("mkdir " .. quote(dir)))
      local att, err = kombo.attachment(dir)
      os.execute("rmdir " .. quote(dir))
      assert_path_error(att, err, "not a directory")
      assert.matches("pass the path of a file inside it", err.message, 1, true)
      assert.matches(dir, err.message, 1, true)
    end)

    it("returns nil, err for a missing file, a file it may not read and a file whose read fails", function()
      local att, err = kombo.attachment("/nonexistent/kombo/cv.pdf")
      assert_path_error(att, err, "/nonexistent/kombo/cv.pdf")
      assert.matches("check that it exists and that this process may read it", err.message, 1, true)

      -- /proc/self/mem opens but reading it from offset 0 fails.
      att, err = kombo.attachment("/proc/self/mem")
      assert_path_error(att, err, "check that it exists and that this process may read it")

      local locked = os.tmpname()
      local f = assert(io.open(locked, "wb"))
      f:write("secret")
      f:close()
      os.execute("chmod 000 " .. quote(locked))
      local readable = io.open(locked, "rb")
      if readable then
        readable:close()
      else
        att, err = kombo.attachment(locked)
        assert_path_error(att, err, "check that it exists and that this process may read it")
      end
      os.remove(locked)

      att, err = kombo.attachment(nil)
      assert_path_error(att, err, "a non-empty string")
    end)
  end)
end)
