-- examples/integration_health.lua run as a user would (a child interpreter
-- with KOMBO_API_KEY, KOMBO_INTEGRATION_ID and KOMBO_SERVER_URL set)
-- against the sandbox: what it prints, its exit status, and the requests it
-- made (a sync only for stale data, and not twice while one is queued).

local sandbox = require("support.sandbox")

describe("examples/integration_health.lua", function()
  -- A forced sync outlasts both runs of the script, however slow they are.
  local sb = sandbox.fixture({ args = { "--sync-ms", "600000" } })

  -- Runs the script; returns exit code, stdout, stderr.
  local function run(args, env)
    return sb:run("examples/integration_health.lua", args, env)
  end

  local function syncs()
    local n, last = 0, nil
    for _, r in ipairs(sb:requests()) do
      if r.path == "/v1/force-sync" then n, last = n + 1, r end
    end
    return n, last
  end

  it("checks the key and the integration, and asks for one sync when its data is stale", function()
    local code, out, err = run()
    assert.equal(0, code, err)
    assert.matches("API key ok", out, 1, true)
    assert.matches("sandbox:integration%s+ok%s+Kombo Sandbox ATS; nothing changed in 24 h; sync %w+ queued", out)
    local n, req = syncs()
    assert.equal(1, n)
    assert.equal("sandbox:integration", req.headers["x-integration-id"])
    assert.equal('{"type":"DELTA"}', req.body)
    -- The key check and the details need no integration: none is sent.
    assert.is_nil(sb:requests()[1].headers["x-integration-id"])
    code, out = run()
    assert.equal(0, code)
    assert.matches("already queued", out, 1, true)
  end)

  it("leaves fresh data alone", function()
    local code, out = run({ "--stale-hours", "1000000" })
    assert.equal(0, code)
    assert.matches("data fresh", out, 1, true)
    assert.equal(0, (syncs()))
  end)

  it("reports an integration that needs attention and exits 2", function()
    local code, out = run({ sb.integration_id, "nope:1", "--dry-run" })
    assert.equal(2, code)
    assert.matches("nope:1%s+ATTENTION not found", out)
    assert.matches("would sync", out, 1, true)
    assert.matches("1 of 2 integrations need attention", out, 1, true)
    assert.equal(0, (syncs()))
  end)

  it("stops at a key that does not work", function()
    local code, _, err = run(nil, { api_key = "wrong" })
    assert.equal(1, code)
    assert.matches("API key check failed: kombo: API error in check_api_key (HTTP 401)", err, 1, true)
  end)
end)
