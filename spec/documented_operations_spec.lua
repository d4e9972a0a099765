-- Every operation of the documents in reference/, driven from them alone: for
-- each one a valid request is built from its schemas (every query parameter,
-- path parameters that need escaping, the smallest body the schema accepts),
-- sent through the SDK to a local sandbox that records it and answers with
-- the operation's documented example response (a fault rule with a status and
-- a body answers any path), then checked on the wire (method, path, query,
-- headers, body) and the example checked as the SDK decoded it.
-- spec/operations_spec.lua goes deeper for the operations the sandbox serves
-- with state.

package.path = "tools/?.lua;" .. package.path

local kombo = require("kombo")
local cjson = require("cjson")
local model = require("genlib.model")
local samples = require("genlib.samples")
local schema = require("kombo.schema")
local sandbox = require("support.sandbox")

local NULL = cjson.null

-- RFC 3986 unreserved characters stay, everything else is %XX: written
-- here again so the SDK's encoder is checked against a second one.
local function escape(s)
  return (s:gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

local same_json = require("support.values").agree

-- The operations, with what the cases need: the example response is the
-- document's, or the smallest one its response schema accepts where the
-- document gives none. The documents themselves are not kept (the suite
-- runs in one Lua state, and a large resident heap slows every later
-- collection).
local GROUPS, OPERATIONS = {}, {}
do
  local m = model.load("reference")
  for _, g in ipairs(m.group_order) do
    GROUPS[#GROUPS + 1] = g
    for _, op in ipairs(m.groups[g]) do
      local example, documented = op.example, true
      if example == nil then
        documented = false
        local s = model.convert(m.doc, op.response_doc, op.name .. ".response")
        example = samples.value(s, "response", { null = NULL })
        assert(example ~= nil, "no example response for " .. op.name)
      end
      OPERATIONS[#OPERATIONS + 1] = { group = g, name = op.name, alias = op.alias, method = op.method,
        path = op.path, path_schemas = op.path_schemas, query = op.query, body = op.body,
        integration = op.integration, paginated = op.paginated, example = example, documented = documented }
    end
  end
end

-- One value for a query parameter, and its text on the wire.
local function query_value(q)
  if q.boolean then return true, "true" end
  local item = samples.value(q.schema, q.name, { null = NULL })
  assert(item ~= nil, "no value for " .. q.name)
  if q.list then
    local second = q.schema.enum and (q.schema.enum[2] or q.schema.enum[1]) or (tostring(item) .. "-2")
    return { item, second }, escape(tostring(item)) .. "," .. escape(tostring(second))
  end
  local text = type(item) == "number" and (item == math.floor(item) and ("%d"):format(item) or tostring(item))
    or tostring(item)
  return item, escape(text)
end

-- params for one call, and what the request must look like.
local function request_for(op)
  local params, want = {}, { query = {} }
  want.path = op.path:gsub("{([^}]+)}", function(name)
    local s = op.path_schemas[name]
    -- Characters that must not change the path: a space, a slash, a "?".
    local v = s and samples.value(s, name, { null = NULL }) or ("id " .. name .. "/x?")
    params[name] = v
    return escape(v)
  end)
  for _, q in ipairs(op.query) do
    if q.name ~= "cursor" then
      local v, text = query_value(q)
      params[q.name] = v
      want.query[#want.query + 1] = q.name .. "=" .. text
    end
  end
  want.query = table.concat(want.query, "&")
  if op.body then
    local body = samples.value(op.body, "body", { null = NULL })
    assert(body ~= nil, "no body for " .. op.name)
    assert(schema.check(op.body, body))
    params.body = body
    want.body = body
  end
  return params, want
end

describe("every documented operation", function()
  local sb, client

  setup(function()
    sb = sandbox.start()
    client = sb:client({ retries = { strategy = "none" } })
  end)
  teardown(function()
    client:close()
    sb:stop()
    -- The cases stay referenced by busted after they ran; what they hold
    -- need not, nor the groups' tables this file alone loaded (the suite
    -- runs in one Lua state, and every later collection walks what stays).
    for _, op in ipairs(OPERATIONS) do op.example, op.query, op.body, op.path_schemas = nil, nil, nil, nil end
    client = nil
    for _, g in ipairs(GROUPS) do
      if g ~= "ats" then package.loaded["kombo.operations." .. g] = nil end
    end
  end)

  local seen = 0
  for _, op in ipairs(OPERATIONS) do
    local g = op.group
    do
      seen = seen + 1
      it(("%s.%s: %s %s"):format(g, op.name, op.method, op.path), function()
        sb:reset()
        local params, want = request_for(op)
        local example, documented = op.example, op.documented
        local body_text = cjson.encode(example)
        sb:fault({ method = op.method, path = "/v1" .. want.path, status = 200, body = body_text })

        local fn = client[g][op.name]
        assert.equal(fn, client[g][op.alias])
        local res, err = fn(client[g], params)
        assert.is_nil(err)

        -- The wire.
        local list = sb:requests()
        assert.equal(1, #list)
        local req = list[1]
        assert.equal(op.method, req.method)
        assert.equal("/v1" .. want.path, req.path)
        assert.equal(want.query, req.query)
        assert.equal("Bearer " .. sb.api_key, req.headers["authorization"])
        assert.equal(op.integration and sb.integration_id or nil, req.headers["x-integration-id"])
        if want.body ~= nil then
          assert.equal("application/json", req.headers["content-type"])
          assert.is_true(same_json(want.body, cjson.decode(req.body)), req.body)
        else
          assert.equal("", req.body)
          assert.is_nil(req.headers["content-type"])
        end

        -- The answer, decoded.
        assert.is_true(same_json(example, res), op.name .. (documented and "" or " (synthesized example)"))
        assert.equal(200, kombo.meta(res).status)
        if op.paginated then
          assert.is_function(res.items)
          assert.is_table(res.data.results)
          assert.is_nil(rawget(res, "items"))
        else
          assert.is_nil(res.items)
        end
      end)
    end
  end

  it("covers all " .. #OPERATIONS .. " operations of the documents", function()
    assert.equal(#OPERATIONS, seen)
    assert.equal(116, seen)
    assert.equal(8, #GROUPS)
  end)
end)
