-- The client: validates options, holds configuration, binds each group of
-- operations (client.ats, client.hris, ...) on first use, and picks a driver
-- for each call.

local compat = require("kombo.compat")
compat.interpreted_module()
local core = require("kombo.core")
local errors = require("kombo.errors")
local operations = require("kombo.operations")
local build = require("kombo.build")
local schema = require("kombo.schema")
local attempts = require("kombo.attempts")
local page = require("kombo.page")

local type, pairs, ipairs, tostring, tonumber, setmetatable = type, pairs, ipairs, tostring, tonumber, setmetatable
local invalid = errors.invalid

local _M = { VERSION = "0.1.0" }

-- The defaults of the options that bound a call's resources; README
-- "Configuration" gives the reasons.
_M.DEFAULTS = {
  -- A 250-item page with remote_data is a few MB; a compressed bomb must not
  -- become gigabytes in the process.
  max_response_bytes = 128 * 1024 * 1024,
  -- Transfers a client keeps in flight at once under kombo.spawn; the rest
  -- queue, so thousands of tasks fit under a 1,024 file-descriptor limit.
  max_connections = 32,
  -- Kombo's own cap on an integration's writes in flight at once.
  max_in_flight_writes = 30,
  -- Per attempt: a page read answers in seconds; a write may wait on the
  -- ATS behind Kombo (an upload, a slow vendor) for minutes.
  read_timeout_ms = 60000,
  write_timeout_ms = 300000,
  -- client:sync asks again for what changed this long before its
  -- watermark: clocks that disagree, and changes that become visible a
  -- little after their changed_at.
  overlap_ms = 300000,
}
-- libcurl holds timeouts in a C long of milliseconds; past this a value
-- would wrap around into a tiny timeout.
local MAX_TIMEOUT_MS = 2147483647

local SERVERS = {
  eu = "https://api.kombo.dev/v1",
  us = "https://api.us.kombo.dev/v1",
}

-- Every option kombo.new accepts, with the check it must pass.
local OPTION_TYPES = {
  api_key = "string|function", integration_id = "string", server = "string",
  server_url = "string", timeout_ms = "number", retries = "table",
  user_agent = "string", logger = "function", hooks = "table",
  verify_tls = "boolean", ca_file = "string", max_response_bytes = "number",
  headers = "table", max_connections = "number", null_as_nil = "boolean",
  max_in_flight_writes = "number", shared_dict = "string",
  prefetch = "boolean", allow_http = "boolean",
}
local CALL_OPTION_TYPES = {
  timeout_ms = "number", retries = "table", server_url = "string",
  headers = "table", validate = "boolean", integration_id = "string",
  prefetch = "boolean",
}
local HOOKS = { before_request = true, after_success = true, after_error = true }

-- " (did you mean timeout_ms?)" for a name close to a known one.
local function _suggestion(name, known)
  if type(name) ~= "string" then return "" end
  local names = {}
  for n in pairs(known) do names[#names + 1] = n end
  table.sort(names)
  return build.did_you_mean(name, names)
end

-- Options are read by field, checked by pairs: a table with a metatable
-- could hand out through __index values no check has seen.
local function _check_plain(field, t)
  if getmetatable(t) ~= nil then return invalid(field, schema.PLAIN) end
end

local function _check_types(opts, known, prefix)
  if type(opts) ~= "table" then return invalid("opts", "a table") end
  local err = _check_plain("opts", opts)
  if err then return err end
  for k, v in pairs(opts) do
    local want = known[k]
    if not want then
      return invalid(prefix .. tostring(k), "not a known option" .. _suggestion(k, known))
    end
    local t = type(v)
    if not (want == t or want:find(t, 1, true)) then
      return invalid(prefix .. k, "a " .. want:gsub("|", " or ") .. ", got " .. t)
    end
  end
end

-- The value of header `name`, given as option `field` (core.header_ok is
-- the one rule: names are HTTP tokens, values hold no CR, LF or NUL).
local function _check_header_value(field, v, name)
  if type(v) ~= "string" then return invalid(field, "a string") end
  if not core.header_ok(name, v) then
    return invalid(field, "a header value without CR, LF or NUL")
  end
end

local function _check_headers(field, headers)
  local err = _check_plain(field, headers)
  if err then return err end
  for name, value in pairs(headers) do
    if type(name) ~= "string" or not core.header_ok(name, "") then
      return invalid(field, "header names made of token characters, got " .. tostring(name))
    end
    err = _check_header_value(field .. "." .. name, value, name)
    if err then return err end
    local owned = attempts.owned(name)
    if owned then return invalid(field .. "." .. name, owned) end
  end
end

-- Hosts whose traffic stays on this machine: 127.0.0.0/8, ::1, localhost.
local function _loopback(host)
  host = host:lower()
  if host == "localhost" or host == "[::1]" then return true end
  local a, b, c, d = host:match("^(127)%.(%d+)%.(%d+)%.(%d+)$")
  return a ~= nil and tonumber(b) <= 255 and tonumber(c) <= 255 and tonumber(d) <= 255
end

local function _check_url(field, url, allow_http)
  local scheme, host, port = url:match("^(https?)://([%w%.%-]+):?(%d*)/?[%w%-%._~/%%]*$")
  if not scheme then scheme, host, port = url:match("^(https?)://(%[[%x:%.]+%]):?(%d*)/?[%w%-%._~/%%]*$") end
  if not scheme then
    return invalid(field, "an http(s) URL such as http://127.0.0.1:4010/v1, got " .. url)
  end
  if port ~= "" and not (#port <= 5 and tonumber(port) >= 1 and tonumber(port) <= 65535) then
    return invalid(field, "a URL whose port is 1 to 65535, got " .. url)
  end
  -- Every request carries the API key: over plain http anyone on the way
  -- reads it. Turning TLS off takes an option named for it.
  if scheme == "http" and not allow_http and not _loopback(host) then
    return invalid(field, "an https URL, or http to a loopback host (127.0.0.0/8, ::1, localhost); got " .. url
      .. ", which would send the API key unencrypted to " .. host .. " (kombo.new's allow_http = true sends it so)")
  end
end

local function _check_positive(field, v)
  if v ~= v or v <= 0 or v > MAX_TIMEOUT_MS then
    return invalid(field, "a positive number of milliseconds, at most " .. MAX_TIMEOUT_MS)
  end
end

-- A whole number in [min, 2^53]: NaN, infinities and fractions are refused.
local function _check_whole(field, v, min, what)
  if v ~= v or v < min or v > 2 ^ 53 or v % 1 ~= 0 then
    return invalid(field, what)
  end
end

-- The lua_shared_dict that counts writes in flight across nginx workers.
local function _check_shared_dict(name)
  local ngx = rawget(_G, "ngx")
  if type(ngx) ~= "table" or type(ngx.shared) ~= "table" then
    return invalid("shared_dict", "nothing outside OpenResty: it names a lua_shared_dict of nginx.conf")
  end
  if ngx.shared[name] == nil then
    return invalid("shared_dict", "the name of a lua_shared_dict declared in nginx.conf (there is none called "
      .. name .. ")")
  end
end

local function _retry_policy(retries)
  local policy, field, expected = core.retry_policy(retries or {})
  if not policy then return nil, invalid(field, expected) end
  return policy
end

local function _check_common(opts, allow_http)
  local err
  if opts.timeout_ms then err = _check_positive("timeout_ms", opts.timeout_ms) end
  if not err and opts.server_url then err = _check_url("server_url", opts.server_url, allow_http) end
  if opts.integration_id == "" then
    -- No header would be sent: a call that needs one would fail at the server.
    err = err or invalid("integration_id", "a non-empty string")
  elseif not err and opts.integration_id then
    err = _check_header_value("integration_id", opts.integration_id, "X-Integration-Id")
  end
  if not err and opts.headers then err = _check_headers("headers", opts.headers) end
  return err
end

local Client = {}

-- Validates per-call options and params (a server_url under the client's
-- allow_http); returns the request to send.
local function _prepare(op, params, opts, allow_http)
  local per_call = nil
  if opts ~= nil then
    local err = _check_types(opts, CALL_OPTION_TYPES, "opts.") or _check_common(opts, allow_http)
    if err then err.operation = op.name; return nil, err end
    per_call = opts
  end
  local req, err = build.request(op, params, not (per_call and per_call.validate == false))
  if not req then return nil, err end
  req.op = op
  req.opts = per_call
  if per_call and per_call.retries then
    local policy, perr = _retry_policy(per_call.retries)
    if not policy then perr.operation = op.name; return nil, perr end
    req.policy = policy
  end
  return req
end

-- The groups a client has (client.ats, client.hris, ...).
local GROUPS = {}
for _, g in ipairs(operations.groups) do GROUPS[g] = true end

-- An unknown name is a bug in the caller's program: it raises at once,
-- naming the closest operation, instead of "attempt to call a nil value".
local function _unknown_operation(group, names)
  return function(_, key)
    if type(key) ~= "string" then return nil end
    local best = build.closest(key, names)
    error(("kombo: client.%s has no operation %s%s (docs/operations.md lists them all)"):format(group, key,
      best and ("; did you mean " .. best .. "?") or ""), 2)
  end
end

-- One group's operations for this client, by name and alias (one function
-- for both). The group's table is loaded here, the first time any client
-- touches the group.
local function _bind_operations(self, group)
  local bound, names = {}, {}
  for _, op in ipairs(operations.load(group)) do
    local is_paginated = op.paginated
    local function fn(this, params, opts)
      -- client.ats.get_jobs{...} (a dot, not a colon) passes the params as
      -- `this` and drops them: say so rather than send an unfiltered call.
      if this ~= bound then
        return nil, invalid("call", ("a method call with a colon: client.%s:%s(params, opts), not client.%s.%s(...)")
          :format(group, op.name, group, op.name), op.name)
      end
      local req, err = _prepare(op, params, opts, self._allow_http)
      if not req then return nil, err end
      if is_paginated then return page.first(self, op, req) end
      return attempts.run(self, op, req)
    end
    bound[op.name] = fn
    bound[op.alias] = fn
    names[#names + 1] = op.name
  end
  return setmetatable(bound, { __index = _unknown_operation(group, names) })
end

-- The names a client has, for the one a misspelt name is closest to.
local NAMES = { "close", "sync" }
for _, g in ipairs(operations.groups) do NAMES[#NAMES + 1] = g end

-- client.<group> is bound on first access: a program that only uses
-- client.ats never loads the other groups' tables.
Client.__index = function(self, key)
  local method = Client[key]
  if method ~= nil then return method end
  if GROUPS[key] then
    local bound = _bind_operations(self, key)
    rawset(self, key, bound)
    return bound
  end
  -- The client's own fields start with "_" and are read while unset. Any
  -- other name is a group or method misspelt (client.atz:get_jobs()): it
  -- raises as an unknown operation does, not as "attempt to index a nil value".
  if type(key) ~= "string" or key:sub(1, 1) == "_" then return nil end
  local best = build.closest(key, NAMES)
  error(("kombo: client has no group or method %s%s (the groups: %s)"):format(key,
    best and ("; did you mean " .. best .. "?") or "", table.concat(operations.groups, ", ")), 2)
end

--- kombo.new(opts) -> client | nil, err
function _M.new(opts)
  local err = _check_types(opts, OPTION_TYPES, "")
  if err then return nil, err end
  if opts.api_key == nil or opts.api_key == "" then
    return nil, invalid("api_key", "a non-empty string or a function returning one")
  end
  if type(opts.api_key) == "string" then
    err = _check_header_value("api_key", opts.api_key, "Authorization")
    if err then return nil, err end
  end
  local base = SERVERS.eu
  if opts.server then
    base = SERVERS[opts.server]
    if not base then return nil, invalid("server", 'one of "eu", "us", got "' .. opts.server .. '"') end
  end
  err = _check_common(opts, opts.allow_http)
  if not err and opts.user_agent then err = _check_header_value("user_agent", opts.user_agent, "User-Agent") end
  if not err and opts.max_response_bytes then
    err = _check_whole("max_response_bytes", opts.max_response_bytes, 0,
      "a whole number of bytes >= 0 (0: no limit)")
  end
  if not err and opts.max_connections then
    err = _check_whole("max_connections", opts.max_connections, 1, "a whole number >= 1")
  end
  if not err and opts.max_in_flight_writes then
    err = _check_whole("max_in_flight_writes", opts.max_in_flight_writes, 1,
      "a whole number >= 1 (Kombo refuses more than 30 writes of an integration in flight)")
  end
  if not err and opts.ca_file and (opts.ca_file == "" or opts.ca_file:find("\0", 1, true)) then
    -- libcurl would read the path only up to a NUL: another file than named
    err = invalid("ca_file", "the path of a CA bundle (PEM), non-empty and without NUL")
  end
  if not err and opts.shared_dict then err = _check_shared_dict(opts.shared_dict) end
  if not err and opts.hooks then err = _check_plain("hooks", opts.hooks) end
  if not err and opts.hooks then
    for name, h in pairs(opts.hooks) do
      if not HOOKS[name] then
        err = invalid("hooks." .. tostring(name), "one of before_request, after_success, after_error")
      elseif type(h) ~= "function" then
        err = invalid("hooks." .. name, "a function")
      end
      if err then break end
    end
  end
  if err then return nil, err end
  local policy, perr = _retry_policy(opts.retries)
  if not policy then return nil, perr end

  local self = setmetatable({
    _api_key = opts.api_key,
    _integration_id = opts.integration_id,
    _base_url = (opts.server_url or base):gsub("/+$", ""),
    _read_timeout_ms = opts.timeout_ms or _M.DEFAULTS.read_timeout_ms,
    _write_timeout_ms = opts.timeout_ms or _M.DEFAULTS.write_timeout_ms,
    _policy = policy,
    -- Read on every call: set (false, not nil) so a read never goes
    -- through Client.__index.
    _logger = opts.logger or false,
    _hooks = opts.hooks or {},
    _headers = opts.headers or false,
    _closed = false,
    _max_connections = opts.max_connections or _M.DEFAULTS.max_connections,
    _max_in_flight_writes = opts.max_in_flight_writes or _M.DEFAULTS.max_in_flight_writes,
    _shared_dict = opts.shared_dict,
    _null_as_nil = opts.null_as_nil == true,
    _prefetch = opts.prefetch ~= false,
    _allow_http = opts.allow_http == true,
    _user_agent = opts.user_agent or ("kombo-lua/" .. _M.VERSION .. " (" .. _VERSION
      .. "; libcurl/" .. core.curl_version .. ")"),
    _handle_opts = {
      verify_tls = opts.verify_tls ~= false,
      ca_file = opts.ca_file,
      max_response_bytes = opts.max_response_bytes or _M.DEFAULTS.max_response_bytes,
    },
  }, Client)
  return self
end

--- client:sync(name, params, opts) -> sync | nil, err: an incremental sync
-- of the paginated read `name` ("ats.get_applications"); README
-- "Incremental sync". Loaded on first use.
function Client:sync(name, params, opts)
  if getmetatable(self) ~= Client then
    return nil, invalid("call", "a method call with a colon: client:sync(name, params, opts)")
  end
  return compat.require("kombo.sync").new(self, name, params, opts, _prepare, _M.DEFAULTS)
end

--- client:close(): closes every connection and handle the client holds.
-- It is final: later calls (and pages of earlier ones) return an
-- invalid_request error; a transfer still in flight in a task finishes and
-- then closes its handle. Calling it again does nothing.
function Client:close()
  -- client.close() (a dot): close returns nothing to say it in, so it
  -- raises what an operation would return, as a page's walk does.
  if getmetatable(self) ~= Client then
    error(invalid("call", "a method call with a colon: client:close(), not client.close()"), 0)
  end
  attempts.close(self)
end

return _M
