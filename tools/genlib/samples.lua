-- Example values that a schema of the operation table accepts: the
-- smallest valid request (required fields only) or, for documentation, one
-- with a few telling optional fields. Used by the docs generator and by
-- spec/documented_operations_spec.lua, which sends one valid request per
-- operation; both check every value with kombo.schema before using it.
--
-- A string with a `pattern` gets a string generated from the pattern
-- itself (the first alternative, the fewest repetitions), so it matches
-- even where kombo.schema cannot translate the pattern to Lua and skips it.

local schema = require("kombo.schema")

local _M = {}

-- Regex sampling -------------------------------------------------------------

-- Parses the ECMAScript subset the document uses into a sequence of
-- { kind, ... } nodes; returns the node list and the next index.
local _parse_alt

local ESCAPE_CHARS = { d = "1", w = "a", s = " ", D = "x", W = "-", S = "x" }

-- A character a class [...] accepts: the first one of its first range, or
-- for a negated class the first of "a1A_" it does not exclude.
local function _class_char(body)
  local negated = body:sub(1, 1) == "^"
  if negated then body = body:sub(2) end
  local chars, i = {}, 1
  local ranges = {}
  while i <= #body do
    local c = body:sub(i, i)
    if c == "\\" then
      local e = body:sub(i + 1, i + 1)
      if e == "d" then ranges[#ranges + 1] = { "0", "9" }
      elseif e == "w" then ranges[#ranges + 1] = { "a", "z" }; chars[#chars + 1] = "_"
      elseif e == "s" then chars[#chars + 1] = " "
      else chars[#chars + 1] = e end
      i = i + 2
    elseif body:sub(i + 1, i + 1) == "-" and i + 2 <= #body then
      ranges[#ranges + 1] = { c, body:sub(i + 2, i + 2) }
      i = i + 3
    else
      chars[#chars + 1] = c
      i = i + 1
    end
  end
  local function accepts(ch)
    for _, r in ipairs(ranges) do
      if ch >= r[1] and ch <= r[2] then return true end
    end
    for _, c in ipairs(chars) do
      if c == ch then return true end
    end
    return false
  end
  if negated then
    for _, ch in ipairs({ "a", "1", "A", "_" }) do
      if not accepts(ch) then return ch end
    end
    return "~"
  end
  -- Prefer a letter or digit the class accepts: reads better than "!".
  for _, ch in ipairs({ "a", "A", "1", "0" }) do
    if accepts(ch) then return ch end
  end
  if ranges[1] then return ranges[1][1] end
  return chars[1] or ""
end

local function _parse_seq(src, i)
  local seq = {}
  while i <= #src do
    local c = src:sub(i, i)
    local atom
    if c == "|" or c == ")" then break end
    if c == "^" or c == "$" then
      i = i + 1
    elseif c == "(" then
      local lookahead = src:sub(i, i + 2) == "(?=" or src:sub(i, i + 2) == "(?!"
      local skip = src:sub(i + 1, i + 1) == "?" and 3 or 1
      local alts
      alts, i = _parse_alt(src, i + skip)
      i = i + 1 -- ")"
      atom = lookahead and { kind = "empty" } or { kind = "group", alts = alts }
    elseif c == "[" then
      local j = i + 1
      if src:sub(j, j) == "^" then j = j + 1 end
      if src:sub(j, j) == "]" then j = j + 1 end
      while src:sub(j, j) ~= "]" do
        if src:sub(j, j) == "\\" then j = j + 1 end
        j = j + 1
      end
      atom = { kind = "char", text = _class_char(src:sub(i + 1, j - 1)) }
      i = j + 1
    elseif c == "\\" then
      local e = src:sub(i + 1, i + 1)
      atom = { kind = "char", text = ESCAPE_CHARS[e] or e }
      i = i + 2
    elseif c == "." then
      atom = { kind = "char", text = "a" }
      i = i + 1
    else
      atom = { kind = "char", text = c }
      i = i + 1
    end
    if atom then
      local q = src:sub(i, i)
      local min = 1
      if q == "*" or q == "?" then
        min, i = 0, i + 1
      elseif q == "+" then
        min, i = 1, i + 1
      elseif q == "{" then
        local lo, stop = src:match("^{(%d+),?%d*}()", i)
        min, i = tonumber(lo), stop
      end
      if src:sub(i, i) == "?" then i = i + 1 end -- lazy quantifier
      atom.min = min
      seq[#seq + 1] = atom
    end
  end
  return seq, i
end

_parse_alt = function(src, i)
  local alts = {}
  while true do
    local seq
    seq, i = _parse_seq(src, i)
    alts[#alts + 1] = seq
    if src:sub(i, i) ~= "|" then break end
    i = i + 1
  end
  return alts, i
end

local function _gen_seq(seq)
  local out = {}
  for _, atom in ipairs(seq) do
    local one
    if atom.kind == "char" then
      one = atom.text
    elseif atom.kind == "group" then
      one = _gen_seq(atom.alts[1])
    else
      one = ""
    end
    out[#out + 1] = one:rep(atom.min)
  end
  return table.concat(out)
end

--- A string the ECMAScript regex `src` matches (for the subset the
--- document uses: classes, escapes, groups, alternation, quantifiers,
--- lookaheads taken as satisfied).
function _M.from_pattern(src)
  local alts = _parse_alt(src, 1)
  return _gen_seq(alts[1])
end

-- Values ---------------------------------------------------------------------

-- Strings by field name, where a plain "<name> value" would read badly.
_M.NAMED = {
  email = "jane.doe@example.com",
  email_address = "jane.doe@example.com",
  first_name = "Jane",
  last_name = "Doe",
  label = "Coding assessment: 87/100",
  content = "Strong system design round; move to the onsite.",
  note = "Thanks for applying; we have moved forward with other candidates.",
  country = "DE",
  currency = "EUR",
  language = "en",
  locale = "en",
  content_type = "application/pdf",
  data = "JVBERi0xLjQK",
  tool = "personio",
  api = "hris",
  method = "GET",
  end_user_email = "jane.doe@example.com",
  end_user_organization_name = "Acme Inc.",
  end_user_origin_id = "123",
  url = "https://example.com/",
}

-- Strings a pattern the SDK checks may accept, tried before one generated
-- from the pattern (which matches, but reads like "1111-11-11").
local NICE = { "2024-04-12", "2024-04", "DE", "application/pdf", "/", "https://example.com/", "12:30" }

local FORMATS = {
  ["date-time"] = "2024-04-12T14:33:47.000Z",
  email = "jane.doe@example.com",
  uri = "https://example.com/",
  byte = "SGVsbG8=",
}

--- A string for field `name` that schema `s` accepts, checked with
--- `check(s, value)` (kombo.schema.check).
local function _string(s, name, check)
  local candidates = {}
  name = name or "text"
  if _M.NAMED[name] then candidates[#candidates + 1] = _M.NAMED[name] end
  if s.format and FORMATS[s.format] then candidates[#candidates + 1] = FORMATS[s.format] end
  if name:match("_id$") or name == "id" then candidates[#candidates + 1] = "GRKdd9dibYKKCrmGRSMJf3wu" end
  -- Times and dates by name, where the document gives no format.
  if name:match("_at$") or name:match("_time$") then candidates[#candidates + 1] = FORMATS["date-time"] end
  if name:match("date") or name:match("month$") then candidates[#candidates + 1] = "2024-04-12" end
  if s.pattern and _M.lua_checked(s) then
    for _, nice in ipairs(NICE) do candidates[#candidates + 1] = nice end
  end
  if s.pattern then candidates[#candidates + 1] = _M.from_pattern(s.pattern) end
  candidates[#candidates + 1] = name:gsub("_", " ") .. " value"
  for _, c in ipairs(candidates) do
    local v = c
    if s.min_length and #v < s.min_length then v = v .. ("x"):rep(s.min_length - #v) end
    if s.max_length and #v > s.max_length then v = v:sub(1, s.max_length) end
    -- A pattern the SDK cannot translate is not checked there: the sample
    -- generated from the pattern is the one known to match, unless the
    -- format the SDK checks says as much (date-time is the document's
    -- date-time pattern, an email address matches its email patterns).
    if check(s, v) and (not s.pattern or c == _M.from_pattern(s.pattern) or _M.lua_checked(s)
      or (FORMATS[s.format] and v == FORMATS[s.format])) then
      return v
    end
  end
  return nil
end

local _value

local function _object(s, opts, check, depth)
  local out = {}
  local required = {}
  for _, r in ipairs(s.required or {}) do required[r] = true end
  local keys = {}
  for k in pairs(s.properties or {}) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    if required[k] or (opts.named and opts.named[k]) then
      local v = _value(s.properties[k], k, opts, check, depth + 1)
      if v == nil then return nil end
      out[k] = v
    end
  end
  -- A required field the object does not describe: any string will do.
  for r in pairs(required) do
    if out[r] == nil then out[r] = _M.NAMED[r] or (r .. " value") end
  end
  return out
end

_value = function(s, name, opts, check, depth)
  if depth > 30 then return nil end
  if s.any_of then
    for _, b in ipairs(s.any_of) do
      local v = _value(b, name, opts, check, depth)
      if v ~= nil and check(s, v) then return v end
    end
    return nil
  end
  if s.enum then return s.enum[1] end
  local t = s.type
  if t == "string" then return _string(s, name, check) end
  if t == "integer" or t == "number" then
    local v = 1
    if s.minimum and s.minimum > -1e308 and v < s.minimum then v = s.minimum end
    if s.exclusive_minimum and v <= s.exclusive_minimum then v = math.floor(s.exclusive_minimum) + 1 end
    if s.maximum and s.maximum < 1e308 and v > s.maximum then v = s.maximum end
    return v
  end
  if t == "boolean" then return true end
  if t == "array" then
    local n = math.max(s.min_items or 0, opts.fill_arrays and 1 or 0)
    local out = {}
    for i = 1, n do
      local v = _value(s.items or { type = "string" }, name and name:gsub("s$", "") or nil, opts, check, depth + 1)
      if v == nil then return nil end
      out[i] = v
    end
    return out
  end
  if t == "object" then return _object(s, opts, check, depth) end
  if t == "null" then return opts.null end
  return name and (name .. " value") or "value"
end

--- A value schema `s` accepts, for the field called `name`:
--- opts.null (the JSON null to use), opts.named (optional field names to
--- fill too), opts.fill_arrays (one item in optional arrays), opts.check
--- (default kombo.schema.check). Returns nil when none could be made.
function _M.value(s, name, opts)
  opts = opts or {}
  local check_fn = opts.check or schema.check
  local check = function(sch, v) return (check_fn(sch, v)) end
  local v = _value(s, name, opts, check, 0)
  if v ~= nil and not check(s, v) then return nil end
  return v
end

--- Does kombo.schema check this schema's pattern (it translates to Lua)?
function _M.lua_checked(s)
  return schema.lua_pattern(s.pattern) ~= nil
end

return _M
