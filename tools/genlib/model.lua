-- The operations of Kombo's API as the generators see them, derived from the
-- documents in reference/ and nothing else:
--
--   kombo-openapi.json            every path, parameter and schema
--   kombo-openapi-additions.json  the SDK operations the document lacks (merged
--                                 by union of paths and components)
--   kombo-sdk-operations.md       each operation's group and names, as the
--                                 official SDKs have them
--
-- The set of operations is the merged document's; the markdown must name each
-- of them exactly once, and any disagreement between the two (a row for an
-- operation the document lacks, a `pages` or `body` column that the document
-- contradicts, a Lua name that is not the snake_case of the SDK name) stops the
-- generator instead of being papered over.

local cjson = require("cjson").new()
local serialize = require("genlib.serialize")

local _M = {}

-- Keywords that carry no constraint a client can check; anything else that is
-- not understood stops the generator instead of being silently dropped.
local PROSE = {
  description = true, example = true, examples = true, externalDocs = true,
  default = true, discriminator = true, title = true, deprecated = true,
  readOnly = true, writeOnly = true, xml = true, ["$comment"] = true,
}

-- Integer/float width formats say nothing beyond `type`.
local NUMERIC_FORMATS = { int32 = true, int64 = true, float = true, double = true }

local METHODS = { "get", "put", "post", "delete", "patch" }

-- Groups in the order the official TypeScript SDK lists them, then the ones
-- for paths it lacks (named after the path's first segment).
_M.GROUP_ORDER = { "general", "ats", "hris", "assessment", "connect", "lms", "ai_apply", "custom" }

local function _fail(fmt, ...)
  error({ message = string.format(fmt, ...) }, 0)
end
_M.fail = _fail

local _sorted_keys = serialize.sorted_keys
_M.sorted_keys = _sorted_keys

local function _copy_list(t)
  local out = {}
  for i = 1, #t do out[i] = t[i] end
  return out
end

local function _same(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then return a == b end
  for k, v in pairs(a) do
    if not _same(v, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end
_M.same = _same

-- Schemas --------------------------------------------------------------------

-- Keywords taken over as they are, under the validator's names.
local BOUNDS = {
  pattern = "pattern", minLength = "min_length", maxLength = "max_length", minimum = "minimum",
  maximum = "maximum", exclusiveMinimum = "exclusive_minimum", exclusiveMaximum = "exclusive_maximum",
  minItems = "min_items", maxItems = "max_items",
}

local _convert

-- allOf: every part must hold, so object parts merge (properties and required
-- united); anything that would need real intersection logic is refused.
local function _merge(a, b, where)
  if next(a) == nil then return b end
  if next(b) == nil then return a end
  if a.type and b.type and a.type ~= b.type then _fail("allOf with different types at %s", where) end
  local out = {}
  for k, v in pairs(a) do out[k] = v end
  for k, v in pairs(b) do
    if k == "properties" then
      local props = {}
      for pk, pv in pairs(a.properties or {}) do props[pk] = pv end
      for pk, pv in pairs(v) do
        props[pk] = props[pk] and _merge(props[pk], pv, where .. "." .. pk) or pv
      end
      out.properties = props
    elseif k == "required" then
      local req, seen = {}, {}
      for _, list in ipairs({ a.required or {}, v }) do
        for _, name in ipairs(list) do
          if not seen[name] then seen[name] = true; req[#req + 1] = name end
        end
      end
      out.required = req
    elseif k == "additional" then
      out.additional = (a.additional ~= false and v ~= false)
    elseif k == "nullable" then
      out.nullable = a.nullable and v or nil
    elseif k == "description" then
      out.description = out.description or v
    elseif out[k] ~= nil and not _same(out[k], v) then
      _fail("allOf with conflicting %s at %s", k, where)
    else
      out[k] = v
    end
  end
  return out
end

local function _is_null_schema(s)
  for k in pairs(s) do
    if k ~= "type" and k ~= "description" then return false end
  end
  return s.type == "null"
end

-- anyOf/oneOf: "X or null" becomes X with nullable; the rest stays a choice.
-- oneOf exclusivity is not kept: the document's oneOf branches are told apart
-- by a const discriminator, so at most one can match anyway.
local function _choice(list, ctx, where)
  local branches, nullable = {}, false
  for i, sub in ipairs(list) do
    local c = _convert(sub, ctx, where .. "|" .. i)
    if _is_null_schema(c) then nullable = true else branches[#branches + 1] = c end
  end
  local out
  if #branches == 1 then
    out = {}
    for k, v in pairs(branches[1]) do out[k] = v end
  else
    out = { any_of = branches }
  end
  if nullable then out.nullable = true end
  return out
end

local function _resolve_ref(ref, ctx, where)
  local name = ref:match("^#/components/schemas/(.+)$")
  if not name then _fail("unsupported $ref %s at %s", ref, where) end
  if ctx.seen[name] then _fail("cyclic $ref %s at %s", name, where) end
  local target = ctx.doc.components.schemas[name]
  if not target then _fail("dangling $ref %s at %s", ref, where) end
  ctx.seen[name] = true
  local out = _convert(target, ctx, where)
  ctx.seen[name] = nil
  return out
end

-- One keyword of a schema object onto `out`; returns `out` (allOf replaces it).
local function _keyword(out, k, v, ctx, where)
  if k == "nullable" then
    if v == true then out.nullable = true end
  elseif k == "enum" then
    local enum = {}
    for _, e in ipairs(v) do
      if e == cjson.null then out.nullable = true else enum[#enum + 1] = e end
    end
    out.enum = enum
  elseif k == "const" then
    if v == cjson.null then out.nullable = true; out.type = "null" else out.enum = { v } end
  elseif k == "format" then
    if not NUMERIC_FORMATS[v] then out.format = v end
  elseif BOUNDS[k] then
    out[BOUNDS[k]] = v
  elseif k == "items" then
    out.items = _convert(v, ctx, where .. "[]")
  elseif k == "properties" then
    local props = {}
    for pk, pv in pairs(v) do props[pk] = _convert(pv, ctx, where .. "." .. pk) end
    out.properties = props
  elseif k == "required" then
    out.required = _copy_list(v)
  elseif k == "additionalProperties" then
    -- A schema for extra values is not checked; only an explicit false closes the object.
    if v == false then out.additional = false end
  elseif k == "anyOf" or k == "oneOf" then
    local c = _choice(v, ctx, where)
    for ck, cv in pairs(c) do
      if out[ck] ~= nil and ck ~= "nullable" and not _same(out[ck], cv) then
        _fail("%s beside conflicting %s at %s", k, ck, where)
      end
      out[ck] = cv
    end
  elseif k == "allOf" then
    local merged = {}
    for i, sub in ipairs(v) do merged = _merge(merged, _convert(sub, ctx, where .. "&" .. i), where) end
    out = _merge(out, merged, where)
  elseif k == "x-kombo-item-enum" then
    -- The accepted items of a comma-separated list filter.
    out.item_enum = _copy_list(v)
  else
    _fail("unsupported schema keyword %s at %s", k, where)
  end
  return out
end

-- A schema object of the document as the SDK's schema table (see
-- lua/kombo/schema.lua): $refs resolved, nullable folded in, prose dropped.
-- With ctx.prose, `description` is kept as well (the annotations use it);
-- the operation table never carries prose.
_convert = function(s, ctx, where)
  if type(s) ~= "table" then _fail("schema is not an object at %s", where) end
  if s["$ref"] then return _resolve_ref(s["$ref"], ctx, where) end
  local out = {}
  local types = s.type
  if type(types) == "table" then
    local rest = {}
    for _, t in ipairs(types) do
      if t == "null" then out.nullable = true else rest[#rest + 1] = t end
    end
    if #rest == 1 then
      out.type = rest[1]
    elseif #rest > 1 then
      -- Several non-null types: a choice of bare types, constraints kept on each.
      local copy = {}
      for k, v in pairs(s) do copy[k] = v end
      local branches = {}
      for i, t in ipairs(rest) do
        copy.type = t
        branches[i] = _convert(copy, ctx, where)
        branches[i].description = nil
      end
      return { any_of = branches, nullable = out.nullable,
        description = ctx.prose and type(s.description) == "string" and s.description or nil }
    else
      out.type = "null"
    end
  elseif types ~= nil then
    out.type = types
  end
  if s.properties and not out.type then out.type = "object" end

  for _, k in ipairs(_sorted_keys(s)) do
    -- `type` was read above; prose constrains nothing.
    if k == "description" then
      if ctx.prose and type(s[k]) == "string" then out.description = s[k] end
    elseif k ~= "type" and not PROSE[k] and (k:sub(1, 2) ~= "x-" or k == "x-kombo-item-enum") then
      out = _keyword(out, k, s[k], ctx, where)
    end
  end
  if out.type == "object" and out.additional == nil then out.additional = true end
  if out.type and out.type ~= "string" then out.format = nil end
  return out
end

--- The SDK schema of document schema `s` (prose: keep descriptions).
function _M.convert(doc, s, where, prose)
  return _convert(s, { doc = doc, seen = {}, prose = prose }, where)
end

-- Documents ------------------------------------------------------------------

local function _read(path)
  local f, err = io.open(path, "rb")
  if not f then _fail("%s", err) end
  local text = f:read("*a")
  f:close()
  return text
end
_M.read = _read

local function _decode(path)
  local ok, doc = pcall(cjson.decode, _read(path))
  if not ok then _fail("%s: %s", path, doc) end
  return doc
end

-- The additions document is merged into the main one by union of paths and
-- of every components section; a name both define must mean the same thing.
local function _merge_docs(main, add)
  for path, item in pairs(add.paths or {}) do
    local into = main.paths[path]
    if not into then
      main.paths[path] = item
    else
      for _, m in ipairs(METHODS) do
        if item[m] then
          if into[m] then _fail("%s %s is in both documents", m:upper(), path) end
          into[m] = item[m]
        end
      end
    end
  end
  for section, entries in pairs(add.components or {}) do
    main.components[section] = main.components[section] or {}
    local into = main.components[section]
    for name, v in pairs(entries) do
      if into[name] ~= nil and not _same(into[name], v) then
        _fail("components.%s.%s differs between the documents", section, name)
      end
      into[name] = v
    end
  end
  return main
end

local function _snake(camel)
  return (camel:gsub("(%l)(%u)", "%1_%2"):gsub("(%d)(%u)", "%1_%2"):gsub("(%u)(%u%l)", "%1_%2"):lower())
end
_M.snake = _snake

-- The rows of every table of kombo-sdk-operations.md whose header has the
-- columns method, path and Lua name: { method, path, group, name, alias,
-- pages, body, section }.
local function _sdk_rows(text)
  local rows, header, section = {}, nil, nil
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    if line:match("^## ") then
      section, header = line:match("^## (.*)$"), nil
    elseif line:match("^|") then
      local cells = {}
      for cell in line:sub(2):gmatch("%s*(.-)%s*|") do cells[#cells + 1] = cell end
      if cells[1] == "#" then
        header = {}
        for i, c in ipairs(cells) do header[c] = i end
      elseif header and cells[1]:match("^%d+$") then
        local sdk_col = header["TS SDK name"] or header["proposed name"] or header["SDK name"]
        if not (header.method and header.path and header["Lua name"] and sdk_col) then
          _fail("kombo-sdk-operations.md: a table under %q lacks method, path, Lua name or SDK name", section)
        end
        local path = cells[header.path]:match("^`(.-)`$")
        local group, name = cells[header["Lua name"]]:match("^`([%w_]+)%.([%w_]+)`$")
        local sdk_group, alias = cells[sdk_col]:match("^`([%w_]+)%.([%w]+)`")
        if not (path and group and alias) then
          _fail("kombo-sdk-operations.md: cannot read the row %q", line)
        end
        if sdk_group ~= group then
          _fail("kombo-sdk-operations.md: %s is in group %s but its SDK name in %s", name, group, sdk_group)
        end
        if _snake(alias) ~= name then
          _fail("kombo-sdk-operations.md: %s.%s is not the snake_case of %s", group, name, alias)
        end
        rows[#rows + 1] = {
          method = cells[header.method], path = path, group = group, name = name, alias = alias,
          pages = cells[header.pages], body = cells[header.body], section = section,
          operation_id = header.operationId and cells[header.operationId] or nil,
        }
      end
    end
  end
  return rows
end

local function _path_params(path)
  local names = {}
  for name in path:gmatch("{([^}]+)}") do names[#names + 1] = name end
  return names
end

local function _param_schema(doc, p)
  local raw = p.schema or {}
  if raw["$ref"] then raw = doc.components.schemas[raw["$ref"]:match("([^/]+)$")] or {} end
  return raw
end

-- Most of the document's filters by fixed values give the values in their
-- prose only, as the whole first line: "Filter by a comma-separated list of
-- `OPEN`, `CLOSED`, `DRAFT`, `ARCHIVED`". Kombo takes any other value and
-- matches nothing with it ("open" filters every job out, silently), so
-- those values are the items' enum. Only that phrasing counts: prose that
-- gives examples ("IDs such as `a,b`") or adds values in words ("or `null`
-- to ...") does not list everything the filter takes.
local function _listed_items(text)
  local line = type(text) == "string" and text:match("^Filter by a comma%-separated list of (`[^\n]*)")
  if not line then return nil end
  line = line:gsub("%s+$", "")
  if line:gsub("`[%w_]+`", "\1"):gsub(", \1", "") ~= "\1" then return nil end
  local items = {}
  for v in line:gmatch("`([%w_]+)`") do items[#items + 1] = v end
  return items
end

local function _query_param(doc, p, where)
  local s = _M.convert(doc, p.schema or {}, where)
  local raw = _param_schema(doc, p)
  local q = { name = p.name, schema = s }
  if p.required then q.required = true end
  local desc = (p.description or "") .. " " .. (raw.description or "")
  if s.type == "string" and desc:lower():find("comma-separated", 1, true) then q.list = true end
  if s.type == "string" and s.enum and #s.enum == 2 then
    local set = { [s.enum[1]] = true, [s.enum[2]] = true }
    if set["true"] and set["false"] then q.boolean = true end
  end
  q.description = p.description or raw.description
  if s.item_enum and not q.list then _fail("x-kombo-item-enum on %s, which is not a list", where) end
  local item_enum = s.item_enum
  if not item_enum and q.list then
    item_enum = _listed_items(q.description)
    -- The prose says no more than the enum: the command's help leaves it out.
    q.prose_enum = item_enum and true
  end
  if item_enum then
    -- Each item of the list is checked against the schema: one of the items.
    local items = {}
    for k, v in pairs(s) do items[k] = v end
    items.enum, items.item_enum = item_enum, nil
    q.schema = items
  end
  -- The document marks a deprecated parameter in its prose only:
  -- "**(⚠️ Deprecated - Use the `outcomes` filter instead.)**".
  if p.deprecated or raw.deprecated or desc:find("Deprecated", 1, true) then
    q.deprecated = desc:match("Deprecated %- Use the `([%w_]+)`") or true
  end
  return q
end

-- The document tells every list to pass data.next to a `cursor` query
-- parameter, and a few of them do not list one: a response whose data
-- requires `next` and `results` is a page all the same.
local function _pages(doc, response)
  local s = _M.convert(doc, response, "response")
  local data = s.properties and s.properties.data
  local required = {}
  for _, name in ipairs(data and data.required or {}) do required[name] = true end
  return required.next and required.results or false
end

local OMITTED_CURSOR = "An optional cursor string used for pagination: the `next` property of the previous page's"
  .. " response. Kombo's document leaves this parameter out of this operation, though its response says to send it."

local function _example(media)
  if media.example ~= nil then return media.example end
  local examples = media.examples
  if type(examples) == "table" then
    local keys = _sorted_keys(examples)
    if keys[1] and type(examples[keys[1]]) == "table" then return examples[keys[1]].value end
  end
  return nil
end

local function _operation(doc, row, op, path, method)
  local entry = {
    group = row.group, name = row.name, alias = row.alias, method = method, path = path,
    operation_id = op.operationId, summary = op.summary, description = op.description,
    path_params = _path_params(path), path_schemas = {}, path_descriptions = {}, query = {}, paginated = false,
    integration = false,
  }
  local declared = {}
  for _, p in ipairs(op.parameters or {}) do
    if p["$ref"] then _fail("parameter $ref not supported in %s", row.name) end
    local where = row.group .. "." .. row.name .. "?" .. p.name
    if p["in"] == "query" then
      entry.query[#entry.query + 1] = _query_param(doc, p, where)
      if p.name == "cursor" then entry.paginated = true end
    elseif p["in"] == "path" then
      declared[p.name] = true
      entry.path_descriptions[p.name] = p.description
      local s = _M.convert(doc, p.schema or {}, where)
      -- A path segment is any non-empty string unless the document says more.
      if not _same(s, { type = "string" }) and not _same(s, { type = "string", nullable = true }) then
        entry.path_schemas[p.name] = s
      end
    elseif p["in"] == "header" then
      if p.name ~= "X-Integration-Id" then _fail("header parameter %s of %s", p.name, row.name) end
      entry.integration = true
    else
      _fail("parameter %s of %s is in %s", p.name, row.name, tostring(p["in"]))
    end
  end
  for _, pp in ipairs(entry.path_params) do
    if not declared[pp] then _fail("path parameter %s of %s is not declared", pp, row.name) end
  end
  local rb = op.requestBody
  if rb then
    local media = rb.content and rb.content["application/json"]
    if not media then _fail("%s has a request body that is not JSON", row.name) end
    entry.body_doc = media.schema
    entry.body = _M.convert(doc, media.schema, row.group .. "." .. row.name .. ".body")
  end
  local ok = op.responses and op.responses["200"]
  local media = ok and ok.content and ok.content["application/json"]
  if not media then _fail("%s has no JSON 200 response", row.name) end
  entry.response_doc = media.schema
  entry.example = _example(media)
  if not entry.paginated and _pages(doc, media.schema) then
    entry.paginated, entry.cursor_omitted = true, true
    entry.query[#entry.query + 1] = { name = "cursor", schema = { type = "string" }, description = OMITTED_CURSOR }
  end
  return entry
end

-- The events Kombo sends to webhooks (the document's `webhooks`), sorted by
-- type: { type, summary, deprecated, schema, schema_doc }. Each is a POST
-- signed in X-Kombo-Signature whose JSON body says its own type.
local function _webhooks(doc)
  local list = {}
  for _, name in ipairs(_sorted_keys(doc.webhooks or {})) do
    local op = doc.webhooks[name].post
    local media = op and op.requestBody and op.requestBody.content and op.requestBody.content["application/json"]
    if not media then _fail("webhook %s has no JSON POST body", name) end
    local signed = false
    for _, p in ipairs(op.parameters or {}) do
      if p["in"] == "header" and p.name == "X-Kombo-Signature" then signed = true end
    end
    if not signed then _fail("webhook %s is not signed in X-Kombo-Signature", name) end
    local schema = _M.convert(doc, media.schema, "webhooks." .. name)
    local t = schema.properties and schema.properties.type
    if not (t and t.enum and #t.enum == 1 and t.enum[1] == name) then
      _fail("webhook %s: its body's `type` is not the constant %s", name, name)
    end
    list[#list + 1] = { type = name, summary = op.summary, deprecated = op.deprecated == true or nil,
      schema = schema, schema_doc = media.schema }
  end
  return list
end

--- Reads the three documents from `dir` and returns
--- { doc = merged document, groups = { name = { ops } }, group_order = {...}, operations = { all, in order },
---   additions = { ["METHOD /path"] = true for the additions document's operations },
---   webhooks = { the events sent to webhooks, sorted by type } }.
function _M.load(dir)
  local additions_doc = _decode(dir .. "/kombo-openapi-additions.json")
  local additions = {}
  for path, item in pairs(additions_doc.paths or {}) do
    for _, m in ipairs(METHODS) do
      if item[m] then additions[m:upper() .. " " .. path] = true end
    end
  end
  local doc = _merge_docs(_decode(dir .. "/kombo-openapi.json"), additions_doc)
  local rows = _sdk_rows(_read(dir .. "/kombo-sdk-operations.md"))

  local in_doc, count = {}, 0
  for path, item in pairs(doc.paths) do
    for _, m in ipairs(METHODS) do
      if item[m] then in_doc[m:upper() .. " " .. path] = true; count = count + 1 end
    end
  end

  local seen, names = {}, {}
  local groups, order = {}, {}
  for _, g in ipairs(_M.GROUP_ORDER) do groups[g] = {} end
  for _, row in ipairs(rows) do
    local key = row.method .. " " .. row.path
    if not in_doc[key] then _fail("kombo-sdk-operations.md names %s, which no document has", key) end
    if seen[key] then _fail("kombo-sdk-operations.md names %s twice", key) end
    seen[key] = true
    if not groups[row.group] then _fail("kombo-sdk-operations.md: unknown group %s (for %s)", row.group, key) end
    local full = row.group .. "." .. row.name
    if names[full] then _fail("two operations are named %s", full) end
    names[full] = true
    local op = doc.paths[row.path][row.method:lower()]
    if row.operation_id and row.operation_id ~= op.operationId then
      _fail("%s: operationId %s in the markdown, %s in the document", key, row.operation_id, tostring(op.operationId))
    end
    local entry = _operation(doc, row, op, row.path, row.method)
    -- The official SDKs page where the document lists a cursor: the
    -- markdown's `pages` is compared with that, not with the pages the
    -- response shape adds.
    local listed = entry.paginated and not entry.cursor_omitted
    if (row.pages == "yes") ~= listed then
      _fail("%s: pages says %s but the document has %s cursor", key, row.pages, listed and "a" or "no")
    end
    if (row.body == "yes") ~= (entry.body ~= nil) then
      _fail("%s: body says %s but the document %s a request body", key, row.body, entry.body and "has" or "has no")
    end
    local list = groups[row.group]
    list[#list + 1] = entry
  end
  for key in pairs(in_doc) do
    if not seen[key] then _fail("%s is in the documents but kombo-sdk-operations.md does not name it", key) end
  end
  local all = {}
  for _, g in ipairs(_M.GROUP_ORDER) do
    if #groups[g] > 0 then order[#order + 1] = g end
    for _, op in ipairs(groups[g]) do all[#all + 1] = op end
  end
  if #all ~= count then _fail("%d operations named, %d in the documents", #all, count) end
  return { doc = doc, groups = groups, group_order = order, operations = all, additions = additions,
    webhooks = _webhooks(doc) }
end

return _M
