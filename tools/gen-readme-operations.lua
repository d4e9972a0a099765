-- Writes the README's operation reference from lua/kombo/operations.lua, so
-- the list of operations, their parameters and the example calls cannot
-- drift from the table the SDK validates against.
--
--   lua5.4 tools/gen-readme-operations.lua README.md          # rewrite the section in place
--   lua5.4 tools/gen-readme-operations.lua --check README.md  # exit 1 if it is stale
--   lua5.4 tools/gen-readme-operations.lua                    # print the section
--
-- The section is everything between the lines `<!-- operations:begin -->`
-- and `<!-- operations:end -->` (markers included in what is written).
-- Parameter phrases come from kombo.schema.expected, the same words the
-- SDK's validation errors use. Example values are picked by field name
-- (SAMPLES) or from the schema; spec/readme_spec.lua runs every example
-- through the SDK's validation.

local root = (arg and arg[0] or ""):match("^(.*)/tools/[^/]+$") or "."
package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. package.path

local operations = require("kombo.operations")
local schema = require("kombo.schema")

local concat, sort = table.concat, table.sort
local format = string.format

local BEGIN, END = "<!-- operations:begin -->", "<!-- operations:end -->"
local WIDTH = 100

-- Query parameters every list endpoint shares, kept out of the examples.
local COMMON_QUERY = {
  cursor = true, page_size = true, updated_after = true, include_deleted = true, ids = true, remote_ids = true,
}

-- Example values (Lua source) by parameter or field name. Optional body
-- fields listed here appear in examples too.
local SAMPLES = {
  application_id = '"GRKdd9dibYKKCrmGRSMJf3wu"',
  candidate_id = '"7xBvQhkCZmVbTi3Ed9GsLq2P"',
  job_id = '"J4sNcAuxq1pWb8LtR6vFhe3D"',
  stage_id = '"3PJ8PZhZZa1eEdd2DtPNtVup"',
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
}

-- Pieces of README text ------------------------------------------------------

local function _cell(s)
  return (s:gsub("|", "\\|"))
end

-- What a scalar schema expects; a one-value enum reads better quoted.
local function _expected(s)
  if s.enum and #s.enum == 1 then
    return format("`%q`", s.enum[1]) .. (s.nullable and " or null" or "")
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

-- "`a`*, `b`, `c`" for an object's fields; long lists are cut short.
local function _field_list(s)
  local names, required = _sorted_props(s)
  local out = {}
  for i, k in ipairs(names) do
    if i > 8 then
      out[#out + 1] = format("and %d more", #names - 8)
      break
    end
    out[i] = "`" .. k .. "`" .. (required[k] and "*" or "")
  end
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

local function _query_phrase(q)
  if q.name == "cursor" then return "a string: `data.next` of a previous page (`page:next()` sends it for you)" end
  if q.boolean then return "`true` or `false` (or the strings)" end
  if q.list then return "list: a string or an array of strings, sent comma-joined" end
  return _expected(q.schema or {})
end

-- Example calls ----------------------------------------------------------------

-- A value to render: { code = "lua source" } or { fields = { {key, value}, ... } }
-- or { items = { value, ... } }.
local function _code(s) return { code = s } end

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
  if SAMPLES[name] then return _code(SAMPLES[name]) end
  s = s or {}
  if s.any_of then return _example_value(name, s.any_of[1]) end
  if s.enum then return _code(format("%q", s.enum[1])) end
  if s.type == "object" then return _example_object(s) end
  if s.type == "array" then return { items = { _example_value(name, s.items) } } end
  if s.type == "integer" or s.type == "number" then return _code("1") end
  if s.type == "boolean" then return _code("true") end
  if s.format == "date-time" then return _code('"2024-04-12T14:33:47.000Z"') end
  if s.format == "uri" then return _code('"https://example.com/"') end
  if s.format == "email" then return _code('"jane.doe@example.com"') end
  return _code(format("%q", name:gsub("_id$", "") .. " value"))
end

-- The first filter of a list endpoint beyond the shared ones, if any.
-- Enum filters first: they show the values the API knows.
local function _specific_filter(op)
  local candidates = {}
  for _, q in ipairs(op.query or {}) do
    if q.schema and q.schema.enum and not COMMON_QUERY[q.name] then candidates[#candidates + 1] = q end
  end
  for _, q in ipairs(op.query or {}) do candidates[#candidates + 1] = q end
  for _, q in ipairs(candidates) do
    if not COMMON_QUERY[q.name] then
      if SAMPLES[q.name] then return q.name, _code(SAMPLES[q.name]) end
      if q.list then return q.name, _code('{ "' .. q.name:gsub("s$", "") .. '_1" }') end
      return q.name, _example_value(q.name, q.schema)
    end
  end
  return nil
end

local ITEM_NAMES = {
  get_applications = "application", get_candidates = "candidate", get_tags = "tag",
  get_application_stages = "stage", get_jobs = "job", get_users = "user", get_offers = "offer",
  get_rejection_reasons = "reason", get_interviews = "interview",
}

--- The example call for one operation, as Lua source.
local function _example(op)
  local fields = {}
  for _, p in ipairs(op.path_params or {}) do fields[#fields + 1] = { p, _code(SAMPLES[p] or '"id"') } end
  if op.paginated then
    fields[#fields + 1] = { "page_size", _code("50") }
    local name, value = _specific_filter(op)
    if name then fields[#fields + 1] = { name, value } end
  end
  if op.body then fields[#fields + 1] = { "body", _example_object(op.body) } end
  local call_head = op.paginated and "local page = assert(client.ats:" or "local result = assert(client.ats:"
  local head = call_head .. op.name .. "("
  local args = #fields > 0 and _render({ fields = fields }, 0, #head, 2) or ""
  local lines = { head .. args .. "))" }
  if op.paginated then
    local item = ITEM_NAMES[op.name] or "item"
    lines[#lines + 1] = "for " .. item .. " in page:items() do print(" .. item .. ".id) end"
  end
  return concat(lines, "\n")
end

-- The section --------------------------------------------------------------

local function _operation(op, out)
  local function add(s) out[#out + 1] = s end
  add("#### `" .. op.name .. "`")
  add("")
  add(format("`client.ats:%s(params, opts)`, alias `%s`: `%s %s`%s.", op.name, op.alias, op.method, op.path,
    op.paginated and "; cursor-paginated, returns a page" or ""))
  add("")
  if #(op.path_params or {}) > 0 or #(op.query or {}) > 0 then
    add("| parameter | in | expects |")
    add("|---|---|---|")
    for _, p in ipairs(op.path_params or {}) do
      add(format("| `%s`* | path | a non-empty string (percent-encoded) |", p))
    end
    for _, q in ipairs(op.query or {}) do
      add(format("| `%s`%s | query | %s |", q.name, q.required and "*" or "", _cell(_query_phrase(q))))
    end
    add("")
  end
  if op.body then
    local names, required = _sorted_props(op.body)
    add("| `body` field | expects |")
    add("|---|---|")
    for _, k in ipairs(names) do
      add(format("| `%s`%s | %s |", k, required[k] and "*" or "", _cell(_describe(op.body.properties[k]))))
    end
    add("")
  end
  add("```lua")
  add(_example(op))
  add("```")
  add("")
end

--- The whole section, markers included, as README text.
local function section()
  local out = {
    BEGIN,
    "<!-- Generated by tools/gen-readme-operations.lua from lua/kombo/operations.lua; run `make readme`. -->",
    "",
    "### Operation reference",
    "",
    "`*` marks a required parameter or field. Every call takes `(params, opts)` and returns the decoded response"
      .. " or `nil, err`.",
    "",
    "| Lua name | alias | HTTP | paginated |",
    "|---|---|---|---|",
  }
  for _, op in ipairs(operations) do
    out[#out + 1] = format("| [`%s`](#%s) | `%s` | `%s %s` | %s |", op.name, op.name, op.alias, op.method, op.path,
      op.paginated and "yes" or "no")
  end
  out[#out + 1] = ""
  for _, op in ipairs(operations) do _operation(op, out) end
  out[#out + 1] = END
  return concat(out, "\n") .. "\n"
end

local function _read(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read("*a")
  f:close()
  return s
end

--- `text` with its section replaced, or nil and why.
local function splice(text)
  local b = text:find(BEGIN, 1, true)
  local e = text:find(END, 1, true)
  if not b or not e or e < b then return nil, "markers " .. BEGIN .. " ... " .. END .. " not found in order" end
  local after = e + #END
  if text:sub(after, after) == "\n" then after = after + 1 end
  return text:sub(1, b - 1) .. section() .. text:sub(after)
end

local function main(args)
  if #args == 0 then
    io.write(section())
    return 0
  end
  local check = args[1] == "--check"
  local path = check and args[2] or args[1]
  if not path then
    io.stderr:write("usage: gen-readme-operations.lua [--check] [README.md]\n")
    return 2
  end
  local text, err = _read(path)
  if not text then
    io.stderr:write("gen-readme-operations: ", err, "\n")
    return 2
  end
  local new, serr = splice(text)
  if not new then
    io.stderr:write("gen-readme-operations: ", path, ": ", serr, "\n")
    return 2
  end
  if check then
    if new ~= text then
      io.stderr:write(path, ": the operations section is stale; run `make readme`\n")
      return 1
    end
    return 0
  end
  if new ~= text then
    local tmp = path .. ".tmp"
    local f = assert(io.open(tmp, "wb"))
    f:write(new)
    f:close()
    assert(os.rename(tmp, path))
  end
  return 0
end

os.exit(main(arg or {}))
