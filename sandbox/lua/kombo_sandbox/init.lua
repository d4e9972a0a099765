-- kombo_sandbox: a Kombo-like ATS server on luv for tests, the demo and the
-- benchmark. It serves the 23 ATS endpoints under /v1 over seeded data,
-- checks auth and input like Kombo, records every API request, and injects
-- faults on demand through control endpoints under /_sandbox/ (no auth, not
-- recorded):
--
--   POST   /_sandbox/faults    {"rules":[rule, ...]} appends rules (see faults.lua)
--   DELETE /_sandbox/faults    clears them; GET lists them with hit counts
--   GET    /_sandbox/requests  {"requests":[{method, path, query, headers, body, connection, at_ms, done_ms,
--                               status, fault, in_flight}]}
--   DELETE /_sandbox/requests  clears the record
--   GET    /_sandbox/stats     {"connections", "requests", "open_connections", "open_ids"}
--   GET    /_sandbox/counts    records per collection
--   POST   /_sandbox/concurrency {"limit"?, "held"?} sets Kombo's cap on in-flight writes per
--                               integration (default 30) and how many of them someone else
--                               holds (default 0); GET gives them with the writes in flight
--   POST   /_sandbox/reset     data back to the seed, no requests, no faults, no webhook,
--                               the default cap
--   POST   /_sandbox/webhooks  {"url", "secret"}: signed events after writes (webhooks.lua);
--                              GET lists the deliveries, DELETE stops them
--   POST   /_sandbox/delete    {"collection", "id"}: the record deleted in the ATS now
--   POST   /_sandbox/shutdown  stops the server
--
--   local sandbox = require("kombo_sandbox")
--   local server = assert(sandbox.start({ port = 0, seed = 1 }))
--   print(server.url)  -- http://127.0.0.1:PORT/v1
--   require("luv").run()

local uv = require("luv")
local http = require("kombo_sandbox.http")
local util = require("kombo_sandbox.util")
local data = require("kombo_sandbox.data")
local routes = require("kombo_sandbox.routes")
local validate = require("kombo_sandbox.validate")
local faults = require("kombo_sandbox.faults")
local webhooks = require("kombo_sandbox.webhooks")

local ipairs, pairs, setmetatable, tonumber, tostring, type, pcall, error = ipairs, pairs, setmetatable, tonumber,
  tostring, type, pcall, error
local format, sub, floor = string.format, string.sub, math.floor

local _M = {}

_M.DEFAULT_API_KEY = "sandbox-api-key"

local JSON = { ["Content-Type"] = "application/json; charset=utf-8" }

-- Kombo's cap on the writes ("actions") of one integration in flight at
-- once; one more is refused with 429 PLATFORM.CONCURRENCY_LIMIT_EXCEEDED.
_M.CONCURRENCY_LIMIT = 30

-- What a write stands in with when a fault answers before its handler ran.
local WRITE_STANDIN = '{"status":"success","data":{},"warnings":[]}'

local Sandbox = {}
Sandbox.__index = Sandbox

function Sandbox:_record(req, conn)
  local log = self.log
  if #log >= self.log_limit then
    -- Keep the newer half; a long benchmark must not grow without bound.
    local keep = {}
    for i = #log - floor(self.log_limit / 2) + 1, #log do keep[#keep + 1] = log[i] end
    log = keep
    self.log = log
  end
  self.seq = self.seq + 1
  local entry = {
    seq = self.seq, method = req.method, path = req.path, query = req.query, headers = req.headers,
    body = req.body, connection = conn.id, at_ms = (uv.hrtime() - self.t0) / 1e6,
  }
  log[#log + 1] = entry
  return entry
end

-- Does the endpoint take X-Integration-Id? Account-level ones
-- (/check-api-key, /integrations/..., /connect/...) do not; an unknown path
-- is answered as if it did.
local function _needs_integration(method, path)
  local name = sub(path, 1, 4) == "/v1/" and routes.operation(method, sub(path, 4))
  local rules = name and validate.operation(name)
  return not rules or rules.integration ~= false
end

local SAFE = { GET = true, HEAD = true, OPTIONS = true }

-- A write of an authenticated integration takes one of its in-flight
-- places, recorded in the entry as in_flight (counting itself). Returns
-- the integration id, false when the place is refused (the cap is
-- reached), or nil for what is not counted (reads, no key or integration).
function Sandbox:_admit(req, entry)
  local id = req.headers["x-integration-id"] or ""
  if SAFE[req.method] or id == "" or req.headers["authorization"] ~= "Bearer " .. self.api_key then return nil end
  local n = (self.in_flight[id] or 0) + 1
  entry.in_flight = n
  if n + self.concurrency.held > self.concurrency.limit then return false end
  self.in_flight[id] = n
  return id
end

-- The headers Kombo sends on every action's answer.
function Sandbox:_concurrency_headers(id, headers)
  local c = self.concurrency
  local left = c.limit - c.held - (self.in_flight[id] or 0)
  local h = { ["Concurrency-Limit"] = tostring(c.limit), ["Concurrency-Remaining"] = tostring(left > 0 and left or 0) }
  for k, v in pairs(headers) do h[k] = v end
  return h
end

-- The real answer to an API request: status, headers, body text.
function Sandbox:_api(req, entry)
  local status, payload
  local auth = req.headers["authorization"] or ""
  if auth ~= "Bearer " .. self.api_key then
    status, payload = routes.err(401, "PLATFORM.AUTHENTICATION_INVALID",
      "The API key is missing or invalid. Send it as `Authorization: Bearer <key>`.")
  elseif (req.headers["x-integration-id"] or "") == "" and _needs_integration(req.method, req.path) then
    status, payload = routes.err(400, "PLATFORM.INPUT_INVALID", "The X-Integration-Id header is missing.")
  elseif sub(req.path, 1, 4) ~= "/v1/" then
    status, payload = routes.err(404, nil, "No endpoint at " .. req.path .. " (the API lives under /v1).")
  else
    status, payload = routes.handle(self.db, req.method, sub(req.path, 4), req.query, req.body, req.headers)
  end
  if payload.status == "error" then
    payload.error.log_url = format("%s/_sandbox/requests/%d", self.base, entry.seq)
  end
  return status, JSON, util.encode(payload)
end

function Sandbox:_serve_api(req, conn)
  self.api_requests = self.api_requests + 1
  local entry = self:_record(req, conn)
  local rule = self.faults:pick(req.method, req.path, req.query)
  if rule then
    entry.fault = rule.action or (rule.status and tostring(rule.status)) or (rule.delay_ms and "delay") or "headers"
  end
  if self.log_line then
    self.log_line(format("#%d conn=%d %s %s%s%s", entry.seq, conn.id, req.method, req.path,
      req.query ~= "" and ("?" .. req.query) or "", entry.fault and (" fault=" .. entry.fault) or ""))
  end
  local id = self:_admit(req, entry)
  if id == false then
    local status, payload = routes.err(429, "PLATFORM.CONCURRENCY_LIMIT_EXCEEDED", format(
      "More than %d actions of this integration are in flight; retry when one has finished.",
      self.concurrency.limit))
    payload.error.log_url = format("%s/_sandbox/requests/%d", self.base, entry.seq)
    entry.status, entry.done_ms = status, entry.at_ms
    return conn:respond(status, self:_concurrency_headers(req.headers["x-integration-id"], JSON),
      util.encode(payload))
  end
  local function answer()
    if not rule or not faults.alters(rule) then
      local status, headers, body = self:_api(req, entry)
      if id then headers = self:_concurrency_headers(id, headers) end
      if rule then headers = faults.with_headers(rule, headers) end
      entry.status = status
      conn:respond(status, headers, body)
      return self.webhooks:after(self.db, req, status, body,
        format("%s/_sandbox/requests/%d", self.base, entry.seq))
    end
    local status, headers, body = 200, JSON, WRITE_STANDIN
    if faults.needs_handler(rule, req.method) then status, headers, body = self:_api(req, entry) end
    entry.status = rule.status or status
    faults.answer(rule, conn, status, headers, body, routes.status_envelope)
  end
  -- The place is given back however the answer went, once it is written.
  local function go()
    local ok, err = pcall(answer)
    if id then self.in_flight[id] = self.in_flight[id] - 1 end
    entry.done_ms = (uv.hrtime() - self.t0) / 1e6
    if not ok then error(err, 0) end
  end
  if rule and rule.delay_ms and rule.delay_ms > 0 then
    -- A late answer: the handler still runs when the client has gone, as a real server's would.
    http.after(rule.delay_ms, go)
  else
    go()
  end
end

local function _json(conn, status, payload)
  conn:respond(status, JSON, util.encode(payload))
end

function Sandbox:counts()
  local out = {}
  for _, name in ipairs(data.COLLECTIONS) do out[name] = #self.db[name].items end
  return out
end

--- Back to the seeded data, with no recorded requests and no fault rules.
function Sandbox:reset(seed)
  self.seed = seed or self.seed
  self.db = data.seed(self.seed)
  self.db.sync_ms = self.sync_ms
  -- The old hooks' pending events (a sync still running) go nowhere.
  if self.webhooks then self.webhooks:clear() end
  self.log, self.faults, self.webhooks = {}, faults.new(), webhooks.new(self.t0)
  self.concurrency = { limit = _M.CONCURRENCY_LIMIT, held = 0 }
end

function Sandbox:_control(req, conn)
  local m, p = req.method, req.path
  local body
  if req.body ~= "" then
    body = util.decode(req.body)
    if body == nil then return _json(conn, 400, { error = "the body is not valid JSON" }) end
  end
  if p == "/_sandbox/faults" and m == "POST" then
    local n, err = self.faults:add(body and (body.rules or body))
    if not n then return _json(conn, 400, { error = err }) end
    return _json(conn, 200, { ok = true, rules = n })
  elseif p == "/_sandbox/faults" and m == "DELETE" then
    self.faults:clear()
    return _json(conn, 200, { ok = true })
  elseif p == "/_sandbox/faults" and m == "GET" then
    return _json(conn, 200, { rules = self.faults:list() })
  elseif p == "/_sandbox/webhooks" and m == "POST" then
    local ok, err = self.webhooks:configure(body)
    if not ok then return _json(conn, 400, { error = err }) end
    return _json(conn, 200, { ok = true })
  elseif p == "/_sandbox/webhooks" and m == "GET" then
    return _json(conn, 200, self.webhooks:state())
  elseif p == "/_sandbox/webhooks" and m == "DELETE" then
    self.webhooks:clear()
    return _json(conn, 200, { ok = true })
  elseif p == "/_sandbox/requests" and m == "GET" then
    return _json(conn, 200, { requests = util.array(self.log) })
  elseif p == "/_sandbox/requests" and m == "DELETE" then
    self.log = {}
    return _json(conn, 200, { ok = true })
  elseif m == "GET" and p:match("^/_sandbox/requests/%d+$") then
    local seq = tonumber(p:match("(%d+)$"))
    for _, e in ipairs(self.log) do
      if e.seq == seq then return _json(conn, 200, e) end
    end
    return _json(conn, 404, { error = "no such request (cleared or never made)" })
  elseif p == "/_sandbox/stats" and m == "GET" then
    return _json(conn, 200, { connections = self.http.connections, requests = self.api_requests,
      open_connections = self.http.open_count, open_ids = util.array(self.http:open_ids()) })
  elseif p == "/_sandbox/counts" and m == "GET" then
    return _json(conn, 200, self:counts())
  elseif p == "/_sandbox/delete" and m == "POST" then
    local coll = body and type(body.collection) == "string" and self.db[body.collection]
    local rec = coll and type(coll) == "table" and coll.by_id and coll.by_id[body.id]
    if not rec then return _json(conn, 404, { error = "no record with that collection and id" }) end
    local now = util.now_ms()
    rec.remote_deleted_at, rec.changed_at = now, now
    self.db.version = self.db.version + 1
    return _json(conn, 200, { ok = true })
  elseif p == "/_sandbox/concurrency" and (m == "POST" or m == "GET") then
    local c = self.concurrency
    if m == "POST" then
      local limit, held = body and body.limit or c.limit, body and body.held or c.held
      if type(limit) ~= "number" or limit < 1 or limit % 1 ~= 0 or type(held) ~= "number" or held < 0
        or held % 1 ~= 0 then
        return _json(conn, 400, { error = "limit must be a whole number >= 1 and held one >= 0" })
      end
      c.limit, c.held = floor(limit), floor(held)
    end
    local busy = {}
    for k, v in pairs(self.in_flight) do if v > 0 then busy[k] = v end end
    return _json(conn, 200, { limit = c.limit, held = c.held, in_flight = busy })
  elseif p == "/_sandbox/reset" and m == "POST" then
    self:reset(body and tonumber(body.seed))
    return _json(conn, 200, { ok = true, seed = self.seed })
  elseif p == "/_sandbox/shutdown" and m == "POST" then
    conn.current.close = true
    _json(conn, 200, { ok = true })
    -- Let the answer leave before the listener and every connection go.
    http.after(20, function() self:stop() end)
    return
  end
  return _json(conn, 404, { error = "no control endpoint " .. m .. " " .. p })
end

--- Stop listening, drop connections, and call opts.on_stop once.
function Sandbox:stop()
  if self.stopped then return end
  self.stopped = true
  self.http:close()
  if self.on_stop then self.on_stop() end
end

--- Start a sandbox on the running luv loop.
--- opts: host ("127.0.0.1"), port (0 = any free one), api_key, seed (1),
--- log_limit (10000 recorded requests), log (function(line): one line per API
--- request and handler errors; never the Authorization header),
--- on_stop (called once when the server stops).
--- Returns the server ({ port, url, api_key, stop, reset, counts }) or nil, err.
function _M.start(opts)
  opts = opts or {}
  local self = setmetatable({
    api_key = opts.api_key or _M.DEFAULT_API_KEY, seed = tonumber(opts.seed) or 1,
    log_limit = tonumber(opts.log_limit) or 10000, api_requests = 0, seq = 0, t0 = uv.hrtime(),
    on_stop = opts.on_stop, log_line = opts.log, in_flight = {}, sync_ms = tonumber(opts.sync_ms),
  }, Sandbox)
  self:reset()
  local host = opts.host or "127.0.0.1"
  local server, err = http.listen(host, tonumber(opts.port) or 0, function(req, conn)
    if sub(req.path, 1, 10) == "/_sandbox/" then return self:_control(req, conn) end
    return self:_serve_api(req, conn)
  end, { log = opts.log })
  if not server then return nil, err end
  self.http, self.port = server, server.port
  self.base = format("http://%s:%d", host, server.port)
  self.url = self.base .. "/v1"
  return self
end


return _M
