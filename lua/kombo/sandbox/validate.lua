-- Request validation for the sandbox: query parameters and JSON bodies are
-- checked against the generated operation table (lua/kombo/operations.lua)
-- with lua/kombo/schema.lua, the way Kombo rejects bad input with a 400.
--
-- Query values arrive as text, so integers and booleans-as-strings are
-- converted before the schema sees them.

local operations = require("kombo.operations")
local schema = require("kombo.schema")

local tonumber, ipairs, floor = tonumber, ipairs, math.floor

local _M = {}

local BY_NAME = {}
for _, op in ipairs(operations) do
  local query = {}
  for _, q in ipairs(op.query or {}) do query[q.name] = q end
  BY_NAME[op.name] = { op = op, query = query }
end

--- The operation table entry for a Lua operation name.
function _M.operation(name)
  local e = BY_NAME[name]
  return e and e.op
end

-- A query text converted to what the parameter's schema describes.
local function _typed(q, text)
  local t = q.schema and q.schema.type
  if t == "integer" or t == "number" then
    local n = tonumber(text)
    if n and t == "integer" and n ~= floor(n) then return text end
    return n or text
  end
  return text
end

--- Check a parsed query (`names` in order of appearance) for operation `name`.
--- Returns true or nil, field, expected.
function _M.query(name, query, names)
  local e = BY_NAME[name]
  if not e then return true end
  for _, k in ipairs(names) do
    local q = e.query[k]
    if not q then return nil, k, "not a query parameter of this endpoint" end
    local ok, field, expected = schema.check(q.schema or {}, _typed(q, query[k]), k)
    if not ok then return nil, field, expected end
  end
  return true
end

--- Check a decoded JSON body for operation `name`.
--- Returns true or nil, field, expected.
function _M.body(name, body)
  local e = BY_NAME[name]
  if not e then return true end
  local s = e.op.body
  if not s then
    if body ~= nil then return nil, "body", "no request body" end
    return true
  end
  if body == nil then return nil, "body", "a JSON object" end
  return schema.check(s, body, "body")
end

return _M
