-- Lua source for data: deterministic (sorted keys, shortest exact numbers),
-- one line when it fits in WIDTH columns, one field per line otherwise.
-- A value may stand for another piece of source: serialize.ref("S.name")
-- is written as that text, so a shared schema is referred to by name.

local _M = {}

local KEYWORDS = {}
for w in ([[and break do else elseif end false for function goto if in local nil not or
  repeat return then true until while]]):gmatch("%a+") do KEYWORDS[w] = true end

-- Fields of an operation read best in this order; schema keys follow sorted.
local RANK = {
  name = 1, alias = 2, method = 3, path = 4, path_params = 5, path_schemas = 6, query = 7, body = 8,
  paginated = 9, integration = 10, type = 11, schema = 12, list = 13, boolean = 14, required = 15,
}

local WIDTH = 100
_M.WIDTH = WIDTH

local REF = {}

--- A stand-in written as `text` verbatim.
function _M.ref(text)
  return setmetatable({ text = text }, REF)
end

function _M.is_ref(v)
  return getmetatable(v) == REF
end

local function _sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end
_M.sorted_keys = _sorted_keys

local function _key_less(a, b)
  local ra, rb = RANK[a] or 100, RANK[b] or 100
  if ra ~= rb then return ra < rb end
  return a < b
end

local function _quote(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    if c == '"' then return '\\"' end
    if c == "\\" then return "\\\\" end
    if c == "\n" then return "\\n" end
    return string.format("\\%03d", c:byte())
  end) .. '"'
end
_M.quote = _quote

local function _number(n)
  if n == math.floor(n) and math.abs(n) < 2 ^ 53 then return string.format("%d", n) end
  local s = string.format("%.17g", n)
  for p = 14, 16 do
    local short = string.format("%." .. p .. "g", n)
    if tonumber(short) == n then s = short; break end
  end
  return s
end

local function _is_list(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n == #t
end

local function _key(k)
  if k:match("^[%a_][%w_]*$") and not KEYWORDS[k] then return k end
  return "[" .. _quote(k) .. "]"
end

local function _ordered_keys(v, plain)
  local keys = _sorted_keys(v)
  if not plain then table.sort(keys, _key_less) end
  return keys
end

-- `plain`: the keys are property names, sorted without the field ranking.
local function _inline(v, plain)
  local t = type(v)
  if t == "string" then return _quote(v) end
  if t == "number" then return _number(v) end
  if t == "boolean" then return tostring(v) end
  if t ~= "table" then error("cannot serialize a " .. t) end
  if getmetatable(v) == REF then return v.text end
  if next(v) == nil then return "{}" end
  local parts = {}
  if _is_list(v) then
    for i = 1, #v do parts[i] = _inline(v[i]) end
  else
    for i, k in ipairs(_ordered_keys(v, plain)) do
      parts[i] = _key(k) .. " = " .. _inline(v[k], k == "properties" or k == "path_schemas")
    end
  end
  return "{ " .. table.concat(parts, ", ") .. " }"
end
_M.inline = _inline

--- Appends the lines of `prefix .. v` (with a trailing comma) at `indent`.
local function _emit(v, indent, out, prefix, plain)
  local one = _inline(v, plain)
  if type(v) ~= "table" or getmetatable(v) == REF or #indent + #prefix + #one + 1 <= WIDTH then
    out[#out + 1] = indent .. prefix .. one .. ","
    return
  end
  out[#out + 1] = indent .. prefix .. "{"
  local inner = indent .. "  "
  if _is_list(v) then
    for i = 1, #v do _emit(v[i], inner, out, "") end
  else
    for _, k in ipairs(_ordered_keys(v, plain)) do
      _emit(v[k], inner, out, _key(k) .. " = ", k == "properties" or k == "path_schemas")
    end
  end
  out[#out + 1] = indent .. "},"
end
_M.emit = _emit

return _M
