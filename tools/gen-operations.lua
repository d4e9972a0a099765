-- Derives lua/kombo/operations.lua from Kombo's OpenAPI document.
--
-- Usage: lua5.4 tools/gen-operations.lua ../shared/reference/kombo-openapi.json > lua/kombo/operations.lua
-- (or `make operations`). The Lua table goes to stdout; the output is fully
-- deterministic so a re-run over the same document is byte-identical.
--
-- The set of operations is data below (from ATS_OPERATIONS.md), not whatever
-- the document happens to contain: the spec also has /ats/actions/* and the
-- interview scheduling paths, which this SDK does not expose.

local cjson = require("cjson").new()

local OPERATIONS = {
  { "get_applications", "getApplications", "GET", "/ats/applications" },
  { "move_application_to_stage", "moveApplicationToStage", "PUT", "/ats/applications/{application_id}/stage" },
  { "add_application_result_link", "addApplicationResultLink", "POST",
    "/ats/applications/{application_id}/result-links" },
  { "add_application_note", "addApplicationNote", "POST", "/ats/applications/{application_id}/notes" },
  { "get_application_attachments", "getApplicationAttachments", "GET",
    "/ats/applications/{application_id}/attachments" },
  { "add_application_attachment", "addApplicationAttachment", "POST",
    "/ats/applications/{application_id}/attachments" },
  { "reject_application", "rejectApplication", "POST", "/ats/applications/{application_id}/reject" },
  { "get_candidates", "getCandidates", "GET", "/ats/candidates" },
  { "create_candidate", "createCandidate", "POST", "/ats/candidates" },
  { "get_candidate_attachments", "getCandidateAttachments", "GET", "/ats/candidates/{candidate_id}/attachments" },
  { "add_candidate_attachment", "addCandidateAttachment", "POST", "/ats/candidates/{candidate_id}/attachments" },
  { "add_candidate_result_link", "addCandidateResultLink", "POST", "/ats/candidates/{candidate_id}/result-links" },
  { "add_candidate_tag", "addCandidateTag", "POST", "/ats/candidates/{candidate_id}/tags" },
  { "remove_candidate_tag", "removeCandidateTag", "DELETE", "/ats/candidates/{candidate_id}/tags" },
  { "get_tags", "getTags", "GET", "/ats/tags" },
  { "get_application_stages", "getApplicationStages", "GET", "/ats/application-stages" },
  { "get_jobs", "getJobs", "GET", "/ats/jobs" },
  { "create_application", "createApplication", "POST", "/ats/jobs/{job_id}/applications" },
  { "get_users", "getUsers", "GET", "/ats/users" },
  { "get_offers", "getOffers", "GET", "/ats/offers" },
  { "get_rejection_reasons", "getRejectionReasons", "GET", "/ats/rejection-reasons" },
  { "get_interviews", "getInterviews", "GET", "/ats/interviews" },
  { "import_tracked_application", "importTrackedApplication", "POST", "/ats/import-tracked-application" },
}

-- Keywords that carry no constraint a client can check; anything else that is
-- not understood stops the generator instead of being silently dropped.
local PROSE = {
  description = true, example = true, examples = true, externalDocs = true,
  default = true, discriminator = true, title = true, deprecated = true,
  readOnly = true, writeOnly = true, xml = true, ["$comment"] = true,
}

-- Integer/float width formats say nothing beyond `type`.
local NUMERIC_FORMATS = { int32 = true, int64 = true, float = true, double = true }

local function _fail(fmt, ...)
  io.stderr:write("gen-operations: ", string.format(fmt, ...), "\n")
  os.exit(1)
end

local function _sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

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
    elseif out[k] ~= nil and not _same(out[k], v) then
      _fail("allOf with conflicting %s at %s", k, where)
    else
      out[k] = v
    end
  end
  return out
end

local function _is_null_schema(s)
  return s.type == "null" and next(s, next(s)) == nil
end

-- anyOf/oneOf: "X or null" becomes X with nullable; the rest stays a choice.
-- oneOf exclusivity is not kept: the spec's oneOf branches are told apart by
-- a const discriminator, so at most one can match anyway.
local function _choice(list, doc, seen, where)
  local branches, nullable = {}, false
  for i, sub in ipairs(list) do
    local c = _convert(sub, doc, seen, where .. "|" .. i)
    if _is_null_schema(c) then nullable = true else branches[#branches + 1] = c end
  end
  local out
  if #branches == 1 then
    out = branches[1]
  else
    out = { any_of = branches }
  end
  if nullable then out.nullable = true end
  return out
end

local function _resolve_ref(ref, doc, seen, where)
  local name = ref:match("^#/components/schemas/(.+)$")
  if not name then _fail("unsupported $ref %s at %s", ref, where) end
  if seen[name] then _fail("cyclic $ref %s at %s", name, where) end
  local target = doc.components.schemas[name]
  if not target then _fail("dangling $ref %s at %s", ref, where) end
  seen[name] = true
  local out = _convert(target, doc, seen, where)
  seen[name] = nil
  return out
end

-- One keyword of a schema object onto `out`; returns `out` (allOf replaces it).
local function _keyword(out, k, v, doc, seen, where)
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
  elseif k == "pattern" then
    out.pattern = v
  elseif k == "minLength" then
    out.min_length = v
  elseif k == "maxLength" then
    out.max_length = v
  elseif k == "minimum" then
    out.minimum = v
  elseif k == "maximum" then
    out.maximum = v
  elseif k == "exclusiveMinimum" then
    out.exclusive_minimum = v
  elseif k == "exclusiveMaximum" then
    out.exclusive_maximum = v
  elseif k == "minItems" then
    out.min_items = v
  elseif k == "maxItems" then
    out.max_items = v
  elseif k == "items" then
    out.items = _convert(v, doc, seen, where .. "[]")
  elseif k == "properties" then
    local props = {}
    for pk, pv in pairs(v) do props[pk] = _convert(pv, doc, seen, where .. "." .. pk) end
    out.properties = props
  elseif k == "required" then
    out.required = _copy_list(v)
  elseif k == "additionalProperties" then
    -- A schema for extra values is not checked; only an explicit false closes the object.
    if v == false then out.additional = false end
  elseif k == "anyOf" or k == "oneOf" then
    local c = _choice(v, doc, seen, where)
    for ck, cv in pairs(c) do
      if out[ck] ~= nil and ck ~= "nullable" and not _same(out[ck], cv) then
        _fail("%s beside conflicting %s at %s", k, ck, where)
      end
      out[ck] = cv
    end
  elseif k == "allOf" then
    local merged = {}
    for i, sub in ipairs(v) do merged = _merge(merged, _convert(sub, doc, seen, where .. "&" .. i), where) end
    out = _merge(out, merged, where)
  else
    _fail("unsupported schema keyword %s at %s", k, where)
  end
  return out
end

_convert = function(s, doc, seen, where)
  if type(s) ~= "table" then _fail("schema is not an object at %s", where) end
  if s["$ref"] then return _resolve_ref(s["$ref"], doc, seen, where) end
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
        branches[i] = _convert(copy, doc, seen, where)
      end
      return { any_of = branches, nullable = out.nullable }
    else
      out.type = "null"
    end
  elseif types ~= nil then
    out.type = types
  end
  if s.properties and not out.type then out.type = "object" end

  for _, k in ipairs(_sorted_keys(s)) do
    -- `type` was read above; prose constrains nothing.
    if k ~= "type" and not PROSE[k] and k:sub(1, 2) ~= "x-" then
      out = _keyword(out, k, s[k], doc, seen, where)
    end
  end
  if out.type == "object" and out.additional == nil then out.additional = true end
  if out.type and out.type ~= "string" then out.format = nil end
  return out
end

local function _path_params(path)
  local names = {}
  for name in path:gmatch("{([^}]+)}") do names[#names + 1] = name end
  return names
end

local function _query_param(p, doc, where)
  local s = _convert(p.schema or {}, doc, {}, where)
  local q = { name = p.name, schema = s }
  if p.required then q.required = true end
  local raw = p.schema or {}
  if raw["$ref"] then raw = doc.components.schemas[raw["$ref"]:match("([^/]+)$")] or {} end
  local desc = (p.description or "") .. " " .. (raw.description or "")
  if s.type == "string" and desc:lower():find("comma-separated", 1, true) then q.list = true end
  if s.type == "string" and s.enum and #s.enum == 2 then
    local set = { [s.enum[1]] = true, [s.enum[2]] = true }
    if set["true"] and set["false"] then q.boolean = true end
  end
  return q
end

local function _operation(spec, doc)
  local name, alias, method, path = spec[1], spec[2], spec[3], spec[4]
  local item = doc.paths[path]
  local op = item and item[method:lower()]
  if not op then _fail("%s %s (%s) is not in the document", method, path, name) end
  local entry = {
    name = name, alias = alias, method = method, path = path,
    path_params = _path_params(path), query = {}, paginated = false,
  }
  local declared = {}
  for _, p in ipairs(op.parameters or {}) do
    if p["$ref"] then _fail("parameter $ref not supported in %s", name) end
    if p["in"] == "query" then
      entry.query[#entry.query + 1] = _query_param(p, doc, name .. "?" .. p.name)
      if p.name == "cursor" then entry.paginated = true end
    elseif p["in"] == "path" then
      declared[p.name] = true
    end
  end
  for _, pp in ipairs(entry.path_params) do
    if not declared[pp] then _fail("path parameter %s of %s is not declared", pp, name) end
  end
  local rb = op.requestBody
  if rb then
    local media = rb.content and rb.content["application/json"]
    if not media then _fail("%s has a request body that is not JSON", name) end
    entry.body = _convert(media.schema, doc, {}, name .. ".body")
  end
  return entry
end

-- Serialization ------------------------------------------------------------

local KEYWORDS = {}
for w in ([[and break do else elseif end false for function goto if in local nil not or
  repeat return then true until while]]):gmatch("%a+") do KEYWORDS[w] = true end

-- Fields of an operation read best in this order; schema keys follow sorted.
local RANK = {
  name = 1, alias = 2, method = 3, path = 4, path_params = 5, query = 6, body = 7, paginated = 8,
  type = 9, schema = 10, list = 11, boolean = 12,
}

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

local _emit

local function _inline(v, plain)
  local t = type(v)
  if t == "string" then return _quote(v) end
  if t == "number" then return _number(v) end
  if t == "boolean" then return tostring(v) end
  if t ~= "table" then _fail("cannot serialize a %s", t) end
  if next(v) == nil then return "{}" end
  local parts = {}
  if _is_list(v) then
    for i = 1, #v do parts[i] = _inline(v[i]) end
  else
    local keys = _sorted_keys(v)
    if not plain then table.sort(keys, _key_less) end
    for i, k in ipairs(keys) do parts[i] = _key(k) .. " = " .. _inline(v[k], k == "properties") end
  end
  return "{ " .. table.concat(parts, ", ") .. " }"
end

local WIDTH = 100

-- `plain`: the keys are property names, sorted without the field ranking.
_emit = function(v, indent, out, prefix, plain)
  local one = _inline(v, plain)
  if type(v) ~= "table" or #indent + #prefix + #one <= WIDTH then
    out[#out + 1] = indent .. prefix .. one .. ","
    return
  end
  out[#out + 1] = indent .. prefix .. "{"
  local inner = indent .. "  "
  if _is_list(v) then
    for i = 1, #v do _emit(v[i], inner, out, "") end
  else
    local keys = _sorted_keys(v)
    if not plain then table.sort(keys, _key_less) end
    for _, k in ipairs(keys) do _emit(v[k], inner, out, _key(k) .. " = ", k == "properties") end
  end
  out[#out + 1] = indent .. "},"
end

-- What binding an operation needs; the rest (parameters, body schema) is
-- built on first use, see FOOTER.
local HEAD = { "name", "alias", "method", "path", "paginated" }

-- Every table resident in a Lua state is marked again by each GC cycle, and
-- decoding one large page runs several cycles over a cold cache: the full
-- schemas of all 23 operations cost a page walk about a tenth of its time
-- (bench/). So an operation's parameters and body are built when it is
-- first used (any field access but the HEAD ones builds them).
local FOOTER = [[

local function _define(op, key)
  local define = rawget(op, "define")
  if define then
    op.define = nil
    for k, v in pairs(define()) do rawset(op, k, v) end
  end
  return rawget(op, key)
end

local lazy = { __index = _define }
for _, op in ipairs(operations) do setmetatable(op, lazy) end
return operations]]

local function main(path)
  if not path then _fail("usage: gen-operations.lua <kombo-openapi.json>") end
  local f, ferr = io.open(path, "rb")
  if not f then _fail("%s", ferr) end
  local text = f:read("*a")
  f:close()
  local ok, doc = pcall(cjson.decode, text)
  if not ok then _fail("%s: %s", path, doc) end
  local out = {
    "-- GENERATED from Kombo's OpenAPI document by `make operations`",
    "-- (lua5.4 tools/gen-operations.lua ../shared/reference/kombo-openapi.json); do not edit.",
    "-- The 23 ATS operations as data: method, path, parameters and the request body schema.",
    "local operations = {",
  }
  for _, spec in ipairs(OPERATIONS) do
    local entry = _operation(spec, doc)
    entry.paginated = entry.paginated or false -- a HEAD field, so reading it builds nothing
    out[#out + 1] = "  {"
    for _, k in ipairs(HEAD) do
      if entry[k] ~= nil then _emit(entry[k], "    ", out, k .. " = ") end
    end
    out[#out + 1] = "    define = function()"
    _emit({ path_params = entry.path_params, query = entry.query, body = entry.body }, "      ", out, "return ")
    out[#out] = out[#out]:gsub(",$", "")
    out[#out + 1] = "    end,"
    out[#out + 1] = "  },"
  end
  out[#out + 1] = "}"
  out[#out + 1] = FOOTER
  io.write(table.concat(out, "\n"), "\n")
end

main(...)
