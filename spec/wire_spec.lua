-- What goes on the wire from Lua values, as the sandbox's request log saw
-- it: dates given as numbers, tables with metatables, kombo.array, strings
-- that are not UTF-8, the body of an operation given none. What the SDK
-- refuses leaves the log empty and comes back as an invalid_request error;
-- every runtime sends the same bytes or refuses.

local kombo = require("kombo")
local sandbox = require("support.sandbox")

local PLAIN = "a plain table (this one has a metatable, whose fields the checks would not see): copy its fields"
  .. " into one"

-- A read-only view of t, the way Lua code often hands a table out.
local function readonly(t)
  return setmetatable({}, { __index = t, __newindex = function() error("read-only", 2) end,
    __len = function() return #t end, __pairs = function() return next, t, nil end })
end

describe("on the wire", function()
  local sb = sandbox.fixture()
  local client

  setup(function() client = sb:client({ retries = { strategy = "none" } }) end)
  teardown(function() client:close() end)

  -- The call's result and error, and every request it sent.
  local function call(group, name, params, opts)
    sb:clear_requests()
    local res, err = client[group][name](client[group], params, opts)
    return res, err, sb:requests()
  end

  -- The call is refused before anything is sent, naming field.
  local function refused(field, expected, group, name, params, opts)
    local res, err, sent = call(group, name, params, opts)
    assert.is_nil(res)
    assert.equal("invalid_request", err.kind)
    assert.equal(field, err.field)
    assert.matches(expected, err.message, 1, true)
    assert.same({}, sent)
  end

  local function order_body(extra)
    local b = { status = "COMPLETED", result_url = "https://x.example/r" }
    for k, v in pairs(extra) do b[k] = v end
    return b
  end

  describe("a date-time given as a number", function()
    it("in milliseconds by mistake is refused with a hint, before any request, checked or not", function()
      for _, opts in ipairs({ {}, { validate = false } }) do
        refused("updated_after", "seconds since the epoch (this looks like milliseconds)",
          "ats", "get_applications", { updated_after = os.time() * 1000 }, opts)
        refused("body.completed_at", "seconds since the epoch (this looks like milliseconds)",
          "assessment", "update_order_result",
          { assessment_order_id = "ord1", body = order_body({ completed_at = os.time() * 1000 }) }, opts)
      end
    end)

    it("past year 9999 or before year 1 is refused, not a raw error of os.date", function()
      for _, t in ipairs({ 1e17, -1e17, 2 ^ 60 }) do
        for _, opts in ipairs({ {}, { validate = false } }) do
          refused("updated_after", "seconds since the epoch of a date in years 0001 to 9999",
            "ats", "get_applications", { updated_after = t }, opts)
        end
      end
    end)

    it("goes out with a four-digit year at both ends of the range", function()
      local _, _, sent = call("ats", "get_applications", { updated_after = -62135596800 })
      assert.equal("updated_after=0001-01-01T00%3A00%3A00.000Z", sent[1].query)
      _, _, sent = call("ats", "get_applications", { updated_after = 253402300799.999 })
      assert.equal("updated_after=9999-12-31T23%3A59%3A59.999Z", sent[1].query)
    end)
  end)

  describe("a table with a metatable", function()
    it("as a body is refused on every runtime, not sent as {} where pairs ignores __pairs", function()
      for _, opts in ipairs({ {}, { validate = false } }) do
        refused("body", PLAIN, "ats", "add_application_note",
          { application_id = "app1", body = readonly({ content = "Reviewed", content_type = "PLAIN_TEXT" }) }, opts)
        refused("body.remote_fields", PLAIN, "assessment", "update_order_result",
          { assessment_order_id = "ord1", body = order_body({ remote_fields = readonly({ a = "b" }) }) }, opts)
        refused("body.attributes", PLAIN, "assessment", "update_order_result", { assessment_order_id = "ord1",
          body = order_body({ attributes = readonly({ { type = "TEXT", label = "Score", value = "42" } }) }) },
          opts)
      end
    end)

    it("as the parameters is refused, not taken for a call without any", function()
      refused("params", PLAIN, "ats", "get_tags", setmetatable({}, { __index = { page_size = 2 } }))
      refused("params", PLAIN, "ats", "get_tags", readonly({ page_size = 2 }))
    end)

    it("as a parameter's value is refused, checked or not", function()
      for _, opts in ipairs({ {}, { validate = false } }) do
        refused("ids", PLAIN .. ", or mark an array with kombo.array(t)", "ats", "get_jobs",
          { ids = readonly({ "a", "b" }) }, opts)
        refused("page_size", PLAIN, "ats", "get_jobs", { page_size = readonly({}) }, opts)
      end
    end)

    it("whose metamethods raise is refused without calling them", function()
      local boom = { __index = function() error("boom") end, __pairs = function() error("boom") end,
        __tostring = function() error("boom") end }
      refused("params", PLAIN, "ats", "get_tags", setmetatable({ page_size = 2 }, boom))
      refused("body", PLAIN, "ats", "add_application_note",
        { application_id = "app1", body = setmetatable({ content = "x", content_type = "PLAIN_TEXT" }, boom) })
      local _, err = call("ats", "get_tags", { [setmetatable({}, boom)] = 1 })
      assert.equal("table", err.field)
    end)
  end)

  describe("kombo.array", function()
    local function passthrough(data)
      local _, _, sent = call("general", "send_passthrough_request",
        { tool = "t", api = "a", body = { method = "POST", path = "/x", data = data } })
      return sent[1].body
    end

    it("sends an empty free-form field as [], where a plain empty table is {}", function()
      assert.equal('{"data":{"ids":[],"map":{}},"method":"POST","path":"/x"}',
        passthrough({ ids = kombo.array(), map = {} }))
      assert.equal('{"data":[],"method":"POST","path":"/x"}', passthrough(kombo.array()))
      assert.equal('{"data":[["a","b"]],"method":"POST","path":"/x"}', passthrough({ kombo.array({ "a", "b" }) }))
    end)

    it("returns the table it marks, and refuses what it cannot mark", function()
      local t = { "a" }
      assert.equal(t, kombo.array(t))
      assert.equal(t, kombo.array(t))
      for _, bad in ipairs({ "x", 1, false, setmetatable({}, {}) }) do
        local ok, err = pcall(kombo.array, bad)
        assert.is_false(ok)
        assert.matches("bad argument #1 to 'kombo.array' (a table without a metatable expected", err, 1, true)
      end
    end)

    it("is refused where the schema wants an object, and with keys an array has not", function()
      refused("body.remote_fields", "an object", "assessment", "update_order_result",
        { assessment_order_id = "ord1", body = order_body({ remote_fields = kombo.array() }) })
      refused("body.remote_fields", "an array (keys 1..n only)", "assessment", "update_order_result",
        { assessment_order_id = "ord1", body = order_body({ remote_fields = kombo.array({ a = 1 }) }) },
        { validate = false })
    end)
  end)

  describe("a string that is not UTF-8", function()
    it("is refused before the request, naming the field, checked or not", function()
      for _, opts in ipairs({ {}, { validate = false } }) do
        refused("body.content", "valid UTF-8 text", "ats", "add_application_note",
          { application_id = "app1", body = { content = "Caf\233 (Latin-1)", content_type = "PLAIN_TEXT" } }, opts)
        -- an encoded UTF-16 surrogate, which 5.3's utf8.len takes
        refused("body.content", "valid UTF-8 text", "ats", "add_application_note",
          { application_id = "app1", body = { content = "a\237\160\128b", content_type = "PLAIN_TEXT" } }, opts)
        refused("body.remote_fields", "keys are valid UTF-8 text", "assessment", "update_order_result",
          { assessment_order_id = "ord1", body = order_body({ remote_fields = { ["\255"] = "x" } }) }, opts)
      end
    end)

    it("is refused in every malformed shape: overlong, cut short, a stray continuation, past U+10FFFF", function()
      for _, bad in ipairs({ "\192\128", "\224\128\175", "\226\130", "a\128b", "\244\144\128\128",
        "\248\136\128\128\128", "ok \240\159\152" }) do
        refused("body.content", "valid UTF-8 text", "ats", "add_application_note",
          { application_id = "app1", body = { content = bad, content_type = "PLAIN_TEXT" } })
      end
    end)

    it("escapes what JSON requires and nothing else: quotes, backslashes, control characters, DEL", function()
      local _, _, sent = call("ats", "add_application_note", { application_id = "app1",
        body = { content = 'say "hi"\\ a/b\n\t\r\b\f\0\31\127 é', content_type = "PLAIN_TEXT" } })
      assert.equal('{"content":"say \\"hi\\"\\\\ a/b\\n\\t\\r\\b\\f\\u0000\\u001f\\u007f é",'
        .. '"content_type":"PLAIN_TEXT"}', sent[1].body)
    end)

    it("that is UTF-8, from one byte to four, goes out as it is", function()
      local text = "Zoë ✓ 日本 \240\159\152\128"
      local _, _, sent = call("ats", "add_application_note",
        { application_id = "app1", body = { content = text, content_type = "PLAIN_TEXT" } })
      assert.equal('{"content":"' .. text .. '","content_type":"PLAIN_TEXT"}', sent[1].body)
    end)
  end)

  describe("an operation that takes a body, given none", function()
    it("sends {}, which Kombo requires even where no field is", function()
      for _, params in ipairs({ false, {} }) do
        local res, err, sent = call("general", "trigger_sync", params or nil)
        assert.is_nil(err)
        assert.equal("success", res.status)
        assert.equal(1, #sent)
        assert.equal("POST", sent[1].method)
        assert.equal("/v1/force-sync", sent[1].path)
        assert.equal("{}", sent[1].body)
      end
    end)
  end)
end)
