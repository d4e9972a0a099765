-- Checks a Lua value against a schema of lua/kombo/operations.lua.
--
-- The schemas are the JSON-Schema subset the generator emits (type, enum,
-- format, pattern, lengths, bounds, properties/required/additional, items,
-- any_of, nullable). Values are what a Lua user or lua-cjson produces: JSON
-- null is cjson.null, an array is a table with keys 1..n only (or empty), and
-- an integral float counts as an integer because cjson decodes 250 as 250.0.

require("kombo.compat").interpreted_module()
local type, pairs, ipairs, tostring, tonumber, next = type, pairs, ipairs, tostring, tonumber, next
local getmetatable, rawget = getmetatable, rawget
local rawlen = require("kombo.compat").rawlen
local floor, huge = math.floor, math.huge
local concat, sort = table.concat, table.sort
local format = string.format

local NULL = require("cjson").null

local _M = {}

_M.null = NULL

--- Is `t` a Lua table usable as a JSON array (empty, or keys exactly 1..n)?
function _M.is_array(t)
  if type(t) ~= "table" then return false end
  local n, max = 0, 0
  for k in next, t do
    if type(k) ~= "number" or k < 1 or k ~= floor(k) then return false end
    n = n + 1
    if k > max then max = k end
  end
  return n == max
end

local function _finite(v)
  return v == v and v ~= huge and v ~= -huge
end

--- Is the number `v` finite (not NaN, not an infinity)?
_M.finite = _finite

-- Seconds since the epoch of 0001-01-01 and of 10000-01-01 (UTC): a
-- date-time has four digits of year. The last half millisecond before the
-- end would be written, rounded, as year 10000.
local FIRST_SECOND, END_SECOND = -62135596800, 253402300800 - 0.0005

local function _in_years(v)
  return v >= FIRST_SECOND and v < END_SECOND
end

--- nil when the finite number `v`, as seconds since the epoch, is a date in
--- years 0001..9999; else the phrase of what was expected.
function _M.seconds_expected(v)
  if _in_years(v) then return nil end
  -- Milliseconds by mistake: a number past year 9999 that is a date once
  -- divided (a negative one is a date before year 1, not milliseconds).
  if v > 0 and _in_years(v / 1000) then return "seconds since the epoch (this looks like milliseconds)" end
  return "seconds since the epoch of a date in years 0001 to 9999"
end

--- Is `v` a number with an integral, finite value (integer or float)?
function _M.is_integer(v)
  return type(v) == "number" and _finite(v) and v == floor(v)
end

-- What kombo.array sets: the one metatable a table sent may have. Lua has
-- one kind of empty table, which goes out as {} unless the schema says
-- array; this one says so where the schema is silent.
local ARRAY = {}
_M.ARRAY = ARRAY
-- Marks of an array, kombo.array's and those OpenResty's lua-cjson sets
-- (array_mt, empty_array_mt), so tables made for it go out as it sends them.
local MARKS = { [ARRAY] = true }
do
  local cjson = require("cjson")
  for _, name in ipairs({ "array_mt", "empty_array_mt" }) do
    if type(cjson[name]) == "table" then MARKS[cjson[name]] = true end
  end
end

--- Has the table `t` a metatable other than an array's mark? One may
--- answer reads (__index, __len, __pairs) the encoder would not see, and
--- 5.1 ignores __pairs and __len, so such a table is refused (plain says
--- how) rather than sent as one runtime reads it.
function _M.foreign(t)
  local mt = getmetatable(t)
  return mt ~= nil and not MARKS[mt]
end

_M.PLAIN = "a plain table (this one has a metatable, whose fields the checks would not see): copy its fields"
  .. " into one"

--- What to say of the table `t` with a metatable where schema `s` (may be
--- nil) is expected: PLAIN, and for an array, how to mark one.
function _M.plain(t, s)
  if (s and s.type == "array") or rawget(t, 1) ~= nil then
    return _M.PLAIN .. ", or mark an array with kombo.array(t)"
  end
  return _M.PLAIN
end

--- The JSON kind of a Lua value: "string", "number", "boolean", "null",
--- "array", "object", "empty" (a table without keys and without the mark
--- of kombo.array), or nil for what JSON cannot carry (functions, NaN, ...).
--- A table's keys are read raw, whatever its metatable (a page has its
--- methods there); with `sending` (the value is about to go out), a table
--- with a metatable other than an array's mark is nil.
function _M.kind(v, sending)
  local t = type(v)
  if t == "string" or t == "boolean" then return t end
  if t == "number" then return _finite(v) and "number" or nil end
  if v == NULL then return "null" end
  if t == "table" then
    local mt = getmetatable(v)
    if MARKS[mt] then return _M.is_array(v) and "array" or nil end
    if mt ~= nil and sending then return nil end
    if next(v) == nil then return "empty" end
    if _M.is_array(v) then return "array" end
    for k in next, v do
      if type(k) ~= "string" then return nil end
    end
    return "object"
  end
  return nil
end

--- What the table `v`, which JSON cannot carry as it is, should be where
--- schema `s` (may be nil) is expected, in a message.
function _M.unfit(v, s)
  if _M.foreign(v) then return _M.plain(v, s) end
  local array = MARKS[getmetatable(v)] or (s and s.type == "array")
  return array and "an array (keys 1..n only)" or "an object with string keys"
end

local function _num(n)
  if _M.is_integer(n) and n > -2 ^ 53 and n < 2 ^ 53 then return format("%d", n) end
  return tostring(n)
end

-- Bounds of +-DBL_MAX are the spec's way of saying "any double"; not worth a word.
local function _bound(n)
  return n ~= nil and n > -1e308 and n < 1e308
end

local function _range_phrase(s, noun)
  local lo, hi = s.minimum, s.maximum
  local xlo, xhi = s.exclusive_minimum, s.exclusive_maximum
  if _bound(lo) and _bound(hi) then
    return noun .. " from " .. _num(lo) .. " to " .. _num(hi)
  end
  local parts = { noun }
  if _bound(lo) then parts[#parts + 1] = ">= " .. _num(lo) end
  if _bound(xlo) then parts[#parts + 1] = "> " .. _num(xlo) end
  if _bound(hi) then parts[#parts + 1] = "<= " .. _num(hi) end
  if _bound(xhi) then parts[#parts + 1] = "< " .. _num(xhi) end
  if #parts == 1 then return noun end
  return parts[1] .. " " .. concat(parts, " and ", 2)
end

local function _enum_phrase(enum)
  local names = {}
  for i, e in ipairs(enum) do names[i] = tostring(e) end
  if #names == 1 then return names[1] end
  return "one of " .. concat(names, ", ")
end

local FORMAT_PHRASES = {
  ["date-time"] = "a date-time such as 2024-04-12T14:33:47.000Z",
  email = "an email address",
  uri = "a URI",
}

-- What the schema wants, in a few words, for error messages.
local _expected
_expected = function(s)
  local noun
  if s.any_of then
    local names, seen = {}, {}
    for _, b in ipairs(s.any_of) do
      local e = _expected(b)
      if not seen[e] then seen[e] = true; names[#names + 1] = e end
    end
    noun = concat(names, " or ")
  elseif s.enum then
    noun = _enum_phrase(s.enum)
  elseif s.type == "string" then
    noun = FORMAT_PHRASES[s.format] or "a string"
  elseif s.type == "integer" then
    noun = _range_phrase(s, "an integer")
  elseif s.type == "number" then
    noun = _range_phrase(s, "a number")
  elseif s.type == "boolean" then
    noun = "a boolean"
  elseif s.type == "array" then
    noun = "an array"
  elseif s.type == "object" then
    noun = "an object"
  elseif s.type == "null" then
    return "null"
  else
    noun = "a JSON value"
  end
  if s.nullable then noun = noun .. " or null" end
  return noun
end

-- Formats ------------------------------------------------------------------

-- The spec's date-time pattern: YYYY-MM-DD, optional THH:mm:ss, optional
-- fraction, optional Z. No offsets: Kombo documents UTC only.
local function _date_time(v)
  local rest = v:match("^%d%d%d%d%-%d%d%-%d%d(.*)$")
  if not rest then return false end
  local after_time = rest:match("^T%d%d:%d%d:%d%d(.*)$")
  if after_time then
    rest = after_time:match("^%.%d+(.*)$") or after_time
  end
  return rest == "" or rest == "Z"
end

local FORMATS = {
  ["date-time"] = _date_time,
  email = function(v) return v:find("^[^%s@]+@[^%s@]+$") ~= nil end,
  uri = function(v) return v:find("^%a[%w+%.%-]*:[^%s]*$") ~= nil end,
}

-- Patterns -----------------------------------------------------------------

-- The spec writes ECMAScript regexes. Those without groups or alternation map
-- onto a Lua pattern; the others are left to `format` (the only grouped one
-- in the spec is the date-time pattern, which _date_time implements).
local CLASS_ESCAPES = { d = "%d", w = "%w_", s = "%s", D = "%D", S = "%S" }
local ATOM_ESCAPES = { d = "%d", w = "[%w_]", s = "%s", D = "%D", W = "[^%w_]", S = "%S" }

local function _lua_escape(c)
  if c:find("^[%^%$%(%)%%%.%[%]%*%+%-%?]$") then return "%" .. c end
  return c
end

local function _class(src, i)
  -- src:sub(i, i) == "["; returns the Lua set and the index after "]".
  local out = { "[" }
  i = i + 1
  if src:sub(i, i) == "^" then out[#out + 1] = "^"; i = i + 1 end
  while i <= #src do
    local c = src:sub(i, i)
    if c == "]" then
      out[#out + 1] = "]"
      return concat(out), i + 1
    elseif c == "\\" then
      local e = src:sub(i + 1, i + 1)
      out[#out + 1] = CLASS_ESCAPES[e] or _lua_escape(e)
      i = i + 2
    elseif src:sub(i + 1, i + 1) == "-" and src:sub(i + 2, i + 2) ~= "]" and i + 2 <= #src then
      out[#out + 1] = c .. "-" .. src:sub(i + 2, i + 2)
      i = i + 3
    else
      out[#out + 1] = _lua_escape(c)
      i = i + 1
    end
  end
  return nil
end

local function _translate(src)
  local out, i = {}, 1
  if src:sub(1, 1) == "^" then out[1] = "^"; i = 2 end
  local last
  while i <= #src do
    local c = src:sub(i, i)
    local atom
    if c == "$" and i == #src then
      out[#out + 1] = "$"
      i = i + 1
    elseif c == "(" or c == ")" or c == "|" or c == "^" or c == "$" then
      return nil
    elseif c == "[" then
      atom, i = _class(src, i)
      if not atom then return nil end
    elseif c == "\\" then
      local e = src:sub(i + 1, i + 1)
      if e:find("^%w$") and not ATOM_ESCAPES[e] then return nil end
      atom = ATOM_ESCAPES[e] or _lua_escape(e)
      i = i + 2
    elseif c == "*" or c == "+" or c == "?" then
      if not last or last.q then return nil end
      last.q = c
      i = i + 1
    elseif c == "{" then
      local lo, comma, hi, stop = src:match("^{(%d+)(,?)(%d*)}()", i)
      if not lo or not last or last.q then return nil end
      lo = tonumber(lo)
      last.q = { lo, comma == "" and lo or tonumber(hi) }
      i = stop
    elseif c == "." then
      atom = "."
      i = i + 1
    else
      atom = _lua_escape(c)
      i = i + 1
    end
    if atom then
      last = { atom = atom }
      out[#out + 1] = last
    end
  end
  local parts = {}
  for _, p in ipairs(out) do
    if type(p) == "string" then
      parts[#parts + 1] = p
    elseif type(p.q) == "table" then
      local lo, hi = p.q[1], p.q[2]
      for _ = 1, lo do parts[#parts + 1] = p.atom end
      if hi == nil then
        parts[#parts + 1] = p.atom .. "*"
      else
        for _ = lo + 1, hi do parts[#parts + 1] = p.atom .. "?" end
      end
    else
      parts[#parts + 1] = p.atom .. (p.q or "")
    end
  end
  return concat(parts)
end

-- Compiled patterns by source; false for the ones that do not translate.
local compiled = {}

--- The Lua pattern equivalent to an ECMAScript regex, or nil when it has no
--- equivalent (groups, alternation, backreferences, ...).
function _M.lua_pattern(src)
  local p = compiled[src]
  if p == nil then
    p = _translate(src) or false
    compiled[src] = p
  end
  return p or nil
end

-- Checking -----------------------------------------------------------------

local _check

local function _child(field, key)
  if field == nil or field == "" then return key end
  return field .. "." .. key
end

local function _utf8_len(v)
  local _, n = v:gsub("[^\128-\191]", "")
  return n
end

-- true when v is one of the enum's values, else nil, field, the phrase.
local function _check_enum(enum, v, field)
  for _, e in ipairs(enum) do
    if e == v then return true end
  end
  return nil, field, _enum_phrase(enum)
end

-- A length or item count n within [min, max] (either may be absent):
-- "a string of at least 1 character", "an array of at most 3 items".
local function _check_size(n, min, max, field, what, unit)
  if min and n < min then
    return nil, field, format("%s of at least %d %s%s", what, min, unit, min == 1 and "" or "s")
  end
  if max and n > max then return nil, field, format("%s of at most %d %ss", what, max, unit) end
  return true
end

local function _check_string(s, v, field)
  if s.enum then return _check_enum(s.enum, v, field) end
  local fmt = FORMATS[s.format]
  if fmt and not fmt(v) then return nil, field, FORMAT_PHRASES[s.format] end
  if s.min_length or s.max_length then
    local ok, f, e = _check_size(_utf8_len(v), s.min_length, s.max_length, field, "a string", "character")
    if not ok then return nil, f, e end
  end
  if s.pattern then
    local p = _M.lua_pattern(s.pattern)
    if p and not v:find(p) then return nil, field, "a string matching " .. s.pattern end
  end
  return true
end

local function _check_number(s, v, field, noun)
  if (s.minimum and v < s.minimum) or (s.maximum and v > s.maximum)
    or (s.exclusive_minimum and v <= s.exclusive_minimum)
    or (s.exclusive_maximum and v >= s.exclusive_maximum) then
    return nil, field, _range_phrase(s, noun)
  end
  if s.enum then return _check_enum(s.enum, v, field) end
  return true
end

local function _sorted_string_keys(t)
  local keys = {}
  for k in next, t do keys[#keys + 1] = k end
  sort(keys)
  return keys
end

-- `sink`, passed down by check_all: the list its problems go to. A field
-- of an object or an item of an array that fails is noted there and the
-- check goes on to the next, so one call reports them all. Without it (check,
-- and every trial of an any_of branch) the first failure ends the check:
-- _failed answers true once it noted one, or nil, field, expected to return.
local function _failed(sink, f, e)
  if sink then
    sink[#sink + 1] = { field = f, expected = e }
    return true
  end
  return nil, f, e
end

local function _check_object(s, v, field, sink, sending)
  local props = s.properties or {}
  for _, name in ipairs(s.required or {}) do
    if rawget(v, name) == nil then
      local ok, f, e = _failed(sink, _child(field, name), "required")
      if not ok then return nil, f, e end
    end
  end
  local keys = _sorted_string_keys(v)
  for _, k in ipairs(keys) do
    local ps, ok, f, e = props[k], true, nil, nil
    if ps then
      ok, f, e = _check(ps, v[k], _child(field, k), sink, sending)
      if not ok then ok, f, e = _failed(sink, f, e) end
    elseif s.additional == false then
      ok, f, e = _failed(sink, _child(field, k), "not an allowed field")
    end
    if not ok then return nil, f, e end
  end
  return true
end

local function _check_array(s, v, field, sink, sending)
  local n = rawlen(v)
  local sized, sf, se = _check_size(n, s.min_items, s.max_items, field, "an array", "item")
  if not sized then return nil, sf, se end
  if s.items then
    local prefix = field or ""
    for i = 1, n do
      local ok, f, e = _check(s.items, v[i], prefix .. "[" .. i .. "]", sink, sending)
      if not ok then ok, f, e = _failed(sink, f, e) end
      if not ok then return nil, f, e end
    end
  end
  return true
end

-- Does the value's kind fit the branch's type at all?
local function _fits(s, kind)
  if kind == "null" then return s.nullable or s.type == "null" end
  local t = s.type
  if t == nil then return true end
  if kind == "empty" then return t == "array" or t == "object" end
  if t == "integer" then return kind == "number" end
  return t == kind
end

-- A const property (an enum of one) is how the spec's unions are told apart.
local function _discriminated(s, v)
  for name, ps in pairs(s.properties or {}) do
    if ps.enum and #ps.enum == 1 and rawget(v, name) ~= ps.enum[1] then return false end
  end
  return true
end

local function _check_any_of(s, v, field, kind, sink, sending)
  local fitting = {}
  -- Trying a branch is a question, not a report: no sink.
  for _, b in ipairs(s.any_of) do
    if _check(b, v, field, nil, sending) then return true end
    if _fits(b, kind) then fitting[#fitting + 1] = b end
  end
  if kind == "object" and #fitting > 1 then
    local picked = {}
    for _, b in ipairs(fitting) do
      if _discriminated(b, v) then picked[#picked + 1] = b end
    end
    fitting = picked
  end
  -- Exactly one plausible branch: its own complaint is the useful one.
  if #fitting == 1 then return _check(fitting[1], v, field, sink, sending) end
  return nil, field, _expected(s)
end

_check = function(s, v, field, sink, sending)
  if v == nil then return nil, field, "required" end
  local kind = _M.kind(v, sending)
  if kind == nil then
    if type(v) == "number" then return nil, field, "a finite number" end
    if type(v) == "table" then return nil, field, _M.unfit(v, s) end
    return nil, field, _expected(s)
  end
  if kind == "null" then
    if s.nullable or s.type == "null" or (s.type == nil and s.any_of == nil) then return true end
    if s.any_of then
      for _, b in ipairs(s.any_of) do
        if b.nullable or b.type == "null" then return true end
      end
    end
    return nil, field, _expected(s)
  end
  if s.any_of then
    local ok, f, e = _check_any_of(s, v, field, kind, sink, sending)
    if not ok then return nil, f, e end
  end
  local t = s.type
  if t == nil then return true end
  if t == "string" then
    -- a date-time may be given as os.time() seconds: build.lua writes it out
    if kind == "number" and s.format == "date-time" then
      local expected = _M.seconds_expected(v)
      if expected then return nil, field, expected end
      return true
    end
    if kind ~= "string" then return nil, field, _expected(s) end
    return _check_string(s, v, field)
  elseif t == "integer" then
    if kind ~= "number" or v ~= floor(v) then return nil, field, _expected(s) end
    return _check_number(s, v, field, "an integer")
  elseif t == "number" then
    if kind ~= "number" then return nil, field, _expected(s) end
    return _check_number(s, v, field, "a number")
  elseif t == "boolean" then
    if kind ~= "boolean" then return nil, field, _expected(s) end
    return true
  elseif t == "object" then
    if kind ~= "object" and kind ~= "empty" then return nil, field, _expected(s) end
    return _check_object(s, v, field, sink, sending)
  elseif t == "array" then
    if kind ~= "array" and kind ~= "empty" then return nil, field, _expected(s) end
    return _check_array(s, v, field, sink, sending)
  elseif t == "null" then
    return nil, field, "null"
  end
  return true
end

--- Check `value` against schema `s`.
--- Returns true, or nil, the path of the offending value (`field` extended
--- with ".name" and "[i]", 1-based) and a short phrase of what was expected.
--- Without `field`, paths start at the first key ("candidate.email_address")
--- and a failure of the value itself is reported as "value". With `sending`
--- (the value is about to go out) a table with a metatable other than an
--- array's mark is refused (plain says how).
function _M.check(s, value, field, sending)
  local ok, f, e = _check(s, value, field, nil, sending)
  if ok then return true end
  return nil, f or "value", e
end

--- Every problem of `value` against `s`, as { field, expected } in the
--- order `check` meets them (the first is the one `check` returns); an
--- empty list when it fits. `sending` as for check.
function _M.check_all(s, value, field, sending)
  local problems = {}
  local fits, f, e = _check(s, value, field, problems, sending)
  if not fits then problems[#problems + 1] = { field = f or "value", expected = e } end
  return problems
end

--- The phrase `check` uses for what schema `s` expects ("an integer from 1 to 250").
_M.expected = _expected

return _M
