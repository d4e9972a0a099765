-- Request validation for the sandbox, the way Kombo rejects bad input with a
-- 400: query parameters and JSON bodies against the rules requests.lua
-- copies out of Kombo's OpenAPI document.
--
-- This is the sandbox's own reading of the document, written apart from
-- the SDK's lua/kombo/schema.lua: when the SDK lets a wrong request through,
-- the sandbox still refuses it, and the SDK's specs see the 400. It knows
-- the keywords requests.lua keeps (types, nullability, enum and const,
-- required and unknown fields, bounds, lengths, formats and the few
-- patterns the document uses) and refuses at load a rule it cannot check.
--
-- Values are what lua-cjson decodes: JSON null is cjson.null, `{}` and `[]`
-- both decode to an empty table, 250 and 250.0 are both whole numbers.
-- Query values arrive as text and are converted to the parameter's type
-- first.

local requests = require("kombo_sandbox.requests")
local NULL = require("cjson.safe").null

local type, pairs, ipairs, next, tostring, tonumber = type, pairs, ipairs, next, tostring, tonumber
local floor, huge = math.floor, math.huge
local concat, sort, format = table.concat, table.sort, string.format

local SCHEMAS, OPERATIONS = requests.schemas, requests.operations

local _M = {}

-- Formats ------------------------------------------------------------------

-- The document's date-time pattern, ^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?)?Z?$:
-- a date, an optional time with an optional fraction, an optional Z.
local function _date_time(v)
  local rest = v:match("^%d%d%d%d%-%d%d%-%d%d(.*)$")
  if not rest then return false end
  local after = rest:match("^T%d%d:%d%d:%d%d(.*)$")
  if after then rest = after:match("^%.%d+(.*)$") or after end
  return rest == "" or rest == "Z"
end

local FORMATS = {
  ["date-time"] = { _date_time, "a date-time such as 2024-04-12T14:33:47.000Z" },
  email = { function(v) return v:find("^[^%s@]+@[^%s@]+$") ~= nil end, "an email address" },
  uri = { function(v) return v:find("^%a[%w+.%-]*:%S*$") ~= nil end, "a URI" },
  -- Number widths say nothing a Lua number could break.
  int32 = false, int64 = false, float = false, double = false,
}

-- The patterns the document's request schemas use, each as a Lua check.
-- ECMAScript regexes in general have no Lua equivalent, so an unknown one
-- stops the sandbox at load instead of going unchecked.
local PATTERNS = {
  ["^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?)?Z?$"] = _date_time,
  ["^[\\w.-]+\\/[\\w.-]+$"] = function(v) return v:find("^[%w_.%-]+/[%w_.%-]+$") ~= nil end,
  ["^[A-Z]{2}$"] = function(v) return v:find("^%u%u$") ~= nil end,
  -- A passthrough request's path.
  ["^\\/"] = function(v) return v:sub(1, 1) == "/" end,
}

-- Kinds of JSON values ---------------------------------------------------------

local function _kind(v)
  local t = type(v)
  if t == "string" or t == "boolean" then return t end
  if t == "number" then
    if v ~= v or v == huge or v == -huge then return nil end
    return v == floor(v) and "integer" or "number"
  end
  if v == NULL then return "null" end
  if t ~= "table" then return nil end
  if next(v) == nil then return "empty" end
  local n = #v
  if n > 0 then
    for k in pairs(v) do
      if type(k) ~= "number" or k < 1 or k > n or k ~= floor(k) then return nil end
    end
    return "array"
  end
  for k in pairs(v) do
    if type(k) ~= "string" then return nil end
  end
  return "object"
end

local function _fits_type(want, kind)
  if want == kind then return true end
  if want == "number" then return kind == "integer" end
  if kind == "empty" then return want == "array" or want == "object" end
  return false
end

local function _types(s)
  local t = s.type
  if t == nil then return nil end
  return type(t) == "table" and t or { t }
end

local function _resolve(s)
  while s.ref do s = SCHEMAS[s.ref] end
  return s
end

local function _allows_null(s)
  s = _resolve(s)
  if s.nullable then return true end
  for _, t in ipairs(_types(s) or {}) do
    if t == "null" then return true end
  end
  return false
end

-- What a schema wants, in a few words ---------------------------------------

local function _num(n)
  if n == floor(n) and n > -2 ^ 53 and n < 2 ^ 53 then return format("%d", n) end
  return tostring(n)
end

local NOUNS = { string = "a string", integer = "an integer", number = "a number", boolean = "a boolean",
  array = "an array", object = "an object" }

local _expected
_expected = function(s)
  s = _resolve(s)
  local noun
  local choice = s.anyOf or s.oneOf
  if choice then
    local names, seen = {}, {}
    for _, b in ipairs(choice) do
      local e = _expected(b)
      if not seen[e] then seen[e] = true; names[#names + 1] = e end
    end
    noun = concat(names, " or ")
  elseif s.const ~= nil then
    noun = tostring(s.const)
  elseif s.enum then
    local names = {}
    for i, e in ipairs(s.enum) do names[i] = tostring(e) end
    noun = #names == 1 and names[1] or ("one of " .. concat(names, ", "))
  else
    local words = {}
    for _, t in ipairs(_types(s) or {}) do
      if t ~= "null" then words[#words + 1] = NOUNS[t] or t end
    end
    noun = concat(words, " or ")
    if noun == "a string" and s.format and FORMATS[s.format] then noun = FORMATS[s.format][2] end
    if noun == "an integer" or noun == "a number" then
      local lo, hi = s.minimum, s.maximum
      if lo and hi then
        noun = noun .. " from " .. _num(lo) .. " to " .. _num(hi)
      elseif lo then
        noun = noun .. " >= " .. _num(lo)
      elseif hi then
        noun = noun .. " <= " .. _num(hi)
      end
    end
    if noun == "" then noun = "a JSON value" end
  end
  if _allows_null(s) then noun = noun .. " or null" end
  return noun
end

-- Checking ---------------------------------------------------------------------

local _check

local function _child(field, name)
  return field .. "." .. name
end

local function _utf8_len(v)
  local _, n = v:gsub("[^\128-\191]", "")
  return n
end

local function _check_string(s, v, field)
  if s.format and FORMATS[s.format] and not FORMATS[s.format][1](v) then
    return nil, field, FORMATS[s.format][2]
  end
  if s.minLength and _utf8_len(v) < s.minLength then
    return nil, field, format("a string of at least %d character%s", s.minLength, s.minLength == 1 and "" or "s")
  end
  if s.maxLength and _utf8_len(v) > s.maxLength then
    return nil, field, format("a string of at most %d characters", s.maxLength)
  end
  if s.pattern and not PATTERNS[s.pattern](v) then
    return nil, field, "a string matching " .. s.pattern
  end
  return true
end

local function _check_number(s, v, field)
  if (s.minimum and v < s.minimum) or (s.maximum and v > s.maximum)
    or (s.exclusiveMinimum and v <= s.exclusiveMinimum)
    or (s.exclusiveMaximum and v >= s.exclusiveMaximum) then
    return nil, field, _expected(s)
  end
  return true
end

local function _check_object(s, v, field)
  local props = s.properties or {}
  for _, name in ipairs(s.required or {}) do
    if v[name] == nil then return nil, _child(field, name), "required" end
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  sort(keys)
  local extra = s.additionalProperties
  for _, k in ipairs(keys) do
    local ps = props[k]
    if ps then
      local ok, f, e = _check(ps, v[k], _child(field, k))
      if not ok then return nil, f, e end
    elseif extra == false then
      return nil, _child(field, k), "not an allowed field"
    elseif type(extra) == "table" then
      local ok, f, e = _check(extra, v[k], _child(field, k))
      if not ok then return nil, f, e end
    end
  end
  return true
end

local function _check_array(s, v, field)
  local n = #v
  if s.minItems and n < s.minItems then
    return nil, field, format("an array of at least %d item%s", s.minItems, s.minItems == 1 and "" or "s")
  end
  if s.maxItems and n > s.maxItems then
    return nil, field, format("an array of at most %d items", s.maxItems)
  end
  if s.items then
    for i = 1, n do
      local ok, f, e = _check(s.items, v[i], field .. "[" .. i .. "]")
      if not ok then return nil, f, e end
    end
  end
  return true
end

-- Could a branch of a union be the one meant? Its type fits and every
-- const property (how the document tells its unions apart) matches.
local function _plausible(b, v, kind)
  b = _resolve(b)
  local types = _types(b)
  if types then
    local fits = false
    for _, t in ipairs(types) do fits = fits or _fits_type(t, kind) end
    if not fits then return false end
  end
  if kind == "object" then
    for name, ps in pairs(b.properties or {}) do
      ps = _resolve(ps)
      if ps.const ~= nil and v[name] ~= ps.const then return false end
    end
  end
  return true
end

-- anyOf and oneOf alike: one branch that holds is enough. The document's
-- unions are told apart by a const field, so two branches never both hold.
local function _check_choice(s, choice, v, field, kind)
  local plausible = {}
  for _, b in ipairs(choice) do
    if _check(b, v, field) then return true end
    if _plausible(b, v, kind) then plausible[#plausible + 1] = b end
  end
  -- One branch was clearly meant (or there is only one): its own complaint
  -- says the most.
  if #plausible == 1 then return _check(plausible[1], v, field) end
  if #choice == 1 then return _check(choice[1], v, field) end
  -- An object matching no branch's tag: name the tag and its values.
  if kind == "object" and #plausible == 0 then
    local tag, values = nil, {}
    for _, b in ipairs(choice) do
      b = _resolve(b)
      for name, ps in pairs(b.properties or {}) do
        ps = _resolve(ps)
        if ps.const ~= nil and (tag == nil or tag == name) then
          tag = name
          values[#values + 1] = tostring(ps.const)
        end
      end
    end
    if tag and #values == #choice then
      return nil, _child(field, tag), "one of " .. concat(values, ", ")
    end
  end
  return nil, field, _expected(s)
end

_check = function(s, v, field)
  s = _resolve(s)
  if v == nil then return nil, field, "required" end
  local kind = _kind(v)
  if kind == nil then
    if type(v) == "number" then return nil, field, "a finite number" end
    return nil, field, _expected(s)
  end
  if kind == "null" then
    if _allows_null(s) then return true end
    local choice = s.anyOf or s.oneOf
    for _, b in ipairs(choice or {}) do
      if _allows_null(b) then return true end
    end
    if s.type == nil and choice == nil and s.allOf == nil and s.enum == nil and s.const == nil then return true end
    return nil, field, _expected(s)
  end
  for _, part in ipairs(s.allOf or {}) do
    local ok, f, e = _check(part, v, field)
    if not ok then return nil, f, e end
  end
  local choice = s.anyOf or s.oneOf
  if choice then
    local ok, f, e = _check_choice(s, choice, v, field, kind)
    if not ok then return nil, f, e end
  end
  local types = _types(s)
  if types then
    local fits = false
    for _, t in ipairs(types) do fits = fits or _fits_type(t, kind) end
    if not fits then return nil, field, _expected(s) end
  end
  if s.const ~= nil and v ~= s.const then return nil, field, _expected(s) end
  if s.enum then
    local found = false
    for _, e in ipairs(s.enum) do found = found or e == v end
    if not found then return nil, field, _expected(s) end
  end
  if kind == "string" then return _check_string(s, v, field) end
  if kind == "integer" or kind == "number" then return _check_number(s, v, field) end
  if kind == "object" or kind == "empty" then
    local ok, f, e = _check_object(s, kind == "empty" and {} or v, field)
    if not ok then return nil, f, e end
  end
  if kind == "array" or kind == "empty" then return _check_array(s, kind == "empty" and {} or v, field) end
  return true
end

-- Every rule must be one this file can check: refuse to start otherwise.
local function _audit(s, where)
  if s.ref and not SCHEMAS[s.ref] then error("validate: " .. where .. " refers to unknown schema " .. s.ref) end
  if s.format and FORMATS[s.format] == nil then error("validate: " .. where .. ": unknown format " .. s.format) end
  if s.pattern and not PATTERNS[s.pattern] then error("validate: " .. where .. ": unknown pattern " .. s.pattern) end
  for _, k in ipairs({ "items" }) do
    if s[k] then _audit(s[k], where .. "[]") end
  end
  if type(s.additionalProperties) == "table" then _audit(s.additionalProperties, where .. ".*") end
  for name, p in pairs(s.properties or {}) do _audit(p, where .. "." .. name) end
  for _, k in ipairs({ "allOf", "anyOf", "oneOf" }) do
    for i, b in ipairs(s[k] or {}) do _audit(b, where .. "." .. k .. "[" .. i .. "]") end
  end
end
for name, s in pairs(SCHEMAS) do _audit(s, name) end
for name, op in pairs(OPERATIONS) do
  for _, q in ipairs(op.query) do _audit(q.schema, name .. "." .. q.name) end
  if op.body then _audit(op.body, name .. ".body") end
end

--- The rules of an operation (requests.lua's entry), or nil.
function _M.operation(name)
  return OPERATIONS[name]
end

-- A query text converted to what the parameter's schema describes; text
-- that does not convert stays text and fails the type check.
local function _typed(s, text)
  s = _resolve(s)
  for _, t in ipairs(_types(s) or {}) do
    if t == "integer" or t == "number" then return tonumber(text) or text end
    if t == "boolean" then
      if text == "true" then return true end
      if text == "false" then return false end
    end
  end
  return text
end

--- Check a parsed query (`names` in order of appearance) for operation `name`.
--- Returns true or nil, field, expected.
function _M.query(name, query, names)
  local op = OPERATIONS[name]
  if not op then return true end
  local by_name = op.by_name
  if not by_name then
    by_name = {}
    for _, q in ipairs(op.query) do by_name[q.name] = q end
    op.by_name = by_name
  end
  for _, k in ipairs(names) do
    local q = by_name[k]
    if not q then return nil, k, "not a query parameter of this endpoint" end
    local ok, field, expected = _check(q.schema, _typed(q.schema, query[k]), k)
    if not ok then return nil, field, expected end
    -- A comma-separated list filter whose items the document enumerates.
    local items = _resolve(q.schema)["x-kombo-item-enum"]
    if items then
      for item in (query[k] .. ","):gmatch("([^,]*),") do
        local known = false
        for _, e in ipairs(items) do known = known or e == item end
        if not known then return nil, k, "a comma-separated list of " .. concat(items, ", ") end
      end
    end
  end
  for _, q in ipairs(op.query) do
    if q.required and query[q.name] == nil then return nil, q.name, "required" end
  end
  return true
end

--- Check a decoded JSON body for operation `name`.
--- Returns true or nil, field, expected.
function _M.body(name, body)
  local op = OPERATIONS[name]
  if not op then return true end
  if not op.body then
    if body ~= nil then return nil, "body", "no request body" end
    return true
  end
  if body == nil then return nil, "body", "a JSON object" end
  return _check(op.body, body, "body")
end

--- The phrase the checks use for what schema `s` expects.
_M.expected = _expected

return _M
