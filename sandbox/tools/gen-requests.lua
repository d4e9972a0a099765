-- Copies the request side of the sandbox's endpoints out of Kombo's OpenAPI
-- document into sandbox/lua/kombo_sandbox/requests.lua:
--
--   lua5.4 sandbox/tools/gen-requests.lua reference/kombo-openapi.json > sandbox/lua/kombo_sandbox/requests.lua
--
-- (or `make sandbox-requests`). Schemas keep the document's own keywords and
-- meaning; only prose is dropped and `$ref` becomes `ref` = the schema's name.
-- This is deliberately not the SDK's operation table: the SDK's generator
-- reshapes the schemas for its checker, and a mistake there must not be
-- repeated by the server that tests it. A keyword this copy does not know
-- stops it, so a newer document cannot slip a constraint past the sandbox.
-- The output is deterministic: the same document gives the same bytes.

local cjson = require("cjson").new()

local here = (arg and arg[0] or ""):match("^(.*)/tools/[^/]+$") or "sandbox"
package.path = here .. "/lua/?.lua;" .. package.path
local endpoints = require("kombo_sandbox.endpoints")

local NULL = cjson.null

-- Keywords that constrain a value: kept as they are.
local KEEP = {
  type = true, enum = true, const = true, format = true, pattern = true, nullable = true,
  minimum = true, maximum = true, exclusiveMinimum = true, exclusiveMaximum = true,
  minLength = true, maxLength = true, minItems = true, maxItems = true,
  required = true, properties = true, additionalProperties = true, items = true,
  allOf = true, anyOf = true, oneOf = true, ["$ref"] = true,
  -- The accepted items of a comma-separated list filter.
  ["x-kombo-item-enum"] = true,
}
-- Keywords that constrain nothing a request is checked for.
local PROSE = {
  description = true, example = true, examples = true, externalDocs = true, default = true,
  discriminator = true, title = true, deprecated = true, readOnly = true, writeOnly = true,
  xml = true, ["$comment"] = true,
}

local function fail(fmt, ...)
  io.stderr:write("gen-requests: ", fmt:format(...), "\n")
  os.exit(1)
end

local path = arg[1] or fail("usage: gen-requests.lua kombo-openapi.json")
local f = io.open(path, "rb") or fail("cannot read %s", path)
local doc = cjson.decode(f:read("*a"))
f:close()

-- The operations of the official SDKs that the document lacks are in
-- kombo-openapi-additions.json beside it, in its conventions: merged by
-- union of paths and schemas.
local additions_path = path:gsub("[^/]*$", "") .. "kombo-openapi-additions.json"
f = io.open(additions_path, "rb")
if f then
  local add = cjson.decode(f:read("*a"))
  f:close()
  for p, item in pairs(add.paths or {}) do
    doc.paths[p] = doc.paths[p] or {}
    for m, op in pairs(item) do
      if doc.paths[p][m] then fail("%s %s is in both documents", m, p) end
      doc.paths[p][m] = op
    end
  end
  for name, sch in pairs((add.components or {}).schemas or {}) do
    if doc.components.schemas[name] then fail("schema %s is in both documents", name) end
    doc.components.schemas[name] = sch
  end
end

local schemas, wanted = {}, {}

local copy

local function copy_list(list, where)
  local out = {}
  for i, s in ipairs(list) do out[i] = copy(s, where .. "[" .. i .. "]") end
  return out
end

copy = function(s, where)
  if type(s) ~= "table" then fail("%s: a schema must be an object", where) end
  local out = {}
  for k, v in pairs(s) do
    if PROSE[k] then -- luacheck: ignore 542
    elseif not KEEP[k] then
      fail("%s: keyword %s is not understood; teach the sandbox's validator before copying it", where, k)
    elseif k == "$ref" then
      local name = v:match("^#/components/schemas/([^/]+)$") or fail("%s: unexpected $ref %s", where, v)
      out.ref = name
      wanted[name] = true
    elseif k == "properties" then
      local props = {}
      for name, p in pairs(v) do props[name] = copy(p, where .. "." .. name) end
      out.properties = props
    elseif k == "items" then
      out.items = copy(v, where .. "[]")
    elseif k == "additionalProperties" then
      out.additionalProperties = type(v) == "table" and copy(v, where .. ".*") or v
    elseif k == "allOf" or k == "anyOf" or k == "oneOf" then
      out[k] = copy_list(v, where .. "." .. k)
    else
      if type(v) == "table" then
        for _, e in ipairs(v) do
          if e == NULL then fail("%s: null inside %s", where, k) end
        end
      end
      out[k] = v
    end
  end
  return out
end

local function resolve(s)
  while s and s["$ref"] do s = doc.components.schemas[s["$ref"]:match("([^/]+)$")] end
  return s or {}
end

-- Does the 200 answer's data require `next` and `results`? The document says
-- to send data.next back as `cursor`, also where it lists no such parameter.
local function pages(op)
  local media = op.responses and op.responses["200"] and op.responses["200"].content
  local body = resolve(media and media["application/json"] and media["application/json"].schema)
  local data = resolve((body.properties or {}).data)
  local required = {}
  for _, name in ipairs(data.required or {}) do required[name] = true end
  return required.next and required.results
end

local operations = {}
for _, e in ipairs(endpoints) do
  local method, p, name = e[1], e[2], e[3]
  local item = doc.paths[p] or fail("the document has no path %s", p)
  local op = item[method:lower()] or fail("the document has no %s %s", method, p)
  local query, integration = {}, false
  for _, list in ipairs({ item.parameters or {}, op.parameters or {} }) do
    for _, prm in ipairs(list) do
      if prm["$ref"] then fail("%s: parameter $ref is not supported", name) end
      if prm["in"] == "query" then
        query[#query + 1] = { name = prm.name, required = prm.required == true,
          schema = copy(prm.schema or {}, name .. "." .. prm.name) }
      elseif prm["in"] == "header" and prm.name == "X-Integration-Id" then
        integration = true
      end
    end
  end
  local listed = false
  for _, q in ipairs(query) do listed = listed or q.name == "cursor" end
  if not listed and pages(op) then
    query[#query + 1] = { name = "cursor", required = false, schema = { type = "string" } }
  end
  -- `integration`: the endpoint takes X-Integration-Id (account-level ones,
  -- such as /check-api-key, do not).
  local entry = { method = method, path = p, query = query, integration = integration }
  if op.requestBody then
    local content = op.requestBody.content or {}
    local json = content["application/json"] or fail("%s: the request body is not JSON", name)
    entry.body = copy(json.schema or {}, name .. ".body")
  end
  operations[name] = entry
end

-- Every schema a copied one refers to, and the ones those refer to.
repeat
  local more = false
  for name in pairs(wanted) do
    if not schemas[name] then
      local s = doc.components.schemas[name] or fail("no schema %s", name)
      schemas[name] = copy(s, name)
      more = true
    end
  end
until not more

-- A deterministic Lua writer: sorted keys, one level per line once a table
-- no longer fits in the line.
local IDENT = { ["and"] = 1, ["break"] = 1, ["do"] = 1, ["else"] = 1, ["elseif"] = 1, ["end"] = 1,
  ["false"] = 1, ["for"] = 1, ["function"] = 1, ["goto"] = 1, ["if"] = 1, ["in"] = 1, ["local"] = 1,
  ["nil"] = 1, ["not"] = 1, ["or"] = 1, ["repeat"] = 1, ["return"] = 1, ["then"] = 1, ["true"] = 1,
  ["until"] = 1, ["while"] = 1 }

local function str(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    if c == "\n" then return "\\n" end
    if c == '"' or c == "\\" then return "\\" .. c end
    return ("\\%03d"):format(c:byte())
  end) .. '"'
end

local function key(k)
  if k:match("^[%a_][%w_]*$") and not IDENT[k] then return k end
  return "[" .. str(k) .. "]"
end

local function is_list(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n == #t
end

local write

local function items(t)
  local out = {}
  if is_list(t) and #t > 0 then
    for i = 1, #t do out[i] = { nil, t[i] } end
  else
    local keys = {}
    for k in pairs(t) do keys[#keys + 1] = k end
    table.sort(keys)
    for i, k in ipairs(keys) do out[i] = { key(k), t[k] } end
  end
  return out
end

-- `lead` is how many characters precede the value on its line.
write = function(v, indent, lead)
  local t = type(v)
  if t == "string" then return str(v) end
  if t == "boolean" then return tostring(v) end
  if t == "number" then
    if v == math.floor(v) and v > -2 ^ 53 and v < 2 ^ 53 then return ("%d"):format(v) end
    return ("%.17g"):format(v)
  end
  if t ~= "table" then fail("cannot write a %s", t) end
  local list = items(v)
  if #list == 0 then return "{}" end
  local parts = {}
  for i, kv in ipairs(list) do
    local k = kv[1] and (kv[1] .. " = ") or ""
    parts[i] = k .. write(kv[2], indent .. "  ", #indent + 2 + #k)
  end
  local flat = "{ " .. table.concat(parts, ", ") .. " }"
  if lead + #flat <= 110 and not flat:find("\n") then return flat end
  return "{\n" .. indent .. "  " .. table.concat(parts, ",\n" .. indent .. "  ") .. ",\n" .. indent .. "}"
end

io.write("-- GENERATED by sandbox/tools/gen-requests.lua from Kombo's OpenAPI document\n",
  "-- (reference/kombo-openapi.json and kombo-openapi-additions.json beside it;\n",
  "-- make sandbox-requests); do not edit.\n",
  "-- The request side of every endpoint in endpoints.lua: query parameters\n",
  "-- and the JSON body, in the document's own schema keywords; `ref` names a\n",
  "-- schema of `schemas`. validate.lua interprets them.\n",
  "return ", write({ operations = operations, schemas = schemas }, "", 7), "\n")
