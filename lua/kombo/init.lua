-- kombo: the Lua SDK for Kombo's unified ATS API.
--
--   local kombo = require("kombo")
--   local client = assert(kombo.new({ api_key = ..., integration_id = ... }))
--   local page = assert(client.ats:get_jobs({ statuses = { "OPEN" } }))
--
-- This file is the public entry point: construction, kombo.null,
-- kombo.meta, the attachment helper, tasks, and the version; kombo.webhooks
-- (lua/kombo/webhooks.lua) is loaded the first time it is read.

local compat = require("kombo.compat")
compat.interpreted_module()
local client = require("kombo.client")
local meta = require("kombo.meta")
local core = require("kombo.core")
local cjson = require("cjson")
local drivers = require("kombo.drivers")

local _M = {
  VERSION = client.VERSION,
  --- JSON null, in results and in bodies you send.
  null = cjson.null,
}

--- kombo.new(opts) -> client | nil, err
_M.new = client.new

-- The environment variables kombo.from_env reads, and the option each sets.
local ENV = {
  { "KOMBO_API_KEY", "api_key" }, { "KOMBO_INTEGRATION_ID", "integration_id" },
  { "KOMBO_SERVER_URL", "server_url" }, { "KOMBO_SERVER", "server" },
}

--- kombo.from_env(opts) -> client | nil, err
-- kombo.new with api_key, integration_id, server_url and server taken from
-- KOMBO_API_KEY, KOMBO_INTEGRATION_ID, KOMBO_SERVER_URL and KOMBO_SERVER
-- where set (empty counts as unset); `opts` adds options and wins over the
-- environment.
function _M.from_env(opts)
  -- Copied by pairs: what a metatable's __index gives would be lost.
  if opts ~= nil and type(opts) ~= "table" then
    return nil, require("kombo.errors").invalid("opts", "a table of options for kombo.new, or nil")
  end
  if opts ~= nil and getmetatable(opts) ~= nil then
    return nil, require("kombo.errors").invalid("opts", "options for kombo.new in " .. require("kombo.schema").PLAIN)
  end
  local o = {}
  for _, e in ipairs(ENV) do
    local v = os.getenv(e[1])
    if v and v ~= "" then o[e[2]] = v end
  end
  for k, v in pairs(opts or {}) do o[k] = v end
  if o.api_key == nil then
    return nil, require("kombo.errors").invalid("api_key",
      "a key: set KOMBO_API_KEY in the environment, or pass api_key to kombo.from_env")
  end
  return client.new(o)
end

--- kombo.iso8601(t) -> "2026-12-01T15:04:05.000Z": os.time() seconds (t,
-- default now) as the UTC date-time the API takes. Date-time parameters and
-- body fields also take such a number directly.
_M.iso8601 = require("kombo.build").iso8601

--- kombo.array(t) -> t marked as a JSON array, so that empty it goes out
-- as [] where the API's schema does not say (passthrough's data,
-- remote_fields, api_options); kombo.array() is a new empty one.
_M.array = require("kombo.build").array

--- kombo.meta(result_or_err) -> { status, headers, attempts, elapsed_ms } | nil
_M.meta = meta.get

--- kombo.spawn(fn, ...) -> task: runs fn(...) as a task; operations
-- inside it yield, not block (inside nginx: a light thread of the
-- request). task:wait() -> fn's results | nil, err (what fn raised).
_M.spawn = drivers.spawn

--- kombo.run() -> true | nil, errors: drive every spawned task to its end
-- (plain Lua; inside nginx it waits for the request's light threads).
-- errors lists what each failed task raised, in spawn order;
-- errors.tasks[i] is the task that raised errors[i].
_M.run = drivers.run

-- kombo.map's default number of items in progress at once: Kombo's own cap
-- on an integration's writes in flight.
local MAP_CONCURRENCY = 30

--- kombo.map(list, fn, opts) -> results | nil, errors, results
-- Calls fn(item, i) for every item of the array `list`, each in a task
-- (a light thread in nginx), at most opts.concurrency (default 30) at once,
-- and waits for all of them: from plain Lua it runs the scheduler itself;
-- inside a task or nginx it yields. results[i] is fn's first result for
-- list[i]. An item fails when fn raises or returns nil and an error;
-- the others go on, and then the answer is nil, errors (errors[i] for each
-- failed i) and the results of the rest.
function _M.map(list, fn, opts)
  local invalid = require("kombo.errors").invalid
  if type(list) ~= "table" then return nil, invalid("list", "an array of items") end
  if type(fn) ~= "function" then return nil, invalid("fn", "a function called as fn(item, i)") end
  if opts ~= nil and type(opts) ~= "table" then return nil, invalid("opts", "a table") end
  local concurrency = opts and opts.concurrency or MAP_CONCURRENCY
  for k in pairs(opts or {}) do
    if k ~= "concurrency" then return nil, invalid("opts." .. tostring(k), "not a known option (concurrency)") end
  end
  if type(concurrency) ~= "number" or concurrency ~= concurrency or concurrency < 1 or concurrency % 1 ~= 0
    or concurrency > 2 ^ 31 then
    return nil, invalid("opts.concurrency", "a whole number >= 1 (how many items run at once)")
  end
  -- Checked before any item is spawned: the items of a map that cannot
  -- wait would be reported failed and still run.
  local refused = drivers.refusal("kombo.map", true)
  if refused then return nil, refused end
  local n = #list
  local results, errs, failed = {}, {}, false
  local last = 0
  -- Each worker takes the next item until none is left; an item runs in a
  -- task of its own, so what it raises stays there (5.1 cannot pcall
  -- across a yield).
  local function worker()
    while last < n do
      last = last + 1
      local i = last
      local r, e = drivers.spawn_owned(fn, list[i], i):wait()
      if r == nil and e ~= nil then errs[i], failed = e, true else results[i] = r end
    end
  end
  local workers = {}
  for w = 1, math.min(concurrency, n) do workers[w] = drivers.spawn_owned(worker) end
  for w = 1, #workers do
    local _, e = workers[w]:wait()
    -- A worker ends only by running out of items, unless waiting itself
    -- could not go on (say, an item waits for the task running the map):
    -- then every item without an outcome has that error.
    if e ~= nil then
      for i = 1, n do
        if results[i] == nil and errs[i] == nil then errs[i], failed = e, true end
      end
    end
  end
  if failed then return nil, errs, results end
  return results
end

local CONTENT_TYPES = {
  pdf = "application/pdf", doc = "application/msword",
  docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  txt = "text/plain", rtf = "application/rtf", odt = "application/vnd.oasis.opendocument.text",
  png = "image/png", jpg = "image/jpeg", jpeg = "image/jpeg", html = "text/html",
}

--- kombo.attachment(path, fields, restrictions) -> attachment table | nil, err
-- Reads a file and returns { name, content_type, data (base64), type },
-- ready for the `attachment` body field. `fields` may set name,
-- content_type and type (default "CV"), non-empty strings without NUL, and
-- nothing else. A path that holds a NUL or is not a readable file
-- (missing, a directory, no permission) is an invalid_request error on
-- field "path".
--
-- `restrictions` are an integration's limits on attachments: what one of
-- the /ats/actions/* reads returns (the result, its `data`, or
-- `data.attachment_restrictions`). With them the file is checked before
-- it is read and encoded: a type the integration does not support, a file
-- larger than its limit for that type (or than the total), or a content
-- type it does not accept is an invalid_request error with `reason`
-- "type_not_supported", "too_large" or "content_type_not_accepted".
-- What the integration leaves unknown (null, or a list of content types
-- without a string) is not checked.

-- The attachment_restrictions table inside what the caller passed, or nil.
local function _restrictions(r)
  if type(r) ~= "table" then return nil end
  if type(r.data) == "table" then r = r.data end
  if r.attachment_restrictions ~= nil then r = r.attachment_restrictions end
  if type(r) ~= "table" then return nil end
  return r
end

-- A limit as text: a whole number without the ".0" a float has on 5.3+,
-- any other number as Lua writes it.
local function _bytes(n)
  return n % 1 == 0 and ("%.0f"):format(n) or tostring(n)
end

-- The restriction `name`/`type` breaks, as an error, or nil.
local function _check_restrictions(r, name, ctype, att_type, size)
  local invalid = require("kombo.errors").invalid
  local function fail(field, reason, expected)
    local err = invalid(field, expected)
    err.reason = reason
    return err
  end
  local t = type(r.types) == "table" and r.types[att_type] or nil
  if type(t) == "table" and t.is_supported == false then
    return fail("type", "type_not_supported", "an attachment type this integration accepts: it takes no "
      .. att_type .. " attachments (attachment_restrictions.types." .. att_type .. ".is_supported is false)")
  end
  local max = type(t) == "table" and t.max_file_size_bytes
  if type(max) == "number" and size > max then
    return fail("path", "too_large", ("a file of at most %s bytes for a %s (this integration's limit): %s has %d")
      :format(_bytes(max), att_type, name, size))
  end
  local total = r.total_size_bytes
  if type(total) == "number" and size > total then
    return fail("path", "too_large", ("a file of at most %s bytes (this integration's limit for all"
      .. " attachments together): %s has %d"):format(_bytes(total), name, size))
  end
  -- Only strings can name a content type: a null or another value among
  -- them is no type the file could have, and a list without one leaves the
  -- types unknown.
  local accepted = {}
  if type(t) == "table" and type(t.accepted_mime_types) == "table" then
    for _, a in ipairs(t.accepted_mime_types) do
      if a == ctype then return nil end
      if type(a) == "string" then accepted[#accepted + 1] = a end
    end
  end
  if accepted[1] ~= nil then
    return fail("content_type", "content_type_not_accepted", ("one of %s for a %s (what this integration"
      .. " accepts), got %s"):format(table.concat(accepted, ", "), att_type, ctype))
  end
  return nil
end

function _M.attachment(path, fields, restrictions)
  local invalid = require("kombo.errors").invalid
  -- The C library reads a path only up to a NUL: another file than the
  -- one named, sent under the name after it.
  if type(path) ~= "string" or path == "" or path:find("\0", 1, true) then
    return nil, invalid("path", "the path of a file to attach, a non-empty string without NUL")
  end
  if fields ~= nil and type(fields) ~= "table" then
    return nil, invalid("fields", "a table of name, content_type and type, or nil")
  end
  local known = { "name", "content_type", "type" }
  for k in pairs(fields or {}) do
    -- A misspelt key would leave its field at the default (a CV) unsaid.
    if k ~= "name" and k ~= "content_type" and k ~= "type" then
      local near = type(k) == "string" and require("kombo.build").closest(k, known)
      return nil, invalid("fields." .. tostring(k), "not a known field"
        .. (near and (" (did you mean " .. near .. "?)") or " (name, content_type, type)"))
    end
  end
  for _, k in ipairs(known) do
    local v = fields and fields[k]
    if v ~= nil and (type(v) ~= "string" or v == "" or v:find("\0", 1, true)) then
      return nil, invalid("fields." .. k, "a non-empty string without NUL")
    end
  end
  if restrictions ~= nil and type(restrictions) ~= "table" then
    return nil, invalid("restrictions", "what an /ats/actions/* read returned (a table), or nil")
  end
  fields = fields or {}
  local f, ferr = io.open(path, "rb")
  if not f then
    return nil, invalid("path", "a readable file (" .. tostring(ferr)
      .. "): check that it exists and that this process may read it")
  end
  -- Opening a directory succeeds on POSIX; reading it fails with EISDIR
  -- (21 on Linux and the BSDs; the message may be translated).
  local first, rerr, code = f:read(1)
  if not first and rerr then
    f:close()
    if code == 21 or tostring(rerr):find("directory", 1, true) then
      return nil, invalid("path", "a file, not a directory (" .. path .. "): pass the path of a file inside it")
    end
    return nil, invalid("path", "a readable file (" .. path .. ": " .. tostring(rerr)
      .. "): check that it exists and that this process may read it")
  end
  local name = fields.name or path:match("([^/\\]+)$")
  local ext = (name:match("%.([%w]+)$") or ""):lower()
  local ctype = fields.content_type or CONTENT_TYPES[ext] or "application/octet-stream"
  local att_type = fields.type or "CV"
  local r = _restrictions(restrictions)
  if r then
    -- The size from the file's end, so an oversized file is refused
    -- before it is read into memory.
    local size = f:seek("end") or 0
    local err = _check_restrictions(r, name, ctype, att_type, size)
    if err then
      f:close()
      return nil, err
    end
  end
  f:seek("set", 0)
  local bytes
  bytes, rerr = f:read("*a")
  f:close()
  if not bytes then
    return nil, invalid("path", "a readable file (" .. path .. ": " .. tostring(rerr)
      .. "): check that it exists and that this process may read it")
  end
  return {
    name = name,
    content_type = ctype,
    data = core.b64encode(bytes),
    type = att_type,
  }
end

-- Modules loaded the first time they are read.
local LAZY = { webhooks = "kombo.webhooks" }
setmetatable(_M, { __index = function(t, k)
  local name = LAZY[k]
  if not name then return nil end
  local m = compat.require(name)
  rawset(t, k, m)
  return m
end })

return _M
