-- Turns the `params` of one call into the request to send, against one entry
-- of lua/kombo/operations.lua: checks every parameter and the body (unless the
-- caller opted out with `validate = false`), then percent-encodes the path and
-- query and writes the body as JSON. Nothing here performs I/O.

require("kombo.compat").interpreted_module()
local type, pairs, ipairs, tostring, tonumber, next = type, pairs, ipairs, tostring, tonumber, next
local setmetatable, getmetatable = setmetatable, getmetatable
local floor = math.floor
local concat, sort = table.concat, table.sort
local format = string.format

local errors = require("kombo.errors")
local schema = require("kombo.schema")

local NULL = require("cjson").null
-- Deeper than any Kombo body: a value nested this deep is refused before
-- the C stack runs out (a table that contains itself is caught as such).
local MAX_DEPTH = 1000

local _M = {}

-- Percent-encoding (RFC 3986 unreserved kept; "." and ".." segments made
-- harmless) is the C core's, so there is one implementation to fuzz.
local _escape = require("kombo.core").escape

-- Numbers as JSON/query text: integers exactly (an id above 2^53 must not
-- come out as another id), integral floats without ".0", others with the
-- fewest digits that read back as the same double.
local mtype = math.type -- nil before 5.3, where every number is a double
local function _number(n)
  if mtype and mtype(n) == "integer" then return format("%d", n) end
  if n == floor(n) and n > -2 ^ 63 and n < 2 ^ 63 then return format("%d", n) end
  for p = 14, 16 do
    local s = format("%." .. p .. "g", n)
    if tonumber(s) == n then return s end
  end
  return format("%.17g", n)
end

local _finite = schema.finite

-- A value in a message, without calling a __tostring (which may raise).
local function _shown(v)
  local t = type(v)
  if t == "string" or t == "number" or t == "boolean" or t == "nil" then return tostring(v) end
  return t
end

-- The UTC date-time of the finite number t, seconds since the epoch; nil
-- and what was expected when its date has no four-digit year.
local function _date_time(t)
  local expected = schema.seconds_expected(t)
  if expected then return nil, expected end
  local whole = floor(t)
  local ms = floor((t - whole) * 1000 + 0.5)
  if ms == 1000 then whole, ms = whole + 1, 0 end
  -- "%Y" writes year 1 as "1", not "0001"
  local d = os.date("!*t", whole)
  return format("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", d.year, d.month, d.day, d.hour, d.min, d.sec, ms)
end

--- kombo.array(t) -> t, marked as a JSON array: empty, it goes out as []
--- where the schema says nothing (a free-form field such as passthrough's
--- data); kombo.array() is a new empty one.
function _M.array(t)
  if t == nil then return setmetatable({}, schema.ARRAY) end
  if type(t) ~= "table" or schema.foreign(t) then
    error("bad argument #1 to 'kombo.array' (a table without a metatable expected, got "
      .. (type(t) == "table" and "one with a metatable" or _shown(t)) .. ")", 2)
  end
  return setmetatable(t, schema.ARRAY)
end

--- kombo.iso8601(t) -> "2026-12-01T15:04:05.000Z": seconds since the epoch
--- (os.time(), fractions kept to the millisecond) as the UTC date-time
--- Kombo's API takes. t defaults to now (nil only: false is no time).
function _M.iso8601(t)
  if t == nil then t = os.time() end
  local text, expected = nil, "seconds since the epoch"
  if type(t) == "number" and _finite(t) then text, expected = _date_time(t) end
  if not text then
    error("bad argument #1 to 'kombo.iso8601' (" .. expected .. " expected, got " .. _shown(t) .. ")", 2)
  end
  return text
end

-- A number where the schema wants a date-time is os.time() seconds.
local function _is_time(v, s)
  return type(v) == "number" and s ~= nil and s.format == "date-time"
end

-- JSON ---------------------------------------------------------------------

-- A JSON string (nil for one that is not UTF-8, unless as_is), by the C
-- core rather than lua-cjson: cjson.encode writes into one buffer per cjson
-- instance, and on Lua 5.1 and LuaJIT it copies that buffer into a Lua
-- string after the collector may have run, so a finalizer encoding a body
-- meanwhile spliced its bytes into this one. Escaped as lua-cjson does,
-- but for "/", which stays as it is.
local _json_string = require("kombo.core").json_string

-- The branch of a choice that describes this value, so an empty table gets
-- the right brackets inside any_of too.
local function _branch(s, v)
  for _, b in ipairs(s.any_of) do
    if schema.check(b, v) then return b end
  end
  for _, b in ipairs(s.any_of) do
    if b.type == "array" or b.type == "object" then return b end
  end
  return nil
end

local _encode

local function _encode_table(v, s, field, out, depth, open, as_is)
  local kind = schema.kind(v, not as_is)
  if s and s.any_of then s = _branch(s, v) end
  local t = s and s.type
  if kind == "array" or (kind == "empty" and t == "array") then
    local items = s and s.items
    out[#out + 1] = "["
    for i = 1, #v do
      if i > 1 then out[#out + 1] = "," end
      local ok, err = _encode(v[i], items, field .. "[" .. i .. "]", out, depth + 1, open, as_is)
      if not ok then return nil, err end
    end
    out[#out + 1] = "]"
    return true
  end
  local keys = {}
  for k in next, v do keys[#keys + 1] = k end
  sort(keys)
  local props = t == "object" and s.properties or nil
  out[#out + 1] = "{"
  for i, k in ipairs(keys) do
    if i > 1 then out[#out + 1] = "," end
    local key = _json_string(k, as_is)
    if not key then return nil, errors.invalid(field, "an object whose keys are valid UTF-8 text") end
    out[#out + 1] = key
    out[#out + 1] = ":"
    local ok, err = _encode(v[k], props and props[k], field .. "." .. k, out, depth + 1, open, as_is)
    if not ok then return nil, err end
  end
  out[#out + 1] = "}"
  return true
end

-- `open`: the tables being written, from the value down to this one;
-- `as_is`: strings that are not UTF-8 are written byte for byte.
_encode = function(v, s, field, out, depth, open, as_is)
  local t = type(v)
  if t == "string" then
    local text = _json_string(v, as_is)
    if not text then return nil, errors.invalid(field, "valid UTF-8 text") end
    out[#out + 1] = text
  elseif t == "number" then
    if not _finite(v) then return nil, errors.invalid(field, "a finite number") end
    if _is_time(v, s) then
      local text, expected = _date_time(v)
      if not text then return nil, errors.invalid(field, expected) end
      out[#out + 1] = '"' .. text .. '"'
    else
      out[#out + 1] = _number(v)
    end
  elseif t == "boolean" then
    out[#out + 1] = v and "true" or "false"
  elseif v == NULL then
    out[#out + 1] = "null"
  elseif t == "table" then
    if open[v] then return nil, errors.invalid(field, "a value, not a table that contains itself") end
    if depth > MAX_DEPTH then return nil, errors.invalid(field, "nested at most " .. MAX_DEPTH .. " deep") end
    if schema.kind(v, not as_is) == nil then return nil, errors.invalid(field, schema.unfit(v, s)) end
    open[v] = true
    local ok, err = _encode_table(v, s, field, out, depth, open, as_is)
    open[v] = nil
    return ok, err
  else
    return nil, errors.invalid(field, "a JSON value")
  end
  return true
end

--- JSON text of `value`, shaped by schema `s` (may be nil): an empty table
--- is `[]` where the schema says array or kombo.array marked it, and `{}`
--- elsewhere; kombo.null is null; integral numbers have no ".0"; object
--- keys are sorted. A string that is not UTF-8 is refused, and a table
--- with a metatable of its own; with `as_is` (a value that came in a
--- response, going back out as it came) the string is written byte for
--- byte and the table's keys are read as they are.
--- Returns the text, or nil and an invalid_request error naming the value
--- (`field`, default "body", extended with ".key" and "[i]").
function _M.encode_json(value, s, field, as_is)
  field = field or "body"
  local out = {}
  local ok, err = _encode(value, s, field, out, 0, {}, as_is)
  if not ok then return nil, err end
  return concat(out)
end

-- Parameters ---------------------------------------------------------------

local NO_PARAMS = {} -- a call without parameters; only ever read
-- The body of an operation that takes one when none is given: Kombo
-- answers 400 to a missing one even where no field is required, and the
-- official SDKs send {} too.
local EMPTY_BODY = "{}"

-- Per operation: name -> query entry, and the set of path parameters.
local indexes = setmetatable({}, { __mode = "k" })

local function _index(op)
  local idx = indexes[op]
  if not idx then
    -- required: whether a call without parameters can be wrong;
    -- templated: whether the path has parameters to fill in; body: what
    -- goes out when none is given. Read here once: an operation's absent
    -- field is a call of its table's __index each time.
    idx = { query = {}, path = {}, required = op.body ~= nil and op.body.required ~= nil and #op.body.required > 0,
      templated = op.path:find("{", 1, true) ~= nil, body = op.body and EMPTY_BODY or nil }
    for _, q in ipairs(op.query or {}) do
      idx.query[q.name] = q
      if q.required then idx.required = true end
    end
    for _, p in ipairs(op.path_params or {}) do idx.path[p] = true end
    indexes[op] = idx
  end
  return idx
end

--- Does `op` take the query parameter `name`?
function _M.takes(op, name)
  return _index(op).query[name] ~= nil
end

local LIST_EXPECTED = "a string or a non-empty array of strings"
local LIST = { type = "array" } -- what a list parameter's table is

-- The elements of a list parameter: an array as given, or a string split
-- on the commas Kombo splits on, so "a,b" and {"a", "b"} are one value;
-- nil and what was expected when v is neither.
local function _list(v)
  if type(v) == "string" then
    local parts = {}
    for part in (v .. ","):gmatch("([^,]*),") do parts[#parts + 1] = part end
    return parts
  end
  if schema.kind(v, true) ~= "array" or next(v) == nil then
    return nil, type(v) == "table" and schema.foreign(v) and schema.plain(v, LIST) or LIST_EXPECTED
  end
  return v
end

local function _check_query(q, v)
  if q.boolean then
    if v == true or v == false or v == "true" or v == "false" then return true end
    return nil, q.name, "true or false"
  end
  if q.list then
    local items, expected = _list(v)
    if not items then return nil, q.name, expected end
    for i = 1, #items do
      if type(items[i]) ~= "string" then return nil, q.name, LIST_EXPECTED end
      local ok, f, e = schema.check(q.schema, items[i], type(v) == "table" and (q.name .. "[" .. i .. "]") or q.name)
      if not ok then return nil, f, e end
    end
    return true
  end
  return schema.check(q.schema, v, q.name, true)
end

-- Edit distance, to suggest the parameter a typo was meant to be.
local function _distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

--- The candidate closest to `name` (a typo of it), or else the first one
--- `name` begins (timeout, for timeout_ms), or nil when none is.
function _M.closest(name, candidates)
  local best, best_d
  for _, c in ipairs(candidates) do
    local d = _distance(name, c)
    if d <= 2 and d < #c and (not best_d or d < best_d) then best, best_d = c, d end
  end
  if best or #name < 4 then return best end
  for _, c in ipairs(candidates) do
    if c:sub(1, #name) == name then return c end
  end
end

--- " (did you mean X?)" for the candidate closest to `name`, or "".
function _M.did_you_mean(name, candidates)
  local best = _M.closest(name, candidates)
  return best and (" (did you mean " .. best .. "?)") or ""
end

-- Options people put among the parameters, and where they belong.
local OPTIONS = {
  integration_id = "an option, not a parameter: pass it to kombo.new or as the call's opts "
    .. "(client.ats:get_jobs(params, { integration_id = ... }))",
  timeout_ms = "an option, not a parameter: pass it as the call's opts, the second argument",
  retries = "an option, not a parameter: pass it as the call's opts, the second argument",
  headers = "an option, not a parameter: pass it as the call's opts, the second argument",
}

local function _unknown(op, name)
  if OPTIONS[name] then return OPTIONS[name] end
  local props = op.body and op.body.properties
  if props and props[name] ~= nil then
    return "a field of the request body, not a parameter: pass it inside body = { " .. name .. " = ... }"
  end
  local candidates = { "body" }
  for _, p in ipairs(op.path_params or {}) do candidates[#candidates + 1] = p end
  for _, q in ipairs(op.query or {}) do candidates[#candidates + 1] = q.name end
  return "not a parameter of " .. op.name .. _M.did_you_mean(name, candidates)
end

-- Every problem of the call's parameters and body, in a stable order: the
-- first is the error, all of them are its `errors` list.
local function _validate(op, params, idx)
  if not idx.required and next(params) == nil then return nil end
  local problems = {}
  local function problem(field, expected) problems[#problems + 1] = { field = field, expected = expected } end
  local keys = {}
  for k in pairs(params) do
    if type(k) ~= "string" then
      problem(_shown(k), "not a parameter of " .. op.name .. " (names are strings)")
    else
      keys[#keys + 1] = k
    end
  end
  sort(keys)
  for _, k in ipairs(keys) do
    if not (idx.path[k] or idx.query[k] or k == "body") then problem(k, _unknown(op, k)) end
  end
  -- The few path parameters the document constrains (an enum) are checked
  -- like query parameters; the rest only need to be a non-empty segment.
  for _, p in ipairs(op.path_params or {}) do
    local s = op.path_schemas and op.path_schemas[p]
    if s and params[p] ~= nil then
      local ok, f, e = schema.check(s, params[p], p, true)
      if not ok then problem(f, e) end
    end
  end
  for _, q in ipairs(op.query or {}) do
    local v = params[q.name]
    if v == nil then
      if q.required then problem(q.name, "required") end
    else
      local ok, f, e = _check_query(q, v)
      if not ok then problem(f, e) end
    end
  end
  local body = params.body
  if op.body == nil then
    if body ~= nil then problem("body", "not accepted: " .. op.name .. " takes no body") end
  elseif body == nil then
    if op.body.required and #op.body.required > 0 then problem("body", "required") end
  else
    for _, p in ipairs(schema.check_all(op.body, body, "body", true)) do problem(p.field, p.expected) end
  end
  if #problems == 0 then return nil end
  local list = {}
  for i, p in ipairs(problems) do list[i] = errors.invalid(p.field, p.expected, op.name) end
  local err = errors.invalid(problems[1].field, problems[1].expected, op.name)
  if #list > 1 then
    err.message = err.message .. " (and " .. (#list - 1) .. " more: see err.errors)"
  end
  err.errors = list
  return err
end

-- A scalar as query text, or nil when it has none.
local function _scalar(v)
  local t = type(v)
  if t == "string" then return v end
  if t == "boolean" then return v and "true" or "false" end
  if t == "number" and _finite(v) then return _number(v) end
  return nil
end

-- The encoded value of one query parameter, or nil and what was expected.
-- List elements (and an array given for any parameter) are encoded one by
-- one and joined by a literal comma, the separator Kombo splits on.
local function _query_value(v, is_list)
  if is_list or type(v) == "table" then
    local items, expected = _list(type(v) == "table" and v or _scalar(v))
    if not items then return nil, expected end
    local parts = {}
    for i = 1, #items do
      local s = _scalar(items[i])
      if not s then return nil, LIST_EXPECTED end
      parts[i] = _escape(s)
    end
    return concat(parts, ",")
  end
  local s = _scalar(v)
  if not s then return nil, "a string, number or boolean" end
  return _escape(s)
end

local function _segment(v)
  if type(v) == "string" and v ~= "" then return v end
  if type(v) == "number" and _finite(v) and v == floor(v) then return _number(v) end
  return nil
end

local function _copy(t)
  local out = {}
  for k, v in pairs(t) do out[k] = v end
  return out
end

-- A copy of a paginated call's parameters but `cursor` (list values
-- copied too), kept for its resume token: the caller may change the table
-- it passed while the walk runs.
local function _filters(params)
  local out = _copy(params)
  out.cursor = nil
  for k, v in pairs(out) do
    if type(v) == "table" then out[k] = _copy(v) end
  end
  return out
end

--- The resume token of a walk of `op` stopped at `cursor` (nil: its first
--- page): what err.resume holds and { resume = token } takes back. Opaque
--- to callers; made of strings, numbers, booleans and arrays, so it keeps
--- through JSON.
function _M.resume(op, filters, cursor)
  return { operation = op.name, path = op.path, filters = filters, cursor = cursor }
end

local RESUME_EXPECTED = "err.resume of a failed walk of this operation, unchanged"

-- { resume = token } as the parameters it stands for: the filters and the
-- cursor of the page that failed, exactly; anything beside it is refused,
-- since a cursor only means something with the filters that made it.
local function _resumed(op, params)
  for k in pairs(params) do
    if k ~= "resume" then
      return nil, errors.invalid("resume", "the only parameter: the token holds the filters and the cursor, "
        .. "so pass { resume = err.resume } alone (got " .. _shown(k) .. " too)", op.name)
    end
  end
  local token = params.resume
  if type(token) ~= "table" or getmetatable(token) ~= nil or token.operation ~= op.name or token.path ~= op.path
    or type(token.filters) ~= "table" or getmetatable(token.filters) ~= nil
    or not (token.cursor == nil or type(token.cursor) == "string") then
    return nil, errors.invalid("resume", RESUME_EXPECTED, op.name)
  end
  local out = _copy(token.filters)
  if out.cursor ~= nil or out.resume ~= nil then return nil, errors.invalid("resume", RESUME_EXPECTED, op.name) end
  out.cursor = token.cursor
  return out
end

--- Build the request for one call of `op` with `params` (nil is {}).
--- With `validate` false the schema checks are skipped (unknown parameters
--- then go out as query parameters) but encoding still happens.
--- Returns { op, method, path, query, cursor, body, filters } (filters: the
--- params but cursor, for a paginated operation) or nil and an
--- invalid_request error whose `field` names the offending parameter.
function _M.request(op, params, validate)
  if params == nil then params = NO_PARAMS end
  if type(params) ~= "table" then return nil, errors.invalid("params", "a table", op.name) end
  if getmetatable(params) ~= nil then return nil, errors.invalid("params", schema.PLAIN, op.name) end
  local idx = _index(op)
  if next(params) == nil and not idx.required and not idx.templated then
    -- Nothing to check or encode: the request of a call without parameters.
    return { op = op, method = op.method, path = op.path, query = "", body = idx.body,
      filters = idx.query.cursor and {} or nil }
  end
  if params.resume ~= nil then
    if not idx.query.cursor then
      return nil, errors.invalid("resume", "not accepted: " .. op.name .. " does not page", op.name)
    end
    local err
    params, err = _resumed(op, params)
    if not params then return nil, err end
  end
  if validate then
    local err = _validate(op, params, idx)
    if err then return nil, err end
  end

  local missing
  local path = op.path
  if idx.templated then
    path = path:gsub("{([^}]+)}", function(name)
      local seg = _segment(params[name])
      if not seg then missing = missing or name; return "" end
      return _escape(seg)
    end)
  end
  if missing then
    local expected = params[missing] == nil and "required" or "a non-empty string"
    return nil, errors.invalid(missing, expected, op.name)
  end

  local parts = {}
  local function add(name, v, is_list)
    local text, expected = _query_value(v, is_list)
    if not text then return errors.invalid(name, expected, op.name) end
    parts[#parts + 1] = _escape(name) .. "=" .. text
  end
  for _, q in ipairs(op.query or {}) do
    local v = params[q.name]
    if v ~= nil and q.name ~= "cursor" then
      if _is_time(v, q.schema) and _finite(v) then
        local expected
        v, expected = _date_time(v)
        if not v then return nil, errors.invalid(q.name, expected, op.name) end
      end
      local err = add(q.name, v, q.list)
      if err then return nil, err end
    end
  end
  if not validate then
    local extra = {}
    for k in pairs(params) do
      if type(k) == "string" and not idx.path[k] and not idx.query[k] and k ~= "body" then
        extra[#extra + 1] = k
      end
    end
    sort(extra)
    for _, k in ipairs(extra) do
      local err = add(k, params[k], false)
      if err then return nil, err end
    end
  end

  local cursor
  if params.cursor ~= nil and idx.query.cursor then
    cursor = _scalar(params.cursor)
    if not cursor then return nil, errors.invalid("cursor", "a string", op.name) end
  end

  local body = idx.body
  if params.body ~= nil then
    local err
    body, err = _M.encode_json(params.body, op.body, "body")
    if not body then
      err.operation = op.name
      return nil, err
    end
  end

  return {
    op = op,
    method = op.method,
    path = path,
    query = concat(parts, "&"),
    cursor = cursor,
    body = body,
    filters = idx.query.cursor and _filters(params) or nil,
  }
end

--- The query text of one value, as `build` writes it (exposed for tests).
function _M.encode_query_value(v, is_list)
  return _query_value(v, is_list)
end

_M.escape = _escape

return _M
