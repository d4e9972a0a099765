-- Resume tokens and incremental sync, against the sandbox: what went over
-- the wire (updated_after, include_deleted, the filters and cursor of a
-- resumed page) is read from the sandbox's request log.
local kombo = require("kombo")
local sandbox = require("support.sandbox")

describe("resume tokens", function()
  local sb, client

  setup(function() sb = sandbox.start() end)
  teardown(function() sb:stop() end)
  before_each(function()
    sb:reset()
    client = assert(kombo.new({ api_key = sb.api_key, integration_id = sb.integration_id, server_url = sb.url }))
  end)
  after_each(function() client:close() end)

  local FILTERS = { page_size = 50, outcome = "PENDING" }

  -- Every id of a walk, and the error that ended it (nil when it finished).
  local function walk(params)
    local ids = {}
    local ok, err = pcall(function()
      for app in assert(client.ats:get_applications(params)):items() do ids[#ids + 1] = app.id end
    end)
    return ids, not ok and err or nil
  end

  it("carries the filters and the cursor of the failed page, and { resume = token } sends both exactly", function()
    local all = walk(FILTERS)
    sb:clear_requests()
    sb:fault({ path = "/v1/ats/applications", every = 3, times = 1, status = 400 })
    local ids, err = walk(FILTERS)
    assert.equal("api", err.kind)
    assert.equal(100, #ids)
    local failed = sb:requests()[3]
    assert.matches("^page_size=50&outcome=PENDING&cursor=", failed.query)
    assert.equal(err.cursor, err.resume.cursor)

    local page = assert(client.ats:get_applications({ resume = err.resume }))
    for app in page:items() do ids[#ids + 1] = app.id end
    local reqs = sb:requests()
    assert.equal(failed.query, reqs[4].query)
    assert.same(all, ids)
  end)

  it("keeps through JSON, and a copy of the filters: changing the params table later changes nothing", function()
    local params = { page_size = 100, outcomes = { "PENDING", "HIRED" } }
    sb:fault({ path = "/v1/ats/applications", every = 2, times = 1, status = 400 })
    local _, err = walk(params)
    params.outcomes[2], params.page_size = "DECLINED", 5
    local cjson = require("cjson")
    local token = assert(require("kombo.core").json_decode(cjson.encode(err.resume)))
    assert(client.ats:get_applications({ resume = token }))
    local reqs = sb:requests()
    assert.equal(reqs[2].query, reqs[3].query)
    assert.matches("^page_size=100&outcomes=PENDING,HIRED&cursor=", reqs[3].query)
  end)

  it("is on a failed first page too, without a cursor: the walk starts again", function()
    sb:fault({ path = "/v1/ats/applications", status = 400 })
    local page, err = client.ats:get_applications(FILTERS)
    assert.is_nil(page)
    assert.is_nil(err.resume.cursor)
    assert(client.ats:get_applications({ resume = err.resume }))
    local reqs = sb:requests()
    assert.equal(reqs[1].query, reqs[2].query)
  end)

  it("refuses other parameters beside it, a token of another operation, and operations that do not page", function()
    sb:fault({ path = "/v1/ats/applications", every = 2, times = 1, status = 400 })
    local _, err = walk(FILTERS)
    sb:clear_requests()
    local function refused(call, expected)
      local res, e = call()
      assert.is_nil(res)
      assert.equal("invalid_request", e.kind)
      assert.equal("resume", e.field)
      assert.matches(expected, e.message, 1, true)
    end
    refused(function() return client.ats:get_applications({ resume = err.resume, page_size = 10 }) end,
      "pass { resume = err.resume } alone (got page_size too)")
    refused(function() return client.ats:get_candidates({ resume = err.resume }) end,
      "err.resume of a failed walk of this operation")
    refused(function() return client.ats:get_applications({ resume = "token" }) end, "unchanged")
    refused(function()
      return client.ats:get_applications({ resume = { operation = "get_applications", path = "/ats/applications",
        filters = { cursor = "x" } } })
    end, "unchanged")
    refused(function() return client.general:check_api_key({ resume = err.resume }) end,
      "not accepted: check_api_key does not page")
    refused(function() return client.general:check_api_key({ resume = err.resume }, { validate = false }) end,
      "does not page")
    assert.equal(0, #sb:requests())
    -- validate = false resumes too: the token is still checked and sent as made
    assert(client.ats:get_applications({ resume = err.resume }, { validate = false }))
    assert.equal(1, #sb:requests())
  end)
end)
