-- Small helpers shared by the sandbox server: a JSON encoder that knows
-- empty arrays (lua-cjson 2.1.0 would write `{}`), base64, ISO 8601 times,
-- a deterministic PRNG that needs no bit operations, and list parsing.

local cjson = require("cjson.safe").new()
local uv = require("luv")

local byte, char, concat, floor, format = string.byte, string.char, table.concat, math.floor, string.format
local gsub, sub, type, pairs, next, tostring = string.gsub, string.sub, type, pairs, next, tostring
local getmetatable, setmetatable, sort = getmetatable, setmetatable, table.sort
local huge = math.huge

local _M = {}

_M.null = cjson.null

--- A short stable hash of a list query's filters (everything but cursor
-- and page_size; include_deleted=false is its default), so a cursor only
-- goes with the filters it was made for.
function _M.filter_hash(q)
  local parts = {}
  for k, v in pairs(q) do
    if k ~= "cursor" and k ~= "page_size" and not (k == "include_deleted" and v == "false") then
      parts[#parts + 1] = k .. "=" .. v
    end
  end
  sort(parts)
  local s, h = concat(parts, "&"), 7
  for i = 1, #s do h = (h * 31 + byte(s, i)) % 2147483647 end
  return format("%08x", h)
end

--- Decode JSON text; nil, message on malformed input.
function _M.decode(text)
  return cjson.decode(text)
end

-- Tables carrying this metatable are written as JSON arrays even when empty.
local ARRAY = {}

-- Tables carrying this metatable hold JSON text that is written verbatim.
local RAW = {}

--- Wrap already-encoded JSON text so encode() splices it in as it is.
function _M.raw(text)
  return setmetatable({ text }, RAW)
end

--- Mark (or make) a table as a JSON array.
function _M.array(t)
  return setmetatable(t or {}, ARRAY)
end

local ESCAPES = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }

local function _escape_char(c)
  return ESCAPES[c] or format("\\u%04x", byte(c))
end

local function _is_array(t)
  if getmetatable(t) == ARRAY then return true end
  if t[1] == nil then return false end
  local n = #t
  for k in pairs(t) do
    if type(k) ~= "number" or k < 1 or k > n or k ~= floor(k) then return false end
  end
  return true
end

local function _number(v)
  if v ~= v or v == huge or v == -huge then return "null" end
  if v == floor(v) and v > -2^53 and v < 2^53 then return format("%.0f", v) end
  return format("%.17g", v)
end

local _encode

local function _encode_into(v, buf, n)
  local t = type(v)
  if t == "string" then
    n = n + 1; buf[n] = '"' .. gsub(v, '[%c"\\]', _escape_char) .. '"'
  elseif t == "number" then
    n = n + 1; buf[n] = _number(v)
  elseif t == "boolean" then
    n = n + 1; buf[n] = v and "true" or "false"
  elseif v == nil or v == cjson.null then
    n = n + 1; buf[n] = "null"
  elseif t == "table" then
    if getmetatable(v) == RAW then
      n = n + 1; buf[n] = v[1]
    elseif _is_array(v) then
      n = n + 1; buf[n] = "["
      for i = 1, #v do
        if i > 1 then n = n + 1; buf[n] = "," end
        n = _encode_into(v[i], buf, n)
      end
      n = n + 1; buf[n] = "]"
    else
      -- Sorted keys make every response byte-for-byte reproducible.
      local keys, nk = {}, 0
      for k in pairs(v) do nk = nk + 1; keys[nk] = tostring(k) end
      sort(keys)
      n = n + 1; buf[n] = "{"
      for i = 1, nk do
        local k = keys[i]
        local val = v[k]
        if val == nil then val = v[tonumber(k)] end
        if i > 1 then n = n + 1; buf[n] = "," end
        n = n + 1; buf[n] = '"' .. gsub(k, '[%c"\\]', _escape_char) .. '":'
        n = _encode_into(val, buf, n)
      end
      n = n + 1; buf[n] = "}"
    end
  else
    error("cannot encode a " .. t .. " as JSON")
  end
  return n
end

_encode = function(v)
  local buf = {}
  local n = _encode_into(v, buf, 0)
  return concat(buf, "", 1, n)
end

--- Encode a Lua value as JSON text (cjson.null -> null, util.array -> []).
_M.encode = _encode

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local B64_INDEX = {}
for i = 1, 64 do B64_INDEX[byte(B64, i)] = i - 1 end

--- Standard base64 with padding.
function _M.b64encode(s)
  local out, n = {}, 0
  for i = 1, #s, 3 do
    local a, b, c = byte(s, i, i + 2)
    local v = a * 65536 + (b or 0) * 256 + (c or 0)
    local c1, c2 = floor(v / 262144) % 64, floor(v / 4096) % 64
    local c3, c4 = floor(v / 64) % 64, v % 64
    n = n + 1
    out[n] = sub(B64, c1 + 1, c1 + 1) .. sub(B64, c2 + 1, c2 + 1)
      .. (b and sub(B64, c3 + 1, c3 + 1) or "=") .. (c and sub(B64, c4 + 1, c4 + 1) or "=")
  end
  return concat(out)
end

--- Decode base64; nil when the text is not base64.
function _M.b64decode(s)
  s = gsub(s, "=+$", "")
  local out, n = {}, 0
  for i = 1, #s, 4 do
    local v, count = 0, 0
    for j = i, i + 3 do
      local b = byte(s, j)
      if b then
        local d = B64_INDEX[b]
        if not d then return nil end
        v = v * 64 + d
        count = count + 1
      end
    end
    if count == 1 then return nil end
    for _ = count + 1, 4 do v = v * 64 end
    local bytes = char(floor(v / 65536) % 256, floor(v / 256) % 256, v % 256)
    n = n + 1
    out[n] = sub(bytes, 1, count - 1)
  end
  return concat(out)
end

-- Days since 1970-01-01 of a civil date (proleptic Gregorian), so parsing
-- never depends on the local time zone the way os.time would.
local function _days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

--- Parse an ISO 8601 date or date-time into milliseconds since the epoch.
-- Accepts `YYYY-MM-DD`, optional `THH:MM:SS`, fraction, and `Z` or `+HH:MM`.
function _M.parse_time(s)
  if type(s) ~= "string" then return nil end
  local y, mo, d, rest = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)(.*)$")
  if not y then return nil end
  local h, mi, se, frac, zone = 0, 0, 0, "", ""
  if rest ~= "" then
    h, mi, se, frac, zone = rest:match("^[T ](%d%d):(%d%d):(%d%d)%.?(%d*)(.*)$")
    if not h then return nil end
  end
  y, mo, d, h, mi, se = tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi), tonumber(se)
  if mo < 1 or mo > 12 or d < 1 or d > 31 or h > 23 or mi > 59 or se > 60 then return nil end
  local offset = 0
  if zone ~= "" and zone ~= "Z" then
    local sign, zh, zm = zone:match("^([+-])(%d%d):?(%d%d)$")
    if not sign then return nil end
    offset = (tonumber(zh) * 60 + tonumber(zm)) * 60000
    if sign == "-" then offset = -offset end
  end
  local ms = frac ~= "" and floor(tonumber("0." .. frac) * 1000 + 0.5) or 0
  local secs = ((_days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60 + se
  return secs * 1000 + ms - offset
end

--- Milliseconds since the epoch -> "2024-04-12T14:33:47.000Z".
function _M.iso(ms)
  local secs = floor(ms / 1000)
  return os.date("!%Y-%m-%dT%H:%M:%S", secs) .. format(".%03dZ", ms - secs * 1000)
end

--- Now in milliseconds since the epoch.
function _M.now_ms()
  local sec, usec = uv.gettimeofday()
  if not sec then return os.time() * 1000 end
  return sec * 1000 + floor(usec / 1000)
end

--- Split a comma-separated query value into a set and a list, ignoring blanks.
function _M.split(value)
  if value == nil then return nil end
  local set, list = {}, {}
  for item in (value .. ","):gmatch("([^,]*),") do
    item = item:match("^%s*(.-)%s*$")
    if item ~= "" and not set[item] then
      set[item] = true
      list[#list + 1] = item
    end
  end
  return set, list
end

--- Is the table empty?
function _M.empty(t)
  return next(t) == nil
end

-- Park-Miller minimal standard generator: exact in doubles, identical on
-- every Lua version, no bit operators.
local Rng = {}
Rng.__index = Rng

--- A deterministic pseudo-random generator seeded with an integer.
function _M.rng(seed)
  local s = floor(tonumber(seed) or 1) % 2147483647
  if s <= 0 then s = s + 2147483646 end
  return setmetatable({ s = s }, Rng)
end

--- Next float in [0, 1).
function Rng:float()
  self.s = (self.s * 16807) % 2147483647
  return (self.s - 1) / 2147483646
end

--- Integer in [a, b].
function Rng:int(a, b)
  return a + floor(self:float() * (b - a + 1))
end

--- One element of a list.
function Rng:pick(list)
  return list[self:int(1, #list)]
end

--- True with probability p.
function Rng:chance(p)
  return self:float() < p
end

local BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

--- A Kombo-looking 24-character id.
function Rng:id()
  local out = {}
  for i = 1, 24 do
    local k = self:int(1, 58)
    out[i] = sub(BASE58, k, k)
  end
  return concat(out)
end

--- Percent-decode a URL component ('+' is a space in query strings).
function _M.unescape(s, plus)
  if plus then s = gsub(s, "%+", " ") end
  return (gsub(s, "%%(%x%x)", function(h) return char(tonumber(h, 16)) end))
end

--- Parse a raw query string into a table (the last value of a repeated name wins)
-- and an ordered list of names.
function _M.parse_query(raw)
  local q, names = {}, {}
  if not raw or raw == "" then return q, names end
  for pair in (raw .. "&"):gmatch("([^&]*)&") do
    if pair ~= "" then
      local k, v = pair:match("^([^=]*)=(.*)$")
      if not k then k, v = pair, "" end
      k, v = _M.unescape(k, true), _M.unescape(v, true)
      if q[k] == nil then names[#names + 1] = k end
      q[k] = v
    end
  end
  return q, names
end

return _M
