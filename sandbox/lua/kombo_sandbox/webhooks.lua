-- Webhooks: once told a URL and a secret, the sandbox posts signed events
-- there as Kombo does: `data-changed` after a write to ATS or HRIS data,
-- `sync-finished` when a forced sync ends. Each body is signed in
-- X-Kombo-Signature: the HMAC-SHA256 of the body under the secret, base64url
-- without padding, computed by the `openssl` command (Debian: openssl) in a
-- child process, so the sandbox needs no crypto library of its own and
-- never the SDK's.
--
--   POST   /_sandbox/webhooks  {"url": "http://127.0.0.1:PORT/path", "secret": "...", "timeout_ms": 2000}
--   GET    /_sandbox/webhooks  {"url", "deliveries": [{id, type, body, signature, status | error,
--                              answered_ms}]} (answered_ms on the request log's clock)
--   DELETE /_sandbox/webhooks  no more events
--
-- Nothing here runs before the API answer is written, and nothing waits:
-- signing and sending are callbacks on the luv loop, each delivery bounded
-- by timeout_ms (default TIMEOUT_MS); a receiver that is down or slow costs a failed delivery
-- record, never a request's answer.

local uv = require("luv")
local util = require("kombo_sandbox.util")
local http = require("kombo_sandbox.http")
local platform = require("kombo_sandbox.platform")

local byte, concat, format, gsub, sub = string.byte, table.concat, string.format, string.gsub, string.sub
local tonumber, type = tonumber, type

local _M = {}

-- A delivery's whole life by default: connect, send, first line of the answer.
local TIMEOUT_MS = 2000
local MAX_TIMEOUT_MS = 60000
-- Deliveries kept for GET (the newest).
local KEEP = 200

-- The models a write to /v1/<path> changes: by the path's last segment
-- when it names a model of its own, else by its first two.
local MODELS = {
  ["ats/applications"] = { "ats_applications" },
  ["ats/candidates"] = { "ats_candidates" },
  ["ats/jobs"] = { "ats_applications", "ats_candidates" },
  ["ats/import-tracked-application"] = { "ats_applications", "ats_candidates" },
  tags = { "ats_join_candidates_tags" },
  interviews = { "ats_interviews" },
}

local Hooks = {}
Hooks.__index = Hooks

--- `t0`: the uv.hrtime() the request log's at_ms count from.
function _M.new(t0)
  return setmetatable({ deliveries = {}, count = 0, t0 = t0 }, Hooks)
end

local function _parse_url(url)
  local host, port, path = url:match("^http://([%w%.%-]+):(%d+)(/[^%s]*)$")
  if not host then
    host, path = url:match("^http://([%w%.%-]+)(/[^%s]*)$")
    port = "80"
  end
  if not host then return nil end
  if host == "localhost" then host = "127.0.0.1" end
  -- An address, not a name: the loop never blocks on a resolver.
  if not host:match("^%d+%.%d+%.%d+%.%d+$") then return nil end
  return { host = host, port = tonumber(port), path = path }
end

--- POST /_sandbox/webhooks: true, or nil and what is wrong.
function Hooks:configure(body)
  if type(body) ~= "table" or type(body.url) ~= "string" or type(body.secret) ~= "string" or body.secret == "" then
    return nil, 'send {"url": "http://127.0.0.1:PORT/path", "secret": "a non-empty string"}'
  end
  local target = _parse_url(body.url)
  if not target then return nil, "url: an http:// URL with an IPv4 address or localhost, and a path" end
  local timeout = body.timeout_ms == nil and TIMEOUT_MS or tonumber(body.timeout_ms)
  if not timeout or timeout < 1 or timeout > MAX_TIMEOUT_MS or timeout ~= math.floor(timeout) then
    return nil, "timeout_ms: a whole number of milliseconds from 1 to " .. MAX_TIMEOUT_MS
  end
  target.timeout_ms = timeout
  self.url, self.target, self.secret = body.url, target, body.secret
  self.deliveries, self.count = {}, 0
  return true
end

function Hooks:clear()
  self.url, self.target, self.secret = nil, nil, nil
  self.deliveries, self.count = {}, 0
end

function Hooks:state()
  return { url = self.url or util.null, deliveries = util.array(self.deliveries) }
end

local function _record(self, d)
  local list = self.deliveries
  if #list >= KEEP then table.remove(list, 1) end
  list[#list + 1] = d
end

-- HMAC-SHA256 of body under secret, base64url without padding, to cb(sig)
-- (nil when openssl could not run).
local function _sign(body, secret, cb)
  local hex = gsub(secret, ".", function(c) return format("%02x", byte(c)) end)
  local stdin, stdout = uv.new_pipe(false), uv.new_pipe(false)
  local out, exited, eof, code = {}, false, false, nil
  local function done()
    if not (exited and eof) then return end
    if not stdout:is_closing() then stdout:close() end
    local mac = concat(out)
    if code ~= 0 or #mac ~= 32 then return cb(nil) end
    cb((gsub(gsub(gsub(util.b64encode(mac), "+", "-"), "/", "_"), "=", "")))
  end
  local proc = uv.spawn("openssl", {
    args = { "dgst", "-sha256", "-mac", "HMAC", "-macopt", "hexkey:" .. hex, "-binary" },
    stdio = { stdin, stdout, nil },
  }, function(status)
    code, exited = status, true
    done()
  end)
  if not proc then
    stdin:close()
    stdout:close()
    return cb(nil)
  end
  stdout:read_start(function(err, chunk)
    if chunk then out[#out + 1] = chunk return end
    if err then code = -1 end
    eof = true
    done()
  end)
  stdin:write(body)
  stdin:shutdown(function() stdin:close() end)
  proc:unref()
end

-- One POST to the receiver; the delivery record gets its status or error.
local function _send(target, d, body, signature, t0)
  local tcp = uv.new_tcp()
  local timer = uv.new_timer()
  local got = {}
  local function finish(err)
    if d.status or d.error then return end
    if err then d.error = err else d.status = tonumber(concat(got):match("^HTTP/%d%.%d (%d%d%d)")) end
    d.answered_ms = (uv.hrtime() - t0) / 1e6
    if d.status == nil and d.error == nil then d.error = "no HTTP answer" end
    timer:stop()
    if not timer:is_closing() then timer:close() end
    if not tcp:is_closing() then tcp:close() end
  end
  timer:start(target.timeout_ms, 0, function() finish("timeout") end)
  local request = concat({
    format("POST %s HTTP/1.1", target.path), format("Host: %s:%d", target.host, target.port),
    "Content-Type: application/json", "User-Agent: kombo-sandbox", "Connection: close",
    format("Content-Length: %d", #body), "X-Kombo-Signature: " .. signature, "", body,
  }, "\r\n")
  tcp:connect(target.host, target.port, function(cerr)
    if cerr then return finish("connect: " .. cerr) end
    tcp:write(request)
    tcp:read_start(function(rerr, chunk)
      if rerr then return finish("read: " .. rerr) end
      if chunk then
        got[#got + 1] = chunk
        if concat(got):find("\r\n", 1, true) then finish() end
      else
        finish()
      end
    end)
  end)
end

--- Sign and post one event (a table with id, type, data).
function Hooks:send(event)
  if not self.target then return end
  local body = util.encode(event)
  local d = { id = event.id, type = event.type, body = body }
  _record(self, d)
  local target = self.target
  _sign(body, self.secret, function(signature)
    if not signature then
      d.error = "openssl could not sign (install Debian package openssl)"
      return
    end
    d.signature = signature
    _send(target, d, body, signature, self.t0)
  end)
end

local function _integration_fields(db, id)
  local i = platform.integration(db, id)
  if not i then return nil end
  return i, { integration_id = i.id, integration_tool = i.tool, integration_category = i.category }
end

--- After the answer to an API request went out: the events it causes.
--- `answer` is the JSON text of the answer, `log_url` where the request's record is.
function Hooks:after(db, req, status, answer, log_url)
  if not self.target or req.method == "GET" or status < 200 or status > 299 then return end
  local payload = util.decode(answer)
  if type(payload) ~= "table" then return end
  local i, data = _integration_fields(db, req.headers["x-integration-id"])
  if not i then return end
  local rel = sub(req.path, 5)
  if rel == "force-sync" then
    local answered = payload.data
    local sync = platform.sync(db, i.id)
    if type(answered) ~= "table" or answered.already_queued ~= false or not sync then return end
    data.sync_id, data.sync_state = sync.id, "SUCCEEDED"
    data.sync_started_at, data.sync_ended_at = util.iso(sync.at), util.iso(sync.ends)
    data.sync_duration_seconds = math.floor((sync.ends - sync.at) / 1000)
    data.end_user = { organization_name = i.organization, creator_email = i.creator_email or util.null,
      origin_id = i.origin_id or util.null }
    data.log_url = log_url
    -- Sent when the sync ends, if these hooks still have a target then
    -- (not after a DELETE, nor a reset, which clears them); the timer does
    -- not keep the sandbox running.
    http.after(math.max(0, sync.ends - util.now_ms()), function()
      if self.target then self:_event("sync-finished", data) end
    end):unref()
    return
  end
  local models = MODELS[rel:match("/([^/]+)$") or ""] or MODELS[rel:match("^[^/]+/[^/]+") or ""]
  if not models then return end
  local list = util.array({})
  for k = 1, #models do list[k] = { name = models[k] } end
  data.changed_models = list
  return self:_event("data-changed", data)
end

function Hooks:_event(kind, data)
  self.count = self.count + 1
  self:send({ id = format("sandbox-event-%d", self.count), type = kind, data = data })
end

return _M
