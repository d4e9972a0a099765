-- The OpenResty driver: HTTP/1.1 over nginx cosockets, so a call made in a
-- request handler or a timer never blocks the nginx worker. Waiting between
-- attempts goes through ngx.sleep. Retry and pagination decisions stay in
-- the C core (asked by attempts.lua); this file only moves bytes.
--
-- nginx settings that matter here:
--   lua_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;
--     without it every https request fails TLS verification (nginx has no
--     default trust store); the client's ca_file option cannot change it.
--   resolver 127.0.0.53;  (or your DNS server) to reach a host by name.
--     nginx checks the certificate's name with X509_check_host, so an
--     https URL with an IP address verifies only against a certificate
--     that also lists that address as a DNS name.
--   lua_socket_keepalive_timeout / lua_socket_pool_size: the idle pool.
--     Only reads are pooled: a write (any method but GET, HEAD, OPTIONS)
--     goes out on a connection of its own, closed after the answer.

local ngx = ngx -- luacheck: ignore 113
local core = require("kombo.core")

local type, tonumber, tostring, error, concat, pairs = type, tonumber, tostring, error, table.concat, pairs
local lower, upper, find, sub, match, format, gsub = string.lower, string.upper, string.find, string.sub, string.match,
  string.format, string.gsub
local xpcall, traceback, rawget, setmetatable = xpcall, debug.traceback, rawget, setmetatable
local compat = require("kombo.compat")
compat.interpreted_module()
local errors = require("kombo.errors")
local pack, unpack, unpacked = compat.pack, compat.unpack, compat.unpacked

local _M = {}

-- Phases in which nginx refuses cosockets and ngx.sleep.
local NO_COSOCKET = {
  init = true, init_worker = true, set = true, header_filter = true, body_filter = true,
  log = true, balancer = true, ssl_session_store = true, exit_worker = true,
}

local CHUNK = 65536
-- The bound on a response's header block, the core's for every driver:
-- max_response_bytes bounds only the body.
local MAX_HEAD_BYTES = core.max_header_bytes
local HEAD_TOO_LARGE = format("response headers larger than %d bytes", MAX_HEAD_BYTES)
-- libcurl takes no header line longer; neither does this driver.
local MAX_LINE_BYTES = core.max_header_line
local LINE_TOO_LARGE = format("a response header line longer than %d bytes", MAX_LINE_BYTES)


--- Is the running nginx phase one where cosockets work?
function _M.phase_ok()
  local phase = ngx.get_phase()
  return not NO_COSOCKET[phase], phase
end

--- refusal(what, waits) -> nil where `what` can be done here, or an
-- invalid_request error saying why not: a phase without cosockets, or,
-- for what waits by yielding (light threads start and are waited for so),
-- code that cannot yield. Returned, never raised: inside nginx an error
-- raised in a finalizer, even one a pcall there catches, can leave a
-- coroutine of the request corrupt or crash the worker (OpenResty's
-- LuaJIT; `fuzz/reentry.lua` ngx shows it), and finalizers are where code
-- cannot yield.
function _M.refusal(what, waits)
  local ok, phase = _M.phase_ok()
  if not ok then
    return errors.invalid("phase", format("a phase where nginx allows cosockets: %s is not possible in nginx's %s"
      .. " phase; do it from a timer, e.g. ngx.timer.at(0, function() ... end)", what, phase))
  end
  if waits and not compat.yieldable() then
    return errors.invalid("call", format("code that can yield: %s inside nginx waits by yielding, which a finalizer,"
      .. " a debug hook or a C function's callback (table.sort's comparator) cannot; call the operation itself"
      .. " there (it blocks)", what))
  end
  return nil
end

local function _now_ms()
  ngx.update_time()
  return ngx.now() * 1000
end

-- scheme, host, port, request target of an absolute http(s) URL.
local function _parse_url(url)
  local scheme, rest = match(url, "^(%a[%w+.-]*)://(.*)$")
  scheme = scheme and lower(scheme)
  if scheme ~= "http" and scheme ~= "https" then return nil end
  local authority, target = match(rest, "^([^/?#]*)(.*)$")
  target = match(target, "^[^#]*")
  if target == "" then target = "/" elseif sub(target, 1, 1) == "?" then target = "/" .. target end
  authority = match(authority, "[^@]*$")
  local host, port = match(authority, "^%[([^%]]+)%]:?(%d*)$")
  if not host then host, port = match(authority, "^([^:]+):?(%d*)$") end
  if not host then return nil end
  local default = scheme == "https" and 443 or 80
  port = tonumber(port) or default
  local host_header = host
  if find(host, ":", 1, true) then host_header = "[" .. host .. "]" end
  if port ~= default then host_header = host_header .. ":" .. port end
  return scheme, host, port, target, host_header
end

-- Failures come from the one table in the C core (csrc/failure.c), which
-- also maps nginx's socket error texts, so this driver and libcurl's can
-- never disagree on what a failure is or whether it may be retried.
local _fail = core.failure
local function _classify(stage, err, sent, got_bytes)
  return core.socket_failure(stage, tostring(err), sent, got_bytes)
end

-- One exchange on an open socket, in two halves: _send_request, then
-- _receive. Each returns nothing (sent) or response | nil, failure, stale
-- (stale: a read on a kept-alive connection the server had already closed,
-- no answer byte came, the read can go again on a fresh one). Only when
-- may_resend is set (a read on a reused connection) is anything stale.
local function _send_request(sock, parts, deadline, may_resend)
  local left = deadline - _now_ms()
  if left < 1 then return _fail("timeout", "request timed out before sending", false) end
  sock:settimeout(left)
  local _, serr = sock:send(parts)
  if serr then
    if may_resend then return nil, nil, true end
    return _classify("send", serr, false, false)
  end
end

-- An answer read through receiveany, a piece at a time, with the time left
-- to the deadline set before each piece: a cosocket's read timeout starts
-- again whenever a byte arrives, so reading a line or a length at once
-- would let a server sending a byte now and then hold the call far past
-- timeout_ms. Returns line(max) and bytes(n, into); each fails with
-- nil, err ("timeout" once the deadline has passed) and what came of it.
local function _reader(sock, deadline)
  local buf, pos = "", 1 -- received, not yet taken: buf from pos on
  local r = {}
  local function more()
    local left = deadline - _now_ms()
    if left < 1 then return nil, "timeout" end
    sock:settimeout(left)
    local data, err = sock:receiveany(CHUNK)
    if not data then return nil, err end
    buf, pos = data, 1
    return true
  end
  -- A line without its LF and the CR before it; at most max bytes.
  function r.line(max)
    local parts, got = nil, 0
    while true do
      local i = find(buf, "\n", pos, true)
      if i then
        local line = sub(buf, pos, i - 1)
        pos = i + 1
        if parts then parts[#parts + 1] = line; line = concat(parts) end
        if sub(line, -1) == "\r" then line = sub(line, 1, -2) end
        -- Its end may come in the piece that passes max: counted whole.
        if #line > max then return nil, "too_large" end
        return line
      end
      if pos <= #buf then
        parts = parts or {}
        parts[#parts + 1] = sub(buf, pos)
        got = got + #buf - pos + 1
      end
      buf, pos = "", 1
      if got > max then return nil, "too_large" end
      local ok, err = more()
      if not ok then return nil, err, parts and concat(parts) or "" end
    end
  end
  -- n bytes, appended to the list `into`.
  function r.bytes(n, into)
    while n > 0 do
      if pos > #buf then
        local ok, err = more()
        if not ok then return nil, err end
      end
      local take = #buf - pos + 1
      if take > n then take = n end
      into[#into + 1] = (pos == 1 and take == #buf) and buf or sub(buf, pos, pos + take - 1)
      pos, n = pos + take, n - take
    end
    return true
  end
  -- Everything until the server closes, appended to `into`; at most max.
  function r.rest(into, max)
    local total = 0
    while true do
      if pos <= #buf then
        into[#into + 1] = pos == 1 and buf or sub(buf, pos)
        total = total + #buf - pos + 1
        buf, pos = "", 1
        if max and total > max then return nil, "too_large" end
      end
      local ok, err = more()
      if not ok then
        if err == "closed" then return true end
        return nil, err
      end
    end
  end
  function r.pending() return pos <= #buf end
  return r
end

local function _receive(sock, req, deadline, max_bytes, may_resend)
  local r = _reader(sock, deadline)
  local function lost(what, err, got_bytes)
    if err == "timeout" then return _fail("timeout", "timed out " .. what, true) end
    if err == "too_large" then return _fail("too_large", HEAD_TOO_LARGE, true) end
    if err == "line_too_large" then return _fail("too_large", LINE_TOO_LARGE, true) end
    return _classify("receive", err, true, got_bytes)
  end
  -- A line of the head (the status line, a header or a trailer), counted
  -- against the head's bound, and no longer than libcurl takes one; nil,
  -- the reader's error (or which bound it passed) and what came of it.
  local head_bytes = 0
  local function head_line()
    local room = MAX_HEAD_BYTES - head_bytes
    local line, err, partial = r.line(room < MAX_LINE_BYTES and room or MAX_LINE_BYTES)
    if not line then return nil, (err == "too_large" and room > MAX_LINE_BYTES) and "line_too_large" or err, partial end
    head_bytes = head_bytes + #line + 2
    if head_bytes > MAX_HEAD_BYTES then return nil, "too_large" end
    return line
  end
  local status, headers, keep, http10
  while true do
    local line, lerr, partial = head_line()
    if not line then
      if may_resend and status == nil and partial == "" and lerr ~= "timeout" and lerr ~= "too_large" then
        return nil, nil, true
      end
      return lost("waiting for the status line", lerr, status ~= nil)
    end
    local version, code, after = match(line, "^HTTP/(%d%.%d) (%d%d%d)(.?)")
    if not code or find(after, "%d") or find(line, "\0", 1, true) then
      return _fail("malformed", "malformed status line", true)
    end
    status, http10 = tonumber(code), version == "1.0"
    headers = {}
    local repeated -- name -> every value of a header that came more than once
    while true do
      local h, herr = head_line()
      if not h then return lost("reading headers", herr, true) end
      if h == "" then break end
      -- What libcurl refuses: a line without a colon, a folded one, a NUL.
      local name, value = match(h, "^([^:]+):[ \t]*(.-)[ \t]*$")
      if not name or find(h, "^[ \t]") or find(h, "\0", 1, true) then
        return _fail("malformed", "malformed header line", true)
      end
      name = lower(name)
      if find(name, "^http/") then -- luacheck: ignore 542
        -- A status line among the headers is none (libcurl's driver skips it too).
      elseif headers[name] == nil then
        headers[name] = value
      else
        -- Joined once below: joining as they come copies the value so
        -- far for every repeat, quadratic in the number of repeats.
        repeated = repeated or {}
        local list = repeated[name]
        if not list then list = { headers[name] }; repeated[name] = list end
        list[#list + 1] = value
      end
    end
    if repeated then
      for name, list in pairs(repeated) do headers[name] = concat(list, ", ") end
    end
    -- 1xx answers are interim; the real one follows on the same connection.
    if status >= 200 or status == 101 then break end
  end

  local conn = lower(headers["connection"] or "")
  if http10 then keep = find(conn, "keep-alive", 1, true) ~= nil else keep = not find(conn, "close", 1, true) end

  local body
  local te = lower(headers["transfer-encoding"] or "")
  -- A length repeated (the same number listed twice, as HTTP allows) is
  -- that length; anything else that is not a number is no answer.
  local cl = headers["content-length"]
  local length
  if cl then
    for n in string.gmatch(cl, "[^,]+") do
      local v = match(n, "^%s*(%d+)%s*$")
      if not v or (length and tonumber(v) ~= length) then
        return _fail("malformed", "malformed Content-Length", true)
      end
      length = tonumber(v)
    end
    if not length then return _fail("malformed", "malformed Content-Length", true) end
  end
  local function too_large()
    return _fail("too_large", format("response larger than max_response_bytes (%d)", max_bytes), true)
  end
  if status == 101 then
    -- Switched to a protocol nobody asked for: nothing after it is HTTP.
    body, keep = "", false
  elseif upper(req.method) == "HEAD" or status == 204 or status == 304 then
    body = ""
  elseif find(te, "chunked", 1, true) then
    local chunks, total = {}, 0
    while true do
      local size_line, cerr = r.line(MAX_HEAD_BYTES)
      if not size_line then return lost("reading the body", cerr, true) end
      local hex = match(size_line, "^%s*(%x+)%s*$") or match(size_line, "^%s*(%x+)%s*;")
      local size = hex and #hex <= 15 and tonumber(hex, 16)
      if not size then return _fail("malformed", "malformed chunk size", true) end
      if size == 0 then
        repeat -- trailers, up to the empty line: bounded with the headers, as libcurl's are
          local t, terr = head_line()
          if not t then return lost("reading trailers", terr, true) end
        until t == ""
        break
      end
      total = total + size
      if max_bytes and total > max_bytes then return too_large() end
      local ok, derr = r.bytes(size, chunks)
      if not ok then return lost("reading the body", derr, true) end
      -- The chunk's line end: CRLF, or a bare LF as libcurl also takes.
      local eol = {}
      ok, derr = r.bytes(1, eol)
      if ok and eol[1] == "\r" then ok, derr = r.bytes(1, eol) end
      if not ok then return lost("reading the body", derr, true) end
      if eol[#eol] ~= "\n" then return _fail("malformed", "a chunk longer than its size", true) end
    end
    body = concat(chunks)
  elseif length then
    if max_bytes and length > max_bytes then return too_large() end
    local pieces = {}
    local ok, derr = r.bytes(length, pieces)
    if not ok then return lost("reading the body", derr, true) end
    body = pieces[2] == nil and (pieces[1] or "") or concat(pieces)
  else
    -- No length: the body ends when the server closes the connection.
    keep = false
    local pieces = {}
    local ok, derr = r.rest(pieces, max_bytes)
    if not ok then
      if derr == "too_large" then return too_large() end
      return lost("reading the body", derr, true)
    end
    body = concat(pieces)
  end
  -- Nothing asked for an encoding (libcurl's driver refuses one it cannot
  -- decode). A body to be decoded fails; an error's keeps its status and
  -- headers (a 503's Retry-After), and no body.
  local encoding = headers["content-encoding"]
  if encoding and body ~= "" and find((gsub(lower(encoding), "identity", "")), "[^%s,]") then
    if status >= 200 and status < 300 then
      return _fail("content_encoding", "response Content-Encoding " .. encoding .. " was not asked for", true)
    end
    body = ""
  end
  -- Bytes past the answer are no answer to anything this driver sent.
  if r.pending() then keep = false end
  return { status = status, headers = headers, body = body, keep = keep }
end

-- The request head and body as one table for sock:send (no copy).
local function _request_parts(req, target, host_header)
  local parts = { req.method, " ", target, " HTTP/1.1\r\n" }
  local has_host = false
  local lines = req.headers or {}
  for i = 1, #lines do
    local line = lines[i]
    local name, value = match(line, "^([^:]+):%s*(.-)%s*$")
    -- "Name:" with nothing after it means "don't send Name" (curl's rule).
    if name and value ~= "" then
      local lname = lower(name)
      if lname == "host" then has_host = true end
      if lname ~= "content-length" and lname ~= "connection" and lname ~= "transfer-encoding" then
        parts[#parts + 1] = line
        parts[#parts + 1] = "\r\n"
      end
    end
  end
  if not has_host then parts[#parts + 1] = "Host: " .. host_header .. "\r\n" end
  local body = req.body
  local m = req.method
  if body then
    parts[#parts + 1] = "Content-Length: " .. #body .. "\r\n"
  elseif m == "POST" or m == "PUT" or m == "PATCH" then
    parts[#parts + 1] = "Content-Length: 0\r\n"
  end
  parts[#parts + 1] = "\r\n"
  if body and body ~= "" then parts[#parts + 1] = body end
  return parts
end

-- What every connection for req needs: where to, the pools, the parts.
local function _plan(client, req)
  local scheme, host, port, target, host_header = _parse_url(req.url)
  if not scheme then return nil end
  local hopts = client._handle_opts or {}
  local verify = hopts.verify_tls ~= false
  local max_bytes = hopts.max_response_bytes
  if max_bytes and max_bytes <= 0 then max_bytes = nil end
  local started = _now_ms()
  -- Connections are pooled per destination and TLS mode, so a connection
  -- made without verification is never handed to a verifying client.
  local pool = format("kombo:%s:%s:%d:%s", scheme, host, port, verify and "v" or "nv")
  return {
    scheme = scheme, host = host, port = port, verify = verify, max_bytes = max_bytes,
    started = started, deadline = started + req.timeout_ms,
    parts = _request_parts(req, target, host_header),
    -- Nothing is ever kept alive under this name, so connecting with it
    -- always opens a new connection. Writes go out on one: on a reused
    -- connection a server that acted and then closed looks like a stale
    -- connection, and the request would go twice.
    pool = pool, fresh = pool .. ":fresh", read = core.is_read(req.method),
  }
end

-- A connection from pool `use` (TLS done): sock, reused | nil, failure.
local function _connect(plan, use)
  local sock = ngx.socket.tcp()
  local left = plan.deadline - _now_ms()
  if left < 1 then return _fail("timeout", "request timed out before connecting", false) end
  sock:settimeout(left)
  local ok, cerr = sock:connect(plan.host, plan.port, { pool = use })
  if not ok then return _classify("connect", cerr, false, false) end
  local reused = (sock:getreusedtimes() or 0) > 0
  if plan.scheme == "https" and not reused then
    left = plan.deadline - _now_ms()
    if left < 1 then sock:close(); return _fail("timeout", "request timed out before TLS", false) end
    sock:settimeout(left)
    local session, terr = sock:sslhandshake(nil, plan.host, plan.verify)
    if not session then
      sock:close()
      return _classify("tls", terr, false, false)
    end
  end
  return sock, reused
end

-- The answer's end: the connection back to the pool or closed.
local function _settle(plan, sock, use, res, fail, stale, reused)
  if res then
    if res.keep and use == plan.pool then sock:setkeepalive() else sock:close() end
    res.keep = nil
    res.reused = reused
    res.elapsed_ms = _now_ms() - plan.started
    return res
  end
  sock:close()
  return nil, fail, stale
end

-- One round: connect from `use`, send, receive.
local function _round(plan, req, use)
  local sock, reused = _connect(plan, use)
  if not sock then return nil, reused end
  local may_resend = plan.read and reused
  local res, fail, stale = _send_request(sock, plan.parts, plan.deadline, may_resend)
  if res == nil and fail == nil and not stale then
    res, fail, stale = _receive(sock, req, plan.deadline, plan.max_bytes, may_resend)
  end
  return _settle(plan, sock, use, res, fail, stale, reused)
end

--- send(client, req) -> response | nil, failure (docs/DRIVERS.md). Not
-- called in phases without cosockets (attempts.lua asks refusal first).
function _M.send(client, req)
  local plan = _plan(client, req)
  if not plan then
    return _fail("unsupported_protocol", "unsupported URL (want http:// or https://)", false)
  end
  -- A read that finds its reused connection already closed goes once more
  -- on a fresh one, as libcurl does; a fresh connection is never stale.
  local res, fail, stale = _round(plan, req, plan.read and plan.pool or plan.fresh)
  if stale then res, fail = _round(plan, req, plan.fresh) end
  return res, fail
end

-- Prefetch (page.lua): a page's request is sent now, on a pooled
-- connection, and its answer waits in the socket until the walk reaches
-- the page. A walk dropped early drops the socket, which nginx closes (at
-- the latest when the request ends); nothing waits for it.

--- start(client, req) -> prefetch | nil (nil: fetched when reached)
function _M.start(client, req)
  if not _M.phase_ok() then return nil end
  local plan = _plan(client, req)
  if not plan or not plan.read then return nil end
  local sock, reused = _connect(plan, plan.pool)
  if not sock then return nil end
  local res, fail, stale = _send_request(sock, plan.parts, plan.deadline, reused)
  if res ~= nil or fail ~= nil or stale then
    sock:close()
    return nil
  end
  return { plan = plan, req = req, sock = sock, reused = reused, sent = _now_ms() }
end

--- finish(prefetch) -> response | nil, failure, ms it waited for the
-- caller (which counts toward neither its timeout nor its elapsed time).
function _M.finish(p)
  local plan, req = p.plan, p.req
  local held = _now_ms() - p.sent
  plan.deadline, plan.started = plan.deadline + held, plan.started + held
  local res, fail, stale = _receive(p.sock, req, plan.deadline, plan.max_bytes, p.reused)
  res, fail, stale = _settle(plan, p.sock, plan.pool, res, fail, stale, p.reused)
  if stale then res, fail = _round(plan, req, plan.fresh) end
  return res, fail, held
end

--- cancel(prefetch): closes its connection.
function _M.cancel(p)
  p.sock:close()
end

--- sleep(ms): a non-blocking wait in the nginx event loop.
function _M.sleep(ms)
  ngx.sleep(ms / 1000)
end

-- kombo.spawn inside nginx: a light thread of the current request (or
-- timer), wrapped in a task whose function's outcome it keeps.
-- kombo.run waits for the ones this request spawned.
local function _tasks()
  local ctx = ngx.ctx
  local list = ctx.kombo_tasks
  if not list then list = {}; ctx.kombo_tasks = list end
  return list
end

-- What a raised value becomes: an error object gets the traceback,
-- anything else is a string with it (as in the tasks driver).
local function _raised(e)
  if type(e) == "table" then
    if type(rawget(e, "kind")) == "string" then e.traceback = traceback() end
    return e
  end
  return traceback(tostring(e), 2)
end

-- The longest pause between two looks at a task another thread waits for.
local MAX_POLL_S = 0.05

local Task = {}
Task.__index = Task

-- Reaps the light thread once it is done: only the thread that spawned
-- it may (ngx.thread.wait's rule); any other polls the task instead.
local function _join(task)
  if task.joined then return end
  local ok, err = ngx.thread.wait(task.co)
  if ok or err ~= nil then task.joined = true end
end

--- task:wait() -> what the task's function returned | nil, err (what it
-- raised, as kombo.run lists it). The spawning thread waits with
-- ngx.thread.wait; another thread looks again after a pause that doubles
-- from 1 ms up to 50 ms.
function Task:wait()
  if not self.done then
    local refused = _M.refusal("task:wait", true)
    if refused then return nil, refused end
    if coroutine.running() == self.co then return nil, "kombo: a task cannot wait for itself" end
    if self.parent == coroutine.running() then _join(self) end
    local pause = 0.001
    while not self.done do
      local status = coroutine.status(self.co)
      if status == "dead" or status == "zombie" then
        self.done, self.error = true, "kombo: the task's light thread was killed before it ended"
        self.results = pack(nil, self.error)
        break
      end
      ngx.sleep(pause)
      pause = pause * 2
      if pause > MAX_POLL_S then pause = MAX_POLL_S end
    end
  end
  return unpacked(self.results)
end

local function _spawn(owned, fn, ...)
  local task = setmetatable({ parent = coroutine.running() }, Task)
  local refused = _M.refusal(owned and "kombo.map" or "kombo.spawn", true)
  if refused then
    -- A task that failed as it started, in no request's list (there may
    -- be no request): its wait says why.
    task.done, task.error, task.results = true, refused, pack(nil, refused)
    return task
  end
  local function body(...)
    local r = pack(xpcall(fn, _raised, ...))
    if r[1] then task.results = pack(unpack(r, 2, r.n)) else task.error, task.results = r[2], pack(nil, r[2]) end
    task.done = true
  end
  local co, err = ngx.thread.spawn(body, ...)
  if not co then error("kombo.spawn: " .. tostring(err), 3) end
  task.co = co
  if not owned then
    local list = _tasks()
    list[#list + 1] = task
  end
  return task
end

--- spawn(fn, ...) -> a task running fn(...) on a light thread; where none
-- can start (refusal), a task that failed with the reason.
function _M.spawn(fn, ...)
  if type(fn) ~= "function" then error("kombo.spawn expects a function", 2) end
  return _spawn(false, fn, ...)
end

--- spawn_owned(fn, ...) -> task: one whose owner waits for it (kombo.map),
-- so kombo.run neither waits for it nor lists its failure.
function _M.spawn_owned(fn, ...)
  return _spawn(true, fn, ...)
end

--- run(): waits for every task this request spawned, then returns true,
-- or nil and the list of errors the failed ones raised (with their
-- tracebacks), in spawn order (errors.tasks[i] is the task of errors[i]);
-- never raises for them. Where it cannot wait (refusal): nil and a list
-- of that one error, with no task.
function _M.run()
  local refused = _M.refusal("kombo.run", true)
  if refused then return nil, { refused, tasks = {} } end
  local list = _tasks()
  local errs = { tasks = {} }
  local i = 1
  while i <= #list do -- tasks may spawn more while we wait
    local task = list[i]
    task:wait()
    if task.error ~= nil then
      errs[#errs + 1] = task.error
      errs.tasks[#errs] = task
    end
    i = i + 1
  end
  ngx.ctx.kombo_tasks = nil
  if #errs > 0 then return nil, errs end
  return true
end

return _M
