-- The operation table as Lua source: lua/kombo/operations.lua (the groups,
-- always loaded) and one file per group under lua/kombo/operations/ (its
-- operations, loaded the first time client.<group> is touched).
--
-- A schema that occurs in more than one place is written once and referred
-- to by name: S.<name> for one used by a single group (defined in that
-- group's file), X.<name> for one several groups use (defined in
-- lua/kombo/operations/shared.lua). Small schemas ({ type = "string" }) stay
-- inline where they are clearer than a name. Every schema, shared or not, is
-- built on first use, as operations' parameters and bodies are: a table
-- resident in the Lua state is marked again by every GC cycle, and decoding
-- one large page runs several.

local serialize = require("genlib.serialize")
local model = require("genlib.model")

local concat, format = table.concat, string.format
local ref, inline, emit = serialize.ref, serialize.inline, serialize.emit

local _M = {}

-- A schema whose inline text is at most this long is written where it is
-- used even when it occurs many times.
local INLINE_MAX = 60
_M.INLINE_MAX = INLINE_MAX

-- Schema positions of a schema table: properties' values, items, any_of's.
local function _children(s, fn)
  if s.properties then
    for _, k in ipairs(model.sorted_keys(s.properties)) do fn(s.properties[k], k) end
  end
  if s.items then fn(s.items, "items") end
  if s.any_of then
    for _, b in ipairs(s.any_of) do fn(b, "any_of") end
  end
end
_M.children = _children

-- The payload an operation's define() returns, as plain data.
local function _payload(op)
  local query = {}
  for i, q in ipairs(op.query) do
    query[i] = { name = q.name, schema = q.schema, required = q.required, list = q.list, boolean = q.boolean }
  end
  local p = { path_params = op.path_params, query = query, body = op.body }
  if next(op.path_schemas) then p.path_schemas = op.path_schemas end
  return p
end

-- The root schema slots of a payload: fn(schema, context name).
local function _roots(p, fn)
  for _, q in ipairs(p.query) do fn(q.schema, q.name) end
  if p.body then fn(p.body, "body") end
  for _, k in ipairs(model.sorted_keys(p.path_schemas or {})) do fn(p.path_schemas[k], k) end
end

-- Interning: every distinct schema (by its canonical text) becomes one node
-- { text, value, refs, contexts, groups }.
local function _interner()
  local by_text, by_table, nodes = {}, {}, {}
  local function intern(s)
    local n = by_table[s]
    if n then return n end
    local text = inline(s)
    n = by_text[text]
    if not n then
      n = { text = text, value = s, refs = 0, contexts = {}, users = {}, kids = {}, parents = {} }
      by_text[text] = n
      nodes[#nodes + 1] = n
      _children(s, function(child, key)
        local c = intern(child)
        n.kids[#n.kids + 1] = { node = c, key = key }
        c.parents[#c.parents + 1] = n
      end)
    end
    by_table[s] = n
    return n
  end
  return intern, nodes
end

-- Identifier from a property or parameter name.
local function _ident(s)
  s = s:gsub("[^%w]+", "_"):gsub("^_+", ""):gsub("_+$", "")
  s = model.snake(s)
  if s == "" then s = "schema" end
  if s:match("^%d") then s = "n" .. s end
  return s
end
_M.ident = _ident

-- Context names that say little about what a schema is.
local GENERIC = { items = true, any_of = true, value = true, data = true, body = true }

local function _best_context(n)
  local best, best_n
  for pass = 1, 2 do
    for _, k in ipairs(model.sorted_keys(n.contexts)) do
      local c = n.contexts[k]
      if (pass == 2 or not GENERIC[k]) and (not best_n or c > best_n) then best, best_n = k, c end
    end
    if best then return best end
  end
  return nil
end

-- The longest "_"-separated suffix the names share ("result_link" for
-- add_application_result_link and add_candidate_result_link).
local function _common_suffix(names)
  local words = {}
  for w in names[1]:gmatch("[^_]+") do words[#words + 1] = w end
  local keep = #words
  for i = 2, #names do
    local other = {}
    for w in names[i]:gmatch("[^_]+") do other[#other + 1] = w end
    local n = 0
    while n < keep and n < #other and words[#words - n] == other[#other - n] do n = n + 1 end
    keep = n
  end
  return table.concat(words, "_", #words - keep + 1, #words)
end

-- A readable name for a shared schema: what it is called where it is used
-- most (an array's items after the array, singular; a request body after
-- the operations sending it), or its format.
local function _base_name(n, depth)
  local s = n.value
  if s.type == "string" and s.format then return _ident(s.format) .. (s.nullable and "_or_null" or "") end
  local best = _best_context(n)
  if best == "body" then
    local suffix = _common_suffix(n.body_of)
    return (suffix ~= "" and suffix .. "_" or "") .. "body"
  end
  if (best == "items" or best == "any_of") and n.parents[1] and (depth or 0) < 5 then
    local parent = _base_name(n.parents[1], (depth or 0) + 1)
    return best == "items" and (parent:gsub("s$", "") .. (parent:match("s$") and "" or "_item")) or parent
  end
  if best == nil or best == "items" or best == "any_of" then best = s.type or "schema" end
  return _ident(best)
end

-- Names are unique across the files; a name several schemas would get is
-- prefixed, for each of them, by the first operation that uses it.
local function _assign_names(shared, op_names)
  local by_base = {}
  for _, n in ipairs(shared) do
    local b = _base_name(n)
    by_base[b] = by_base[b] or {}
    local list = by_base[b]
    list[#list + 1] = n
  end
  local taken = {}
  for _, b in ipairs(model.sorted_keys(by_base)) do
    local list = by_base[b]
    table.sort(list, function(x, y)
      if x.first_op ~= y.first_op then return x.first_op < y.first_op end
      return x.text < y.text
    end)
    for _, n in ipairs(list) do
      local name = b
      if #list > 1 then name = op_names[n.first_op] .. "_" .. b end
      local base, k = name, 2
      while taken[name] do
        name = base .. "_" .. k
        k = k + 1
      end
      taken[name] = true
      n.name = name
    end
  end
end

--- Plans the files: which schemas are shared and where each is defined.
--- Returns { groups = { [group] = { ops, payloads, defs } }, shared = { defs } }.
local function _plan(m)
  local intern, nodes = _interner()
  local payloads = {}
  for _, op in ipairs(m.operations) do
    local p = _payload(op)
    payloads[op] = p
    _roots(p, function(s, key)
      local n = intern(s)
      n.refs = n.refs + 1
      n.contexts[key] = (n.contexts[key] or 0) + 1
      if key == "body" then
        n.body_of = n.body_of or {}
        n.body_of[#n.body_of + 1] = op.name
      end
    end)
  end
  -- Each distinct schema is written once, so a child is referred to once per
  -- distinct parent (and per slot in it).
  for _, n in ipairs(nodes) do
    for _, kid in ipairs(n.kids) do
      kid.node.refs = kid.node.refs + 1
      kid.node.contexts[kid.key] = (kid.node.contexts[kid.key] or 0) + 1
    end
  end
  local shared = {}
  for _, n in ipairs(nodes) do
    if n.refs >= 2 and #n.text > INLINE_MAX then
      n.shared = true
      shared[#shared + 1] = n
    end
  end
  return payloads, nodes, shared
end

-- The value to serialize for schema `s`: shared ones become references;
-- `use(node)` is told about every shared schema referred to.
local function _with_refs(s, intern_of, use, top)
  local n = intern_of(s)
  if n and n.shared and not top then
    use(n)
    -- (Names are settled after the first walks, which only collect users.)
    return ref((n.home == "shared" and "X." or "S.") .. (n.name or "?"))
  end
  local out = {}
  for k, v in pairs(s) do out[k] = v end
  if s.properties then
    local props = {}
    for k, v in pairs(s.properties) do props[k] = _with_refs(v, intern_of, use) end
    out.properties = props
  end
  if s.items then out.items = _with_refs(s.items, intern_of, use) end
  if s.any_of then
    local list = {}
    for i, b in ipairs(s.any_of) do list[i] = _with_refs(b, intern_of, use) end
    out.any_of = list
  end
  return out
end

-- A payload with its shared schemas replaced by references.
local function _payload_refs(p, intern_of, use)
  local out = { path_params = p.path_params, query = {} }
  for i, q in ipairs(p.query) do
    local c = {}
    for k, v in pairs(q) do c[k] = v end
    c.schema = _with_refs(q.schema, intern_of, use)
    out.query[i] = c
  end
  if p.body then out.body = _with_refs(p.body, intern_of, use) end
  if p.path_schemas then
    out.path_schemas = {}
    for k, v in pairs(p.path_schemas) do out.path_schemas[k] = _with_refs(v, intern_of, use) end
  end
  return out
end

local HEADER = {
  "-- GENERATED by `make operations` (tools/gen-operations.lua) from reference/kombo-openapi.json,",
  "-- reference/kombo-openapi-additions.json and reference/kombo-sdk-operations.md; do not edit.",
}

-- Lazily built named schemas: define.<name> builds one the first time
-- <table>.<name> is read.
local function _lazy_block(var, out)
  out[#out + 1] = "local define = {}"
  out[#out + 1] = "local " .. var .. " = setmetatable({}, { __index = function(t, name)"
  out[#out + 1] = "  local v = define[name]()"
  out[#out + 1] = "  rawset(t, name, v)"
  out[#out + 1] = "  return v"
  out[#out + 1] = "end })"
end
_M.lazy_block = _lazy_block

local function _defs(list, intern_of, use, out)
  table.sort(list, function(a, b) return a.name < b.name end)
  for _, n in ipairs(list) do
    out[#out + 1] = ""
    out[#out + 1] = "define." .. n.name .. " = function()"
    local lines = {}
    emit(_with_refs(n.value, intern_of, use, true), "  ", lines, "return ")
    lines[#lines] = lines[#lines]:gsub(",$", "")
    for _, l in ipairs(lines) do out[#out + 1] = l end
    out[#out + 1] = "end"
  end
end

-- What binding an operation needs; the rest (parameters, body schema) is
-- built on first use, see FOOTER.
local HEAD = { "name", "alias", "method", "path", "paginated", "integration" }

-- The operation tables' __index functions run on every call that reads a
-- field an operation lacks: kept out of LuaJIT's traces as the SDK's other
-- modules are (compat.interpreted_module).
local INTERPRETED = 'require("kombo.compat").interpreted_module()'
_M.INTERPRETED = INTERPRETED

local FOOTER = [[

-- An operation's parameters and body are built when it is first used (any
-- field but the ones binding reads).
local function _define(op, key)
  local build = rawget(op, "define")
  if build then
    op.define = nil
    for k, v in pairs(build()) do rawset(op, k, v) end
  end
  return rawget(op, key)
end

local lazy = { __index = _define }
for _, op in ipairs(operations) do setmetatable(op, lazy) end
return operations]]

--- { [relative path] = text } for every file of the table.
function _M.files(m)
  local payloads, nodes, shared = _plan(m)
  -- Canonical texts are unique: a schema's node is found by its text.
  local by_text, by_table = {}, {}
  for _, n in ipairs(nodes) do by_text[n.text] = n end
  local function index(s)
    local n = by_table[s]
    if n == nil then
      n = by_text[inline(s)] or false
      by_table[s] = n
    end
    return n
  end

  -- Which groups use each shared schema decides where it is defined: in the
  -- one group's file, or in shared.lua when several use it. A parent's text
  -- is longer than any child's, so walking longest first settles every user
  -- of a schema before the schema itself.
  local group_of_op = {}
  for _, g in ipairs(m.group_order) do
    for _, op in ipairs(m.groups[g]) do group_of_op[op] = g end
  end
  local op_names = {}
  for i, op in ipairs(m.operations) do
    local g = group_of_op[op]
    op_names[i] = op.name
    _payload_refs(payloads[op], index, function(n)
      n.users[g] = true
      n.first_op = n.first_op or i
    end)
  end
  table.sort(shared, function(a, b)
    if #a.text ~= #b.text then return #a.text > #b.text end
    return a.text < b.text
  end)
  for _, n in ipairs(shared) do
    local users = model.sorted_keys(n.users)
    n.home = (#users == 1) and users[1] or "shared"
    _with_refs(n.value, index, function(k)
      k.users[n.home] = true
      k.first_op = math.min(k.first_op or n.first_op, n.first_op)
    end, true)
  end
  _assign_names(shared, op_names)

  local files = {}
  -- shared.lua
  local shared_defs = {}
  local local_defs = {}
  for _, n in ipairs(shared) do
    if n.home == "shared" then
      shared_defs[#shared_defs + 1] = n
    else
      local_defs[n.home] = local_defs[n.home] or {}
      local list = local_defs[n.home]
      list[#list + 1] = n
    end
  end
  do
    local out = {}
    for _, l in ipairs(HEADER) do out[#out + 1] = l end
    out[#out + 1] = "-- Schemas that operations of several groups share, each built on first use."
    out[#out + 1] = ""
    out[#out + 1] = INTERPRETED
    _lazy_block("X", out)
    _defs(shared_defs, index, function() end, out)
    out[#out + 1] = ""
    out[#out + 1] = "return X"
    files["lua/kombo/operations/shared.lua"] = concat(out, "\n") .. "\n"
  end

  for _, g in ipairs(m.group_order) do
    local ops = m.groups[g]
    local out = {}
    for _, l in ipairs(HEADER) do out[#out + 1] = l end
    out[#out + 1] = format("-- client.%s: %d operations as data (method, path, parameters, request body schema).", g,
      #ops)
    local uses_shared = false
    local body = {}
    local defs = local_defs[g] or {}
    local mark = function(n) if n.home == "shared" then uses_shared = true end end
    if #defs > 0 then
      body[#body + 1] = ""
      body[#body + 1] = "-- Schemas several of this group's operations share, each built on first use."
      _lazy_block("S", body)
      _defs(defs, index, mark, body)
    end
    body[#body + 1] = ""
    body[#body + 1] = "local operations = {"
    for _, op in ipairs(ops) do
      body[#body + 1] = "  {"
      local head = { name = op.name, alias = op.alias, method = op.method, path = op.path,
        paginated = op.paginated, integration = op.integration }
      for _, k in ipairs(HEAD) do
        emit(head[k], "    ", body, k .. " = ")
      end
      body[#body + 1] = "    define = function()"
      local lines = {}
      emit(_payload_refs(payloads[op], index, mark), "      ", lines, "return ")
      lines[#lines] = lines[#lines]:gsub(",$", "")
      for _, l in ipairs(lines) do body[#body + 1] = l end
      body[#body + 1] = "    end,"
      body[#body + 1] = "  },"
    end
    body[#body + 1] = "}"
    body[#body + 1] = FOOTER
    out[#out + 1] = ""
    out[#out + 1] = INTERPRETED
    if uses_shared then out[#out + 1] = 'local X = require("kombo.operations.shared")' end
    for _, l in ipairs(body) do out[#out + 1] = l end
    files["lua/kombo/operations/" .. g .. ".lua"] = concat(out, "\n") .. "\n"
  end

  -- The index: always loaded, so only names.
  local out = {}
  for _, l in ipairs(HEADER) do out[#out + 1] = l end
  out[#out + 1] = "-- The groups of operations (client.<group>), each in lua/kombo/operations/<group>.lua and"
  out[#out + 1] = "-- loaded on first use: operations.load(group) returns its list of operations."
  out[#out + 1] = ""
  out[#out + 1] = 'local compat = require("kombo.compat")'
  out[#out + 1] = "compat.interpreted_module()"
  out[#out + 1] = "local operations = {"
  local names = {}
  for i, g in ipairs(m.group_order) do names[i] = g end
  emit(names, "  ", out, "groups = ")
  out[#out + 1] = "}"
  out[#out + 1] = ""
  out[#out + 1] = "local known = {}"
  out[#out + 1] = "for _, g in ipairs(operations.groups) do known[g] = true end"
  out[#out + 1] = ""
  out[#out + 1] = "--- The operations of `group` (a list of tables with name, alias, method,"
  out[#out + 1] = "--- path, paginated, integration, and path_params, query and body built on"
  out[#out + 1] = "--- first use), or nil for a name that is no group."
  out[#out + 1] = "function operations.load(group)"
  out[#out + 1] = "  if not known[group] then return nil end"
  out[#out + 1] = '  return compat.require("kombo.operations." .. group)'
  out[#out + 1] = "end"
  out[#out + 1] = ""
  out[#out + 1] = "--- Every operation, group by group (loads every group)."
  out[#out + 1] = "function operations.all()"
  out[#out + 1] = "  local list = {}"
  out[#out + 1] = "  for _, g in ipairs(operations.groups) do"
  out[#out + 1] = "    for _, op in ipairs(operations.load(g)) do list[#list + 1] = op end"
  out[#out + 1] = "  end"
  out[#out + 1] = "  return list"
  out[#out + 1] = "end"
  out[#out + 1] = ""
  out[#out + 1] = "return operations"
  files["lua/kombo/operations.lua"] = concat(out, "\n") .. "\n"
  return files
end

return _M
