-- docs/operations.md: the operation reference, from the same model as the
-- operation table, so the list of operations, their parameters and the
-- example calls cannot drift from what the SDK validates against.
--
-- Parameter phrases come from kombo.schema.expected, the same words the
-- SDK's validation errors use. Example values come from SAMPLES (by field
-- name, as Lua source) or genlib.samples (from the schema);
-- spec/readme_spec.lua runs every example through the SDK's validation.

local schema = require("kombo.schema")
local model = require("genlib.model")
local samples = require("genlib.samples")
local serialize = require("genlib.serialize")

local concat, sort = table.concat, table.sort
local format = string.format

local _M = {}

local WIDTH = 100

-- Query parameters every list endpoint shares, kept out of the examples.
local COMMON_QUERY = {
  cursor = true, page_size = true, updated_after = true, include_deleted = true, ids = true, remote_ids = true,
  ignore_unsupported_filters = true,
}

-- Example values (Lua source) by parameter or field name. Optional body
-- fields listed here appear in examples too.
local SAMPLES = {
  application_id = '"GRKdd9dibYKKCrmGRSMJf3wu"',
  candidate_id = '"7xBvQhkCZmVbTi3Ed9GsLq2P"',
  job_id = '"J4sNcAuxq1pWb8LtR6vFhe3D"',
  stage_id = '"3PJ8PZhZZa1eEdd2DtPNtVup"',
  integration_id = '"workday:HWUTwvyx2wLoSUHphiWVrp28"',
  employee_id = '"26vafvWSRmbhNcxJYqjCzuJg"',
  rejection_reason_id = '"Nq2eV7TzwKc9HfpL1xGmRa5D"',
  note = '"Thanks for applying; we have moved forward with other candidates."',
  content = '"Strong system design round; move to the onsite."',
  label = '"Coding assessment: 87/100"',
  url = '"https://assessments.example.com/results/4711"',
  tag = '{ name = "Top talent" }',
  attachment = 'assert(kombo.attachment("cv/jane_doe.pdf"))',
  attachments = '{ assert(kombo.attachment("cv/jane_doe.pdf")) }',
  candidate = '{ first_name = "Jane", last_name = "Doe", email_address = "jane.doe@example.com" }',
  source = '{ name = "Careers page" }',
  greenhouse = '{ id_type = "application_id", application_id = "4066789008" }',
  tracked_at = '"2024-04-12T14:33:47.000Z"',
  job_ids = '{ "J4sNcAuxq1pWb8LtR6vFhe3D" }',
  email = '"jane.doe@example.com"',
  emails = '{ "jane.doe@example.com", "max.muster@example.com" }',
  first_name = '"Jane"',
  last_name = '"Doe"',
  name_contains = '"Engineer"',
  post_url = '"https://jobs.example.com/backend-engineer"',
  job_codes = '{ "ENG-2024-01" }',
  updated_after = '"2024-01-01T00:00:00.000Z"',
  remote_created_after = '"2024-01-01T00:00:00.000Z"',
  end_user_email = '"jane.doe@example.com"',
  end_user_organization_name = '"Acme Inc."',
  tool = '"greenhouse"',
  category = '"ats"',
  token = '"ckdw6ph9z0001x8wbbvrt7xqs"',
  api = '"harvest"',
  group_id = '"default"',
}

-- Pieces of markdown ----------------------------------------------------------

local function _cell(s)
  return (s:gsub("|", "\\|"):gsub("\n", " "))
end

-- What a scalar schema expects; a one-value enum reads better quoted.
local function _expected(s)
  if s.enum and #s.enum == 1 then
    local v = s.enum[1]
    return "`" .. (type(v) == "string" and format("%q", v) or tostring(v)) .. "`" .. (s.nullable and " or null" or "")
  end
  return schema.expected(s)
end

local function _sorted_props(s)
  local names, required, seen = {}, {}, {}
  for _, r in ipairs(s.required or {}) do
    if s.properties and s.properties[r] ~= nil and not seen[r] then
      names[#names + 1], required[r], seen[r] = r, true, true
    end
  end
  local rest = {}
  for k in pairs(s.properties or {}) do
    if not seen[k] then rest[#rest + 1] = k end
  end
  sort(rest)
  for _, k in ipairs(rest) do names[#names + 1] = k end
  return names, required
end

local _describe

-- "`a`*, `b`, `c`" for an object's fields, every one: a field left out of
-- the reference is one a user cannot find.
local function _field_list(s)
  local names, required = _sorted_props(s)
  local out = {}
  for i = 1, #names do out[i] = "`" .. names[i] .. "`" .. (required[names[i]] and "*" or "") end
  return concat(out, ", ")
end

-- A short phrase for a body field: scalars as the validator words them,
-- objects and arrays by the fields they hold (one level deep).
_describe = function(s)
  if s.any_of then
    local parts, seen = {}, {}
    for _, b in ipairs(s.any_of) do
      local d = (b.type == "object" or b.type == "array") and _describe(b) or _expected(b)
      if not seen[d] then seen[d], parts[#parts + 1] = true, d end
    end
    return concat(parts, "; or ")
  end
  if s.type == "object" then
    local nullable = s.nullable and " (or null)" or ""
    if not s.properties or next(s.properties) == nil then return "an object (any fields)" .. nullable end
    return "an object: " .. _field_list(s) .. nullable
  elseif s.type == "array" then
    local items = s.items or {}
    if items.type == "object" and items.properties then
      return "an array of objects: " .. _field_list(items)
    end
    return "an array; each item " .. _expected(items)
  end
  return _expected(s)
end

local function _query_phrase(op, q)
  if q.name == "cursor" then
    return "a string: `data.next` of a previous page (`page:next()` sends it for you)"
      .. (op.cursor_omitted and "; Kombo's document omits this parameter here, its response asks for it" or "")
  end
  local phrase
  if q.boolean then
    phrase = "`true` or `false` (or the strings)"
  elseif q.list then
    local items = q.schema and q.schema.enum and (": each one of " .. concat(q.schema.enum, ", ")) or ""
    phrase = "list: a string or an array of strings, sent comma-joined" .. items
  else
    phrase = _expected(q.schema or {})
  end
  if not q.deprecated then return phrase end
  return phrase .. ". **Deprecated**" .. (q.deprecated ~= true and (": use `" .. q.deprecated .. "`") or "") .. "."
end

-- Example calls ----------------------------------------------------------------

-- A value to render: { code = "lua source" } or { fields = { {key, value}, ... } }
-- or { items = { value, ... } }.
local function _code(s) return { code = s } end

-- Lua source for a plain value from genlib.samples.
local function _literal(v)
  if type(v) ~= "table" then return _code(serialize.inline(v)) end
  if next(v) == nil then return _code("{}") end
  if #v > 0 then
    local items = {}
    for i, x in ipairs(v) do items[i] = _literal(x) end
    return { items = items }
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  sort(keys)
  local fields = {}
  for i, k in ipairs(keys) do fields[i] = { k, _literal(v[k]) } end
  return { fields = fields }
end

-- `indent` is the indentation of the line the value starts on, `col` the
-- column it starts at, `tail` how many characters follow it on that line.
local function _render(v, indent, col, tail)
  if v.code then return v.code end
  local entries = {}
  if v.items then
    for i, item in ipairs(v.items) do entries[i] = { "", item } end
  else
    for i, kv in ipairs(v.fields) do
      local key = kv[1]:match("^[%a_][%w_]*$") and kv[1] or format("[%q]", kv[1])
      entries[i] = { key .. " = ", kv[2] }
    end
  end
  if #entries == 0 then return "{}" end
  local flat = {}
  for i, e in ipairs(entries) do flat[i] = e[1] .. _render(e[2], indent, WIDTH, 0) end
  local one_line = "{ " .. concat(flat, ", ") .. " }"
  if col + #one_line + tail <= WIDTH and not one_line:find("\n") then return one_line end
  local pad = string.rep(" ", indent + 2)
  local lines = {}
  for i, e in ipairs(entries) do
    lines[i] = pad .. e[1] .. _render(e[2], indent + 2, #pad + #e[1], 1) .. ","
  end
  return "{\n" .. concat(lines, "\n") .. "\n" .. string.rep(" ", indent) .. "}"
end

local _example_value

local function _example_object(s)
  local names, required = _sorted_props(s)
  local fields = {}
  for _, k in ipairs(names) do
    if required[k] or SAMPLES[k] then fields[#fields + 1] = { k, _example_value(k, s.properties[k]) } end
  end
  return { fields = fields }
end

_example_value = function(name, s)
  s = s or {}
  if SAMPLES[name] then
    -- A sample is only used where it fits the schema (a `tag` may be an object or a string).
    local src = SAMPLES[name]
    local fn = (loadstring or load)("return " .. src) -- luacheck: ignore 113
    local ok, v = pcall(fn)
    if not ok or v == nil or schema.check(s, v) then return _code(src) end
  end
  if s.any_of then return _example_value(name, s.any_of[1]) end
  if s.type == "object" then return _example_object(s) end
  if s.type == "array" and not s.enum then return { items = { _example_value(name, s.items) } } end
  local v = samples.value(s, name, { null = require("cjson").null })
  if v == nil then error("no example value for " .. tostring(name)) end
  return _literal(v)
end

-- The first filter of a list endpoint beyond the shared ones, if any.
-- Enum filters first: they show the values the API knows. A deprecated
-- one is not shown off.
local function _specific_filter(op)
  local candidates = {}
  for _, q in ipairs(op.query) do
    if q.schema and q.schema.enum and not q.list and not COMMON_QUERY[q.name] then
      candidates[#candidates + 1] = q
    end
  end
  -- A list that replaces a deprecated filter takes the values that one enumerates.
  local replaced = {}
  for _, q in ipairs(op.query) do
    candidates[#candidates + 1] = q
    if type(q.deprecated) == "string" then replaced[q.deprecated] = q.schema end
  end
  for _, q in ipairs(candidates) do
    if not COMMON_QUERY[q.name] and not q.deprecated then
      if SAMPLES[q.name] then return q.name, _code(SAMPLES[q.name]) end
      if q.list then
        local enum = q.schema and q.schema.enum or replaced[q.name] and replaced[q.name].enum
        local item = enum and enum[1] or (q.name:gsub("s$", "") .. "_1")
        return q.name, _code('{ "' .. item .. '" }')
      end
      return q.name, _example_value(q.name, q.schema)
    end
  end
  return nil
end

-- What one element of a list endpoint's results is called in an example:
-- the path's last segment, singular (/ats/application-stages:
-- application_stage; /assessment/orders/open: order).
local function _item_name(op)
  local segments = {}
  for seg in op.path:gmatch("[^/]+") do segments[#segments + 1] = seg end
  local last = segments[#segments]
  if not last:match("s$") and #segments > 1 then last = segments[#segments - 1] end
  last = last:gsub("%-", "_")
  if last:match("ies$") then return (last:gsub("ies$", "y")) end
  return (last:gsub("s$", ""))
end

--- The example call for one operation, as Lua source.
local function _example(op)
  local fields = {}
  for _, p in ipairs(op.path_params) do
    local s = op.path_schemas[p]
    fields[#fields + 1] = { p, SAMPLES[p] and _code(SAMPLES[p]) or (s and _example_value(p, s))
      or _code('"GRKdd9dibYKKCrmGRSMJf3wu"') }
  end
  for _, q in ipairs(op.query) do
    if q.required then fields[#fields + 1] = { q.name, _example_value(q.name, q.schema) } end
  end
  if op.paginated then
    for _, q in ipairs(op.query) do
      if q.name == "page_size" then
        local size = math.min(50, q.schema.maximum or 50)
        fields[#fields + 1] = { "page_size", _code(format("%d", size)) }
      end
    end
    local name, value = _specific_filter(op)
    if name then fields[#fields + 1] = { name, value } end
  end
  if op.body then fields[#fields + 1] = { "body", _example_object(op.body) } end
  local call = "client." .. op.group .. ":" .. op.name .. "("
  local head = (op.paginated and "local page = assert(" or "local result = assert(") .. call
  local args = #fields > 0 and _render({ fields = fields }, 0, #head, 2) or ""
  local lines = { head .. args .. "))" }
  if op.paginated then
    local item = _item_name(op)
    lines[#lines + 1] = "for " .. item .. " in page:items() do print(" .. item .. ".id) end"
  end
  return concat(lines, "\n")
end

-- The document ---------------------------------------------------------------

-- GitHub's anchor for a heading `text`.
local function _anchor(text)
  return (text:lower():gsub("[^%w%s_%-]", ""):gsub("%s", "-"))
end

local function _heading(op)
  return "`" .. op.group .. "." .. op.name .. "`"
end

-- The fields of a result worth listing: data's, or for a page those of
-- one element of data.results; the label says which.
local function _result_fields(m, op)
  local response = model.convert(m.doc, op.response_doc, op.name .. ".response")
  local data = response.properties and response.properties.data
  if not data then return nil end
  if op.paginated then
    local results = data.properties and data.properties.results
    if results and results.items and results.items.properties then
      return results.items, "`data.results[]` field"
    end
  end
  if data.properties and next(data.properties) then return data, "`data` field" end
  return nil
end

local function _operation(m, op, out)
  local function add(s) out[#out + 1] = s end
  add("#### " .. _heading(op))
  add("")
  if op.summary then add(op.summary:gsub("%.?$", ".")) add("") end
  add(format("`client.%s:%s(params, opts)`, alias `%s`: `%s %s`%s%s.", op.group, op.name, op.alias, op.method,
    op.path, op.paginated and "; cursor-paginated, returns a page" or "",
    op.integration and "" or "; needs no `integration_id` (sent only a call's own)"))
  add("")
  if #op.path_params > 0 or #op.query > 0 then
    add("| parameter | in | expects |")
    add("|---|---|---|")
    for _, p in ipairs(op.path_params) do
      local s = op.path_schemas[p]
      add(format("| `%s`* | path | %s |", p,
        s and _cell(_expected(s) .. " (percent-encoded)") or "a non-empty string (percent-encoded)"))
    end
    for _, q in ipairs(op.query) do
      add(format("| `%s`%s | query | %s |", q.name, q.required and "*" or "", _cell(_query_phrase(op, q))))
    end
    add("")
  end
  if op.body then
    local names, required = _sorted_props(op.body)
    if #names > 0 then
      add("| `body` field | expects |")
      add("|---|---|")
      for _, k in ipairs(names) do
        add(format("| `%s`%s | %s |", k, required[k] and "*" or "", _cell(_describe(op.body.properties[k]))))
      end
    else
      add("`body`: " .. _cell(_describe(op.body)) .. ".")
    end
    add("")
  end
  local result, label = _result_fields(m, op)
  if result then
    local names, required = _sorted_props(result)
    add("| result: " .. label .. " | holds |")
    add("|---|---|")
    for _, k in ipairs(names) do
      add(format("| `%s`%s | %s |", k, required[k] and "*" or "", _cell(_describe(result.properties[k]))))
    end
    add("")
  end
  add("```lua")
  add(_example(op))
  add("```")
  add("")
end

local INTRO = [[
# Operations

<!-- GENERATED by `make operations` (tools/gen-operations.lua) from reference/; do not edit. -->

Every operation of Kombo's API: the %d of Kombo's OpenAPI document and the
%d more that the newest official SDKs have (`reference/`). They hang off the
client in the official TypeScript SDK's groups (`client.general`,
`client.ats`, `client.hris`, `client.assessment`, `client.connect`), plus
`client.lms`, `client.ai_apply` and `client.custom` for the paths the SDKs
leave out. Each has its snake_case name and the SDK's camelCase name as an
alias of the same function (`client.general:check_api_key()` is
`client.general:checkApiKey()`).

```lua
local result, err = client.<group>:<operation>(params, opts)
```

Parameters, bodies, results, errors, retries, hooks and pagination work the
same for every operation: see the README's "Operations", "Pagination",
"Errors" and "Retries and timeouts". A group's table is loaded the first
time `client.<group>` is touched. Operations marked "needs no
`integration_id`" are those Kombo's API reference gives no
`X-Integration-Id`: the ones about your Kombo account (API keys,
integrations, connection links, tools), the LMS ones and the AI Apply ones.
They send a call's own `integration_id` and never the client's (the LMS
endpoints read one integration's data: name it in the call's `opts`); every
other one sends the client's or the call's `integration_id` as
`X-Integration-Id`.

`*` marks a required parameter or field, and in a result a field that is
always there. LuaLS annotations for every
operation (parameters, body and result fields) are in `library/kombo.lua`:
add the folder to `workspace.library`.
]]

local PASSTHROUGH = [[
## Passthrough: a tool's own API

`client.general:send_passthrough_request` sends a request to the
integration's own API through Kombo, which sets the base URL and
authenticates it; `tool` and `api` pick the API (Kombo's documentation of
`POST /passthrough/{tool}/{api}` lists them: `greenhouse/harvest`,
`lever/v1`, `recruitee/default`, `personio/personnel`, ...). For what the
unified API does not cover, such as a candidate's activity feed in
Greenhouse:

```lua
local res = assert(client.general:send_passthrough_request({
  tool = "greenhouse",
  api = "harvest",
  body = { method = "GET", path = "/candidates/4066789008/activity_feed" },
}, { integration_id = "greenhouse:8Aq8oNYpvPUtWSBSsFbrUMxL" }))
print(res.data.status)                 -- the tool's HTTP status
for _, note in ipairs(res.data.data.notes or {}) do print(note.body) end
```

`res.data` holds the tool's answer: `url`, `status`, `headers` and `data`
(decoded JSON, or the raw text). A tool's error status is not a Kombo
error: the call succeeds and `res.data.status` says what the tool answered.
]]

local RESTRICTIONS = [[
## Attachment restrictions

The four `client.ats:get_*_action()` reads (`GET /ats/actions/*`) say what
the integration accepts as attachments for that action: per type (`CV`,
`COVER_LETTER`, `OTHER`) whether it takes one at all, its largest size and
its content types, and for creating candidates and applications a total.
Give what they return to `kombo.attachment` and a file the integration
would refuse fails there, before it is read or sent, with an
`invalid_request` error whose `reason` is `type_not_supported`,
`too_large` or `content_type_not_accepted`:

```lua
local limits = assert(client.ats:get_add_candidate_attachment_action())
local cv, err = kombo.attachment("cv/jane_doe.pdf", { type = "CV" }, limits)
if not cv then error(tostring(err)) end -- e.g. path: a file of at most 10000000 bytes for a CV ...
assert(client.ats:add_candidate_attachment({
  candidate_id = "7xBvQhkCZmVbTi3Ed9GsLq2P",
  body = { attachment = cv },
}))
```

What an integration leaves unknown (`null`) is not checked. The limits
change rarely: read them once per integration and keep them.
]]

--- The whole of docs/operations.md.
function _M.text(m)
  local n_main, n_add = 0, 0
  for _, op in ipairs(m.operations) do
    if m.additions[op.method .. " " .. op.path] then
      n_add = n_add + 1
    else
      n_main = n_main + 1
    end
  end
  local out = { (format(INTRO, n_main, n_add):gsub("\n$", "")) }
  out[#out + 1] = ""
  out[#out + 1] = "| group | operations |"
  out[#out + 1] = "|---|---|"
  for _, g in ipairs(m.group_order) do
    out[#out + 1] = format("| [`client.%s`](#client%s) | %d |", g, _anchor(g), #m.groups[g])
  end
  out[#out + 1] = ""
  out[#out + 1] = (PASSTHROUGH:gsub("\n$", ""))
  out[#out + 1] = ""
  out[#out + 1] = (RESTRICTIONS:gsub("\n$", ""))
  out[#out + 1] = ""
  for _, g in ipairs(m.group_order) do
    out[#out + 1] = "## `client." .. g .. "`"
    out[#out + 1] = ""
    out[#out + 1] = "| Lua name | alias | HTTP | paginated |"
    out[#out + 1] = "|---|---|---|---|"
    for _, op in ipairs(m.groups[g]) do
      out[#out + 1] = format("| [`%s`](#%s) | `%s` | `%s %s` | %s |", op.name, _anchor(_heading(op)), op.alias,
        op.method, op.path, op.paginated and "yes" or "no")
    end
    out[#out + 1] = ""
    for _, op in ipairs(m.groups[g]) do _operation(m, op, out) end
  end
  while out[#out] == "" do out[#out] = nil end
  return concat(out, "\n") .. "\n"
end

return _M
