-- One call of an operation: build the exchange, run its attempts through
-- the driver, and turn the final answer into a result or an error object.
--
-- Whether to try again, how long to wait first and how long an attempt
-- may take are the C policy's answers (policy:decide, policy:timeout);
-- what a failure is comes from the driver, classified by the table in
-- csrc/failure.c. Nothing here performs I/O or waits: the driver does.

local core = require("kombo.core")
local errors = require("kombo.errors")
local meta = require("kombo.meta")
local drivers = require("kombo.drivers")
local governor = require("kombo.governor")
local compat = require("kombo.compat")
compat.interpreted_module()

local type, pcall, tostring, pairs = type, pcall, tostring, pairs
local now_ms, time_ms, json_decode, parse_headers = core.now_ms, core.time_ms, core.json_decode, core.headers
local random, find, lower = math.random, string.find, string.lower

local _M = {}

-- libcurl writes a request's head (its request line and header lines) into
-- one buffer it bounds (DYN_HTTP_REQUEST, 1 MiB) and reports a longer head
-- as out of memory. Refusing it here names what made it long, before
-- anything is sent; the room left is for the lines libcurl adds itself
-- (Host, Accept-Encoding, Content-Length, a proxy's).
-- The least time a retry is given: less cannot reach a server across a
-- network, let alone answer.
local MIN_RETRY_MS = 25

local MAX_HEAD_BYTES = 1024 * 1024 - 16 * 1024
local REDACTED = "[REDACTED]"
local NO_OPTS = {} -- a call without options; only ever read

local function _log(client, level, message, fields)
  local logger = client._logger
  if logger then pcall(logger, level, message, fields) end
end
_M.log = _log
--- What stands for a key sent wherever an answer held it.
_M.REDACTED = REDACTED

-- Sets extra's headers in h, each replacing the one of h with the same
-- name in any case, so a name is sent once.
local function _merge(h, extra)
  for k, v in pairs(extra) do
    local name = lower(k)
    for old in pairs(h) do
      if old ~= k and lower(old) == name then h[old] = nil end
    end
    h[k] = v
  end
end

-- The headers a hook or a logger may see: everything but Authorization.
-- Every driver sends these lines as they are; a header of the options
-- replaces one of these by its name.
local function _visible_headers(client, req, integration_id)
  local h = {
    ["User-Agent"] = client._user_agent,
    ["Accept"] = "application/json",
    ["X-Integration-Id"] = integration_id,
  }
  if req.body then h["Content-Type"] = "application/json" end
  if client._headers then _merge(h, client._headers) end
  local extra = req.opts and req.opts.headers
  if extra then _merge(h, extra) end
  return h
end

-- Headers the SDK makes from an option or the body: one given as a header
-- would be sent beside or instead of it. An Authorization there would also
-- reach hooks, which never see the key, and escape the redaction of keys a
-- server reflects; an integration there would escape the count of its
-- writes in flight; a length of its own would disagree with the body's
-- framing.
local OWNED = {
  authorization = "not a header here: the key goes in api_key (the SDK sends it and keeps it out of logs)",
  ["x-integration-id"] = "not a header here: the integration goes in integration_id (kombo.new's or the call's),"
    .. " which also counts its writes in flight",
  ["content-length"] = "not a header here: the transport frames the body itself",
  ["transfer-encoding"] = "not a header here: the transport frames the body itself",
}

--- owned(name) -> what is expected instead, when the SDK sends header
-- `name` itself; nil for any other name.
function _M.owned(name)
  return OWNED[lower(name)]
end

-- The request's header lines. The options' headers were checked when they
-- were given; a before_request hook may have changed them since, so then
-- each is checked again (core.header_ok, the one rule) before anything
-- can smuggle in a header.
local function _header_lines(headers, api_key, hooked, body)
  -- "Expect:" (empty) keeps libcurl from holding a large body back for a
  -- 100 Continue that costs a round trip.
  local lines = { "Authorization: Bearer " .. api_key }
  if body then lines[2] = "Expect:" end
  for k, v in pairs(headers) do
    if hooked then
      local t = type(v)
      if type(k) ~= "string" or not core.header_ok(k, "") then
        return nil, "headers[" .. tostring(k) .. "]", "a header name made of token characters"
      end
      if (t ~= "string" and t ~= "number") or not core.header_ok(k, tostring(v)) then
        return nil, "headers." .. k, "a string without CR, LF or NUL"
      end
      -- The hook's table holds the SDK's own X-Integration-Id, which it
      -- may change, as any header it sees.
      local name = lower(k)
      if OWNED[name] and name ~= "x-integration-id" then return nil, "headers." .. k, OWNED[name] end
    end
    lines[#lines + 1] = k .. ": " .. tostring(v)
  end
  return lines
end

-- What the header lines take in the request's head.
local function _bytes(lines)
  local n = 0
  for i = 1, #lines do n = n + #lines[i] + 2 end
  return n
end

-- The header lines of a call nothing can change (no before_request hook,
-- no headers option of the client or the call) depend only on the
-- integration, the key and whether there is a body: made once and reused
-- (drivers only read them). Bounded: past FIXED_MAX integrations the
-- cache starts again.
local FIXED_MAX = 64
local function _fixed_lines(client, req, integration_id, api_key)
  local cache = client._fixed_lines
  if not cache or cache.n >= FIXED_MAX then
    cache = { n = 0, [true] = {}, [false] = {} }
    client._fixed_lines = cache
  end
  local by, id = cache[req.body ~= nil], integration_id or false
  local e = by[id]
  if e and e.key == api_key then return e.lines, e.bytes end
  local lines = _header_lines(_visible_headers(client, req, integration_id), api_key, false, req.body)
  if not e then cache.n = cache.n + 1 end
  e = { key = api_key, lines = lines, bytes = _bytes(lines) }
  by[id] = e
  return lines, e.bytes
end

-- A head too long for libcurl (`bytes` of header lines beside the URL), as
-- the error of what is most of it: the URL (a server's cursor ends the
-- walk; the caller's values are theirs to shorten), the key or the other
-- headers.
local function _too_long(op, req, url, api_key, bytes)
  local others = bytes - #api_key
  local field, what = "params", "values"
  if #api_key > #url and #api_key > others then
    field, what = "api_key", "a key"
  elseif others > #url then
    field, what = "headers", "header values"
  elseif req.server_cursor then
    return meta.set(errors.new({
      kind = "pagination", reason = "cursor_too_long", operation = op.name, attempts = 0,
      message = "the server's next cursor makes a URL too long for a request (at most " .. MAX_HEAD_BYTES
        .. " bytes with its headers); the walk cannot go on",
    }), { attempts = 0, elapsed_ms = 0 })
  else
    -- The query parameter that is most of the URL, where one is.
    local longest = #req.path
    for name, value in (req.query or ""):gmatch("([^&=]+)=([^&]*)") do
      if #value > longest then field, what, longest = name, "a value", #value end
    end
  end
  return errors.invalid(field, ("%s short enough for a request whose URL and header lines take at most %d bytes"
    .. " (libcurl's bound): these take %d"):format(what, MAX_HEAD_BYTES, #url + bytes), op.name)
end

-- The integration a before_request hook left in the headers: a write it
-- sends for another integration counts among that one's writes in flight.
local function _sent_integration(headers)
  for k, v in pairs(headers) do
    if lower(k) == "x-integration-id" then return tostring(v) end
  end
end

-- Every API key this client has sent, the string or what its function
-- returned, so a server that reflects one finds it redacted.
-- The most recent few are kept: a key function that rotates keys must not
-- grow the list without bound.
-- Each kept lower-cased beside it, for header names (_redact_string).
local MAX_KEYS = 8
local function _remember_key(client, key)
  local keys = client._sent_keys
  if not keys then keys = { lowered = {} }; client._sent_keys = keys end
  for i = 1, #keys do if keys[i] == key then return end end
  if #keys == MAX_KEYS then
    table.remove(keys, 1)
    table.remove(keys.lowered, 1)
  end
  keys[#keys + 1] = key
  keys.lowered[#keys] = lower(key)
end

-- lowered: s is a header's name, which comes lower-cased, so each key is
-- looked for lower-cased.
local function _redact_string(client, s, lowered)
  local keys = client._sent_keys
  local list = lowered and keys.lowered or keys
  for j = 1, #list do
    local key = list[j]
    local i = #s >= #key and find(s, key, 1, true)
    while i do
      s = s:sub(1, i - 1) .. REDACTED .. s:sub(i + #key)
      i = s:find(key, i + #REDACTED, true)
    end
  end
  return s
end

--- holds_key(client, s) -> whether s holds a key the client has sent.
function _M.holds_key(client, s)
  return client._sent_keys ~= nil and _redact_string(client, s) ~= s
end

-- Renames every key of t that holds a key sent (lowered as above).
local function _redact_names(client, t, lowered)
  local renamed
  for k in pairs(t) do
    if type(k) == "string" and _redact_string(client, k, lowered) ~= k then
      renamed = renamed or {}
      renamed[#renamed + 1] = k
    end
  end
  for i = 1, renamed and #renamed or 0 do
    local k = renamed[i]
    t[_redact_string(client, k, lowered)], t[k] = t[k], nil
  end
end

-- Redacts in place every string value of t (headers, error fields), and
-- for headers every name: a server may echo the key in one.
local function _redact(client, t, headers)
  if not t then return end
  for k, v in pairs(t) do
    if type(v) == "string" then
      local r = _redact_string(client, v)
      if r ~= v then t[k] = r end
    end
  end
  if headers then _redact_names(client, t, true) end
end

local function _api_key(client)
  local key = client._api_key
  if type(key) == "function" then
    local ok, v = pcall(key)
    if not ok or type(v) ~= "string" or v == "" then
      return nil, errors.invalid("api_key", "the api_key function to return a non-empty string")
    end
    key = v
  end
  -- The key of the call before was checked and remembered then.
  if key == client._last_key then return key end
  if not core.header_ok("Authorization", key) then
    return nil, errors.invalid("api_key", "a key without CR, LF or NUL")
  end
  _remember_key(client, key)
  client._last_key = key
  return key
end

-- An answer's headers as a table. libcurl's drivers hand over the raw
-- block (res.head), parsed the first time something reads it.
local function _headers(res)
  local h = res.headers
  if h == nil and res.head then h = parse_headers(res.head); res.headers = h end
  return h
end

-- The headers kombo.meta shows for a result. A block that holds none of
-- the keys sent is parsed only if kombo.meta is asked (meta.lua); one
-- that holds a key, in any case (names come lower-cased), is parsed now,
-- to be redacted.
local function _meta_headers(client, m, res)
  local head = res.headers == nil and res.head
  if head then
    local lowered = lower(head)
    if _redact_string(client, lowered, true) == lowered then return meta.later(m, head) end
  end
  m.headers = _headers(res)
  _redact(client, m.headers, true)
end

-- Every string of a decoded value, keys too, with the keys sent redacted.
-- The text is decoded first: replacing a key in the raw JSON would also
-- change every id, date or number a short key happens to be part of.
local function _redact_value(client, t, depth)
  if depth > 1100 then return end -- deeper than the decoder goes
  for k, v in pairs(t) do
    if type(v) == "string" then
      local r = _redact_string(client, v)
      if r ~= v then t[k] = r end
    elseif type(v) == "table" then
      _redact_value(client, v, depth + 1)
    end
  end
  _redact_names(client, t)
end

-- Turns the final HTTP answer into (result) or (nil, err fields). A driver
-- may have decoded a 2xx body already (res.json, asked for by req.json);
-- libcurl's leaves a body any of whose strings holds the key it sent to
-- this, whose decoded value is then redacted, so no value of a result holds
-- the key. Only the decoder finds a key written escaped (\u0073k_..., \/ for
-- a slash), and only in a text with a backslash; a text that still decodes
-- to a key once the plain ones are redacted is not kept.
local function _decode(client, res, null_as_nil)
  local status, value = res.status, res.json
  if value == nil then
    local body = res.body
    local redacted = _redact_string(client, body)
    local keys = (redacted ~= body or find(body, "\\", 1, true)) and client._sent_keys or nil
    local held
    value, held = json_decode(body, null_as_nil, nil, keys)
    if held == true then
      if type(value) == "table" then _redact_value(client, value, 0) else value = _redact_string(client, value) end
      local again, still = json_decode(redacted, false, nil, keys)
      if again == nil or still == true then redacted = REDACTED .. " (the body held the API key, escaped)" end
    end
    res.body = redacted
  end
  if status >= 200 and status < 300 then
    if type(value) ~= "table" or value.status == nil then
      local what = value == nil and "not valid JSON" or "JSON without a status field"
      return nil, { kind = "decode", message = "response body is " .. what }
    end
    return value
  end
  local e = type(value) == "table" and type(value.error) == "table" and value.error or {}
  local function str(v) return type(v) == "string" and v or nil end
  return nil, {
    kind = "api",
    code = str(e.code), title = str(e.title),
    message = str(e.message) or ("HTTP " .. status),
    log_url = str(e.log_url),
  }
end

--- Runs req (from build.request, with op/opts/policy attached) to the end.
function _M.run(client, op, req)
  if client._closed then
    return nil, errors.invalid("client", "an open client: this one was closed by client:close();"
      .. " make another with kombo.new", op.name)
  end
  -- Inside nginx, a phase without cosockets: said before anything is
  -- built, and returned (raised there, a finalizer's pcall may not save
  -- the request: drivers/ngx.lua).
  local refused = drivers.refusal("an HTTP call")
  if refused then refused.operation = op.name; return nil, refused end
  local opts = req.opts or NO_OPTS
  -- Operations the document gives no X-Integration-Id (op.integration
  -- false: /check-api-key, /connect/..., /lms/...) need none and are not
  -- sent the client's; one the call names is sent all the same (the LMS
  -- endpoints read one integration's data).
  local integration_id = opts.integration_id
  if op.integration ~= false then
    integration_id = integration_id or client._integration_id
    if not integration_id then
      return nil, errors.invalid("integration_id", "a string (in kombo.new or the call's opts)", op.name)
    end
  end
  local api_key, kerr = _api_key(client)
  if not api_key then kerr.operation = op.name; return nil, kerr end

  local base = opts.server_url and opts.server_url:gsub("/+$", "") or client._base_url
  local url = base .. req.path
  if req.query ~= "" then url = url .. "?" .. req.query end
  -- Before a hook sees the request: no header makes it short enough.
  if #url > MAX_HEAD_BYTES then return nil, _too_long(op, req, url, api_key, #api_key) end
  local method = op.method
  local hooks = client._hooks
  local fixed = not hooks.before_request and not client._headers and not opts.headers
  -- What hooks see; nobody else needs it.
  local exchange = (not fixed or hooks.after_success or hooks.after_error) and {
    operation = op.name, method = method, url = url,
    headers = _visible_headers(client, req, integration_id), body = req.body,
  } or nil
  local policy = req.policy or client._policy
  local read = core.is_read(method)
  local timeout = opts.timeout_ms or (read and client._read_timeout_ms or client._write_timeout_ms)
  -- Writes of an integration take a place among its writes in flight.
  local governed = not read and integration_id
  -- req.driver: a page fetched ahead of its walk (page.lua) yields its waits.
  local driver = req.driver or drivers.current()
  local started = now_ms()
  local attempt, res, fail = 0, nil, nil -- luacheck: ignore 311
  local detail -- why no other attempt was made, for the log

  while true do
    local attempt_timeout = policy:timeout(timeout, now_ms() - started)
    -- A retry that max_elapsed_time leaves only a sliver of time would fail
    -- as a timeout whatever the server does, hiding the failure before it:
    -- that one is the answer.
    if not attempt_timeout or (attempt > 0 and attempt_timeout < timeout and attempt_timeout < MIN_RETRY_MS) then
      detail = "max_elapsed_time leaves too little time for another attempt"
      break
    end
    attempt = attempt + 1
    local lines, field, expected, bytes
    if fixed then
      lines, bytes = _fixed_lines(client, req, integration_id, api_key)
    else
      if hooks.before_request then hooks.before_request(exchange) end
      if type(exchange.headers) ~= "table" then
        return nil, errors.invalid("headers", "a table of header names and values (the before_request hook left "
          .. type(exchange.headers) .. ")", op.name)
      end
      lines, field, expected = _header_lines(exchange.headers, api_key, hooks.before_request ~= nil, req.body)
      if not lines then return nil, errors.invalid(field, expected, op.name) end
      bytes = _bytes(lines)
    end
    if #url + bytes > MAX_HEAD_BYTES then return nil, _too_long(op, req, url, api_key, bytes) end
    local place
    if governed then
      local waited
      place, waited = governor.take(client, hooks.before_request and _sent_integration(exchange.headers)
        or integration_id, driver, attempt_timeout)
      if not place then return nil, errors.invalid("tasks", waited, op.name) end
      -- A write's budget starts when it first has a place (a bulk job's
      -- last write may wait long for one); waiting for a place again
      -- before a retry counts against it, not against the attempt.
      if waited and attempt == 1 then
        started = now_ms()
      elseif waited then
        attempt_timeout = policy:timeout(timeout, now_ms() - started)
        if not attempt_timeout then
          governor.release(place)
          attempt = attempt - 1
          detail = "max_elapsed_time was used up waiting for a place among the writes in flight"
          break
        end
      end
    end
    local attempt_started = now_ms()
    if client._logger then
      _log(client, "debug", "request", { operation = op.name, method = method, url = url, attempt = attempt })
    end
    -- A hook, the logger or the api_key function may have closed the
    -- client: close is final, so nothing more goes out.
    if client._closed then
      if place then governor.release(place) end
      return nil, errors.invalid("client", "an open client: client:close() was called during this call"
        .. " (by a hook, the logger or the api_key function); nothing more was sent", op.name)
    end
    local waited
    res, fail, waited = driver.send(client, {
      method = method, url = url, headers = lines, body = req.body, timeout_ms = attempt_timeout,
      json = true, null_as_nil = client._null_as_nil,
    })
    if place then governor.release(place, res and _headers(res)) end
    -- Closed while the request was out (by a finalizer): its transfer was
    -- stopped. No other attempt; the failure stays what it was (a write's
    -- may have reached the server), its message saying why.
    if fail and client._closed then
      fail = { kind = fail.kind, reason = fail.reason, sent = fail.sent, message = "client:close() was called"
        .. " while this call's request was out (by a finalizer, a hook or the logger): " .. tostring(fail.message) }
      break
    end
    -- A prefetched answer (page.lua) that sat unread while the caller
    -- worked: that time is not the call's.
    if waited then started, attempt_started = started + waited, attempt_started + waited end
    -- A 2xx ends the attempts with no retry decision: a body that then
    -- fails to decode has no policy sentence, not the last retry's.
    if res and res.status < 300 then detail = nil; break end
    local now = now_ms()
    -- The policy's answer is a sentence (detail); `reason` in what is
    -- logged is the one word err.reason would have, as everywhere else.
    local delay
    delay, detail = policy:decide({
      method = method, attempt = attempt, elapsed_ms = now - started, attempt_ms = now - attempt_started,
      status = res and res.status, failure = fail and fail.reason, sent = fail and fail.sent,
      headers = res and _headers(res), now_ms = time_ms(), random = random(),
    })
    if not delay then
      if attempt > 1 then
        _log(client, "warn", "giving up", {
          operation = op.name, attempt = attempt, detail = detail,
          status = res and res.status, reason = fail and fail.reason,
        })
      end
      break
    end
    _log(client, "warn", "retrying", {
      operation = op.name, attempt = attempt, detail = detail, delay_ms = delay,
      status = res and res.status, reason = fail and fail.reason,
    })
    driver.sleep(delay)
  end

  local m = { status = res and res.status, attempts = attempt, elapsed_ms = now_ms() - started }
  local result, e
  if res then
    result, e = _decode(client, res, client._null_as_nil)
  elseif fail then
    e = { kind = fail.kind, reason = fail.reason, message = fail.message }
  else
    e = { kind = "timeout", reason = "timeout", message = "max_elapsed_time was used up before the attempt" }
  end
  if result then
    _meta_headers(client, m, res)
    meta.set(result, m)
    if hooks.after_success then hooks.after_success(exchange, result) end
    return result
  end
  e.operation, e.attempts, e.status = op.name, attempt, m.status
  if res then
    m.headers = _headers(res)
    _redact(client, m.headers, true)
    e.headers, e.body = m.headers, res.body
  end
  _redact(client, e)
  local err = meta.set(errors.new(e), m)
  _log(client, "info", "failed", {
    operation = op.name, kind = err.kind, status = err.status, attempts = attempt, detail = detail,
  })
  if hooks.after_error then hooks.after_error(exchange, err) end
  return nil, err
end

function _M.close(client)
  client._closed = true
  drivers.close(client)
end

return _M
