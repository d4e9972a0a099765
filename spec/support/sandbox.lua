-- Test helper: run sandbox/bin/kombo-sandbox in a child process and drive its control
-- endpoints with LuaSocket (only tests use LuaSocket; the SDK never does).
--
--   local sandbox = require("support.sandbox")
--   local sb = sandbox.start()          -- or sandbox.start({ seed = 2, api_key = "k" })
--   sb.url, sb.port, sb.api_key, sb.integration_id
--   sb:fault({ path = "/v1/ats/tags", status = 503 })   -- one rule or a list
--   sb:requests(), sb:clear_requests(), sb:clear_faults(), sb:stats(), sb:counts(), sb:reset()
--   sb:delete("candidates", id)         -- the record deleted in the ATS now
--   sb:concurrency({ limit = 5 })       -- Kombo's cap on writes in flight per integration
--   sandbox.max_overlap(requests)       -- the most of them at the server at once
--   sandbox.writes(requests)            -- the writes, the most in flight, how many refused
--   sb:request("GET", "/ats/tags?page_size=2") -> status, decoded body (or nil), raw body, headers
--   sb:webhook(url, secret, timeout_ms) -- signed events to url after writes; sb:webhook() stops them
--   sb:deliveries()                     -- what it sent: { id, type, body, signature, status | error }
--   sb:stop()                           -- idempotent
--   sb:client({ retries = ... })        -- kombo.new pointed at this sandbox
--   sb:run("examples/x.lua", args)      -- a script in a child interpreter -> code, out, err
--   local sb = sandbox.fixture(opts)    -- inside describe: started in setup, stopped
--                                       -- in teardown, reset before each test
--   sandbox.free_port()                 -- a loopback port nothing listens on
--
-- The interpreter is $KOMBO_LUA (default lua5.4). The server runs with the
-- default module path only: it finds its own modules beside its script, and
-- the SDK's lua/ is out of its reach, so the sandbox never leans on the code
-- it tests.

local socket = require("socket")
local http = require("socket.http")
local ltn12 = require("ltn12")
local cjson = require("cjson").new()

local _M = {}

local function _root()
  local src = debug.getinfo(1, "S").source:gsub("^@", "")
  return src:match("^(.*)/spec/support/sandbox%.lua$") or "."
end

local function _quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local Sandbox = {}
Sandbox.__index = Sandbox

-- One control or API exchange over a fresh LuaSocket connection.
local function _exchange(url, method, body, headers)
  local chunks = {}
  local h = {}
  for k, v in pairs(headers or {}) do h[k] = v end
  if body then
    h["content-type"] = h["content-type"] or "application/json"
    h["content-length"] = tostring(#body)
  end
  local ok, status, resp_headers = http.request({
    url = url, method = method, headers = h,
    source = body and ltn12.source.string(body) or nil,
    sink = ltn12.sink.table(chunks),
  })
  if not ok then return nil, status end
  return status, table.concat(chunks), resp_headers
end

function Sandbox:_control(method, path, payload)
  local body = payload ~= nil and cjson.encode(payload) or nil
  local status, text = _exchange(self.base .. path, method, body)
  if not status then error(("sandbox %s %s: %s"):format(method, path, tostring(text)), 2) end
  local decoded = cjson.decode(text)
  if status ~= 200 then error(("sandbox %s %s: %d %s"):format(method, path, status, text), 2) end
  return decoded
end

--- Every recorded API request, oldest first; with `keep`, only those for
-- which keep(request) is true.
function Sandbox:requests(keep)
  local all = self:_control("GET", "/_sandbox/requests").requests
  if not keep then return all end
  local kept = {}
  for _, q in ipairs(all) do
    if keep(q) then kept[#kept + 1] = q end
  end
  return kept
end

function Sandbox:clear_requests()
  self:_control("DELETE", "/_sandbox/requests")
end

--- Append one fault rule or a list of them.
function Sandbox:fault(rules)
  if rules[1] == nil then rules = { rules } end
  return self:_control("POST", "/_sandbox/faults", { rules = rules })
end

function Sandbox:clear_faults()
  self:_control("DELETE", "/_sandbox/faults")
end

--- Signed events to `url` after writes and forced syncs, each delivery
-- bounded by timeout_ms (the sandbox's default when nil); no arguments: none.
function Sandbox:webhook(url, secret, timeout_ms)
  if url == nil then return self:_control("DELETE", "/_sandbox/webhooks") end
  return self:_control("POST", "/_sandbox/webhooks", { url = url, secret = secret, timeout_ms = timeout_ms })
end

--- The events sent since the webhook was set, oldest first.
function Sandbox:deliveries()
  return self:_control("GET", "/_sandbox/webhooks").deliveries
end

--- { connections, requests, open_connections, open_ids } (open_ids: the
-- open connections, by the id requests carry as `connection`)
function Sandbox:stats()
  return self:_control("GET", "/_sandbox/stats")
end

--- How many connections are open at the sandbox (the asking one among
-- them) once that is `want`, or after a second: a client's closes reach
-- the server a moment after they are made.
function Sandbox:open_connections(want)
  local open
  for _ = 1, 50 do
    open = self:stats().open_connections
    if open == want then break end
    socket.sleep(0.02)
  end
  return open
end

--- Records per collection: { applications = 612, candidates = 400, ... }
function Sandbox:counts()
  return self:_control("GET", "/_sandbox/counts")
end

--- The record `id` of `collection` ("candidates", ...) deleted in the ATS
--- now: remote_deleted_at and changed_at set to the sandbox's clock.
function Sandbox:delete(collection, id)
  self:_control("POST", "/_sandbox/delete", { collection = collection, id = id })
end

--- Kombo's cap on an integration's writes in flight ({ limit?, held? }:
--- held is how many someone else holds); returns { limit, held, in_flight }.
function Sandbox:concurrency(settings)
  if settings then return self:_control("POST", "/_sandbox/concurrency", settings) end
  return self:_control("GET", "/_sandbox/concurrency")
end

--- The writes among `requests` (sb:requests()), the most of them the
--- sandbox counted in flight when one arrived, and how many it refused
--- with 429 for going over its cap.
function _M.writes(requests)
  local w, most, refused = {}, 0, 0
  for _, r in ipairs(requests) do
    if r.in_flight then
      w[#w + 1] = r
      if r.in_flight > most then most = r.in_flight end
      if r.status == 429 then refused = refused + 1 end
    end
  end
  return w, most, refused
end

--- The most requests of `requests` (sb:requests(), or part of it) that were
--- at the server at once, from their at_ms and done_ms.
function _M.max_overlap(requests)
  local events = {}
  for _, r in ipairs(requests) do
    events[#events + 1] = { r.at_ms, 1 }
    events[#events + 1] = { r.done_ms or math.huge, -1 }
  end
  -- An answer and a new arrival at the same instant do not overlap.
  table.sort(events, function(a, b)
    if a[1] ~= b[1] then return a[1] < b[1] end
    return a[2] < b[2]
  end)
  local n, most = 0, 0
  for _, e in ipairs(events) do
    n = n + e[2]
    if n > most then most = n end
  end
  return most
end

--- How many of `requests` reached the server while another of them was
--- still there: walks that ran at once overlap this way however busy the
--- machine, and one walk alone never does (a page is asked for after the
--- one before was answered).
function _M.overlapped(requests)
  local n = 0
  for i, r in ipairs(requests) do
    for j, o in ipairs(requests) do
      if i ~= j and o.at_ms <= r.at_ms and r.at_ms < (o.done_ms or math.huge) then
        n = n + 1
        break
      end
    end
  end
  return n
end

--- Seeded data again, no recorded requests, no faults, Kombo's cap.
function Sandbox:reset()
  self:_control("POST", "/_sandbox/reset")
end

--- An authenticated API request; `path` is relative to /v1.
--- Returns status, decoded JSON (nil if not JSON), raw body, headers.
function Sandbox:request(method, path, body, headers)
  local h = { authorization = "Bearer " .. self.api_key, ["x-integration-id"] = self.integration_id }
  for k, v in pairs(headers or {}) do h[k] = v end
  if type(body) == "table" then body = cjson.encode(body) end
  local status, text, resp_headers = _exchange(self.url .. path, method, body, h)
  if not status then error("sandbox request failed: " .. tostring(text), 2) end
  local ok, decoded = pcall(cjson.decode, text)
  return status, ok and decoded or nil, text, resp_headers
end

--- Shut the server down and reap the process. Safe to call twice.
function Sandbox:stop()
  if self.stopped then return end
  self.stopped = true
  local ok = pcall(_exchange, self.base .. "/_sandbox/shutdown", "POST", "")
  if not ok then os.execute("kill " .. self.pid .. " 2>/dev/null") end
  self.proc:close()
end

--- kombo.new with this sandbox's key, integration and URL, plus `opts`
-- (which win); raises if kombo.new refuses.
function Sandbox:client(opts)
  local o = { api_key = self.api_key, integration_id = self.integration_id, server_url = self.url }
  for k, v in pairs(opts or {}) do o[k] = v end
  return assert(require("kombo").new(o))
end

--- Runs a Lua script (a path from the repository's root) in a child
-- interpreter as a user would: KOMBO_API_KEY, KOMBO_INTEGRATION_ID and
-- KOMBO_SERVER_URL point here and the SDK under test is on the path.
-- `env` (optional): api_key and integration_id replace the sandbox's (""
-- leaves the variable empty); stdin is text piped in; terminal = true runs
-- the script under script(1), so its stderr is a terminal. Returns exit
-- status, stdout, stderr.
function Sandbox:run(script, args, env)
  local files = require("support.files")
  local q = files.quote
  env = env or {}
  local out_path, err_path = files.tmp(".stdout"), files.tmp(".stderr")
  local words = {}
  for i, a in ipairs(args or {}) do words[i] = q(a) end
  local cmd = table.concat({
    "KOMBO_API_KEY=" .. q(env.api_key or self.api_key),
    "KOMBO_INTEGRATION_ID=" .. q(env.integration_id or self.integration_id),
    "KOMBO_SERVER_URL=" .. q(self.url), "LUA_PATH='lua/?.lua;lua/?/init.lua;;'",
    "LUA_CPATH=" .. q(files.BUILD .. "/?.so;;"), files.LUA, q(script), table.concat(words, " "),
    ">" .. q(out_path),
  }, " ")
  if env.stdin then cmd = "printf '%s' " .. q(env.stdin) .. " | " .. cmd end
  local _, code
  if env.terminal then
    -- script(1) copies what the command writes to its terminal (here its
    -- stderr only) into the typescript file.
    _, code = files.sh("script -qec " .. q(cmd .. "; exit $?") .. " " .. q(err_path) .. " >/dev/null")
  else
    _, code = files.sh(cmd .. " 2>" .. q(err_path))
  end
  local out, stderr = files.read(out_path), files.read(err_path)
  os.remove(out_path)
  os.remove(err_path)
  return code, out, stderr
end

local function _gc(self)
  -- A suite that dies before stop() must not leave pclose waiting forever.
  if not self.stopped then
    self.stopped = true
    os.execute("kill " .. self.pid .. " 2>/dev/null")
  end
end

--- Start a sandbox. opts: seed, api_key, port (default 0), args (extra CLI words).
function _M.start(opts)
  opts = opts or {}
  local lua = os.getenv("KOMBO_LUA") or "lua5.4"
  local words = { "--port", tostring(opts.port or 0), "--quiet", "--exit-with-parent" }
  if opts.seed then words[#words + 1] = "--seed"; words[#words + 1] = tostring(opts.seed) end
  if opts.api_key then words[#words + 1] = "--api-key"; words[#words + 1] = opts.api_key end
  for _, w in ipairs(opts.args or {}) do words[#words + 1] = w end
  for i, w in ipairs(words) do words[i] = _quote(w) end
  local cmd = ("cd %s && exec env -u LUA_PATH_5_2 -u LUA_PATH_5_3 -u LUA_PATH_5_4 LUA_PATH=';;' "
    .. "%s sandbox/bin/kombo-sandbox %s")
    :format(_quote(_root()), lua, table.concat(words, " "))
  local proc = assert(io.popen(cmd, "r"))
  local line = proc:read("*l")
  local port, pid = (line or ""):match("^kombo%-sandbox listening on http://127%.0%.0%.1:(%d+)/v1 pid=(%d+)$")
  if not port then
    proc:close()
    error("kombo-sandbox did not start: " .. tostring(line))
  end
  local self = setmetatable({
    proc = proc, pid = tonumber(pid), port = tonumber(port),
    base = "http://127.0.0.1:" .. port, url = "http://127.0.0.1:" .. port .. "/v1",
    api_key = opts.api_key or "sandbox-api-key", integration_id = "sandbox:integration",
  }, { __index = Sandbox, __gc = _gc })
  return self
end

--- The sandbox of the enclosing describe block, with busted's hooks:
-- started in setup, stopped in teardown, reset before each test. The
-- object is filled in by setup, so use its fields inside tests only.
function _M.fixture(opts)
  local busted = require("busted") -- the spec's own hooks, not globals here
  local sb = setmetatable({}, { __index = Sandbox })
  busted.setup(function()
    local started = _M.start(opts)
    for k, v in pairs(started) do sb[k] = v end
    setmetatable(sb, getmetatable(started))
    setmetatable(started, nil) -- one owner: stopping sb stops the server once
  end)
  busted.teardown(function() sb:stop() end)
  busted.before_each(function() sb:reset() end)
  return sb
end

-- Raw HTTP over LuaSocket, for specs that need to see the bytes: the
-- sandbox's fault actions, keep-alive and pipelining.
local AUTH = "Authorization: Bearer sandbox-api-key\r\nX-Integration-Id: sandbox:integration\r\n"

--- A request as text for target `target` under /v1; `extra` is more header
--- lines, each ending in CRLF. Carries the default key and integration id.
function _M.request_text(method, target, body, extra)
  local head = ("%s /v1%s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%s"):format(method, target, AUTH, extra or "")
  if body then
    head = head .. "Content-Type: application/json\r\nContent-Length: " .. #body .. "\r\n"
  end
  return head .. "\r\n" .. (body or "")
end

--- A LuaSocket TCP connection to the sandbox (timeout in seconds, default 5).
function _M.connect(sb, timeout)
  local c = assert(socket.connect("127.0.0.1", sb.port))
  c:settimeout(timeout or 5)
  return c
end

--- Read one response: { status, headers (lower-case), body, err } where err
--- says why the body is shorter than its Content-Length; or nil, err.
function _M.read_response(c)
  local line, err = c:receive("*l")
  if not line then return nil, err end
  local res = { status = tonumber(line:match("^HTTP/1%.1 (%d+)")), headers = {} }
  while true do
    local h, herr = c:receive("*l")
    if not h then return nil, herr end
    if h == "" then break end
    local k, v = h:match("^([^:]+):%s*(.*)$")
    res.headers[k:lower()] = v
  end
  local n = tonumber(res.headers["content-length"] or "0")
  if n == 0 then
    res.body = "" -- LuaSocket's receive(0) would wait for the timeout
    return res
  end
  local body, berr, partial = c:receive(n)
  res.body, res.err = body or partial, berr
  return res
end

--- One raw exchange on a fresh connection: the response as read_response
--- gives it, or nil, err.
function _M.exchange(sb, method, target, body, extra)
  local c = _M.connect(sb)
  assert(c:send(_M.request_text(method, target, body, extra)))
  local res, err = _M.read_response(c)
  c:close()
  return res, err
end

--- A loopback port with nothing listening on it (for connection-refused tests).
function _M.free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

return _M
