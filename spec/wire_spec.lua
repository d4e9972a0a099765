-- What goes on the wire from Lua values, as the sandbox's request log saw
-- it: dates given as numbers. What the SDK refuses leaves the log empty and
-- comes back as an invalid_request error; every runtime sends the same
-- bytes or refuses.

local sandbox = require("support.sandbox")

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

end)
