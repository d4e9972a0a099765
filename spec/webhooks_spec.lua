-- kombo.webhooks: signatures checked against vectors that openssl computes
-- (never the C code under test), every event type of the document parsed
-- and its schema enforced, and, end to end, the sandbox signing events
-- that the OpenResty receiver of examples/nginx verifies and acts on.
local kombo = require("kombo")
local cjson = require("cjson")
local files = require("support.files")
package.path = "tools/?.lua;" .. package.path
local samples = require("genlib.samples")
local events = require("kombo.webhook_events")

local webhooks = kombo.webhooks

-- HMAC-SHA256 of body under secret by the openssl command (the key as hex,
-- so any byte passes the shell), as base64url without padding.
local function sign(body, secret)
  local path = files.tmp(".body")
  files.write(path, body)
  local hex = secret:gsub(".", function(c) return ("%02x"):format(c:byte()) end)
  local out, code = files.sh("openssl dgst -sha256 -mac HMAC -macopt hexkey:" .. hex
    .. " -binary " .. files.quote(path) .. " | openssl base64 -A")
  os.remove(path)
  assert(code == 0, "openssl failed (install Debian package openssl): " .. out)
  local b64 = out:match("^%s*([%w+/=]+)%s*$")
  assert(b64 and #b64 == 44, "unexpected openssl output: " .. out)
  return (b64:gsub("+", "-"):gsub("/", "_"):gsub("=", ""))
end

local SECRET = "whsec_3kP9-sandbox-secret"

local DATA_CHANGED = '{"id":"evt_1","type":"data-changed","data":{"integration_id":"personio:Zoë",'
  .. '"integration_tool":"personio","integration_category":"HRIS","changed_models":[{"name":"hris_employees"}]}}'

local function check_err(err, field, reason)
  assert.is_true(require("kombo.errors").is(err))
  assert.equal("invalid_request", err.kind)
  assert.equal(field, err.field)
  assert.equal(reason, err.reason)
  assert.is_nil(tostring(err):find(SECRET, 1, true))
end

describe("kombo.webhooks.verify", function()
  -- Bytes outside ASCII, and invalid UTF-8 too: the signature covers bytes.
  local BODIES = { DATA_CHANGED, "", "Zoë Ångström — 日本語 \0\255\254 end" }

  it("accepts openssl's signature, unpadded as Kombo sends it and padded", function()
    for _, body in ipairs(BODIES) do
      local sig = sign(body, SECRET)
      assert.equal(43, #sig)
      assert.is_true(webhooks.verify(body, sig, SECRET))
      assert.is_true(webhooks.verify(body, sig .. "=", SECRET))
    end
    -- A secret with bytes a shell or C string would mangle.
    local odd = "s'e\0c\"r$et\n"
    assert.is_true(webhooks.verify(DATA_CHANGED, sign(DATA_CHANGED, odd), odd))
  end)

  it("refuses a tampered body and a wrong secret as signature_mismatch", function()
    local sig = sign(DATA_CHANGED, SECRET)
    local ok, err = webhooks.verify(DATA_CHANGED:gsub("HRIS", "ATS ", 1), sig, SECRET)
    assert.is_nil(ok)
    check_err(err, "signature", "signature_mismatch")
    ok, err = webhooks.verify(DATA_CHANGED .. "\n", sig, SECRET)
    assert.is_nil(ok)
    check_err(err, "signature", "signature_mismatch")
    ok, err = webhooks.verify(DATA_CHANGED, sig, SECRET .. "x")
    assert.is_nil(ok)
    check_err(err, "signature", "signature_mismatch")
    -- Another body's valid signature.
    ok, err = webhooks.verify(DATA_CHANGED, sign("{}", SECRET), SECRET)
    assert.is_nil(ok)
    check_err(err, "signature", "signature_mismatch")
  end)

  it("refuses a missing header as signature_missing", function()
    for _, missing in ipairs({ false, "" }) do
      local ok, err = webhooks.verify(DATA_CHANGED, missing or nil, SECRET)
      assert.is_nil(ok)
      check_err(err, "signature", "signature_missing")
      assert.matches("X-Kombo-Signature", err.message, 1, true)
    end
  end)

  it("refuses what is not a base64url HMAC-SHA256 as signature_malformed", function()
    local sig = sign(DATA_CHANGED, SECRET)
    local hex_out = files.sh("printf %s " .. files.quote(DATA_CHANGED)
      .. " | openssl dgst -sha256 -hmac " .. files.quote(SECRET) .. " -r")
    local malformed = {
      sig:sub(1, 42),                                     -- truncated
      sig .. "AAAA",                                      -- too long
      sig .. "==",                                        -- more padding than the length needs
      "=" .. sig,                                         -- padding first
      sig:sub(1, 20) .. "!" .. sig:sub(22),               -- outside the alphabet
      sig:sub(1, 20) .. "+" .. sig:sub(22),               -- standard base64, not base64url
      sig:sub(1, 42) .. (sig:sub(43) == "A" and "B" or "A"), -- non-zero unused bits (or another digest)
      " " .. sig,                                         -- whitespace
      assert(hex_out:match("^(%x+)")),                    -- hex, as other services sign
      ("A"):rep(1000),
    }
    for i, bad in ipairs(malformed) do
      local ok, err = webhooks.verify(DATA_CHANGED, bad, SECRET)
      assert.is_nil(ok, "case " .. i)
      -- The last digit of another digest can be canonical: then it is a mismatch.
      check_err(err, "signature", (i == 7 and err.reason == "signature_mismatch") and "signature_mismatch"
        or "signature_malformed")
    end
    local ok, err = webhooks.verify(DATA_CHANGED, { sig, sig }, SECRET)
    assert.is_nil(ok)
    check_err(err, "signature", "signature_malformed")
    assert.matches("one X-Kombo-Signature header; the request has 2", err.message, 1, true)
    -- a list of one (ngx.req.get_headers() for a header sent once, as some
    -- proxies pass it) is that value
    assert.is_true(webhooks.verify(DATA_CHANGED, { sig }, SECRET))
    ok, err = webhooks.verify(DATA_CHANGED, { ("A"):rep(43) }, SECRET)
    assert.is_nil(ok)
    assert.is_not_nil(err.reason:match("^signature_"))
    -- a list whose __len is someone's code that raises is still a list, counted
    local odd = setmetatable({ sig }, { __len = function() error("no length here") end })
    assert.is_true(webhooks.verify(DATA_CHANGED, odd, SECRET))
    ok, err = webhooks.verify(DATA_CHANGED, setmetatable({}, { __len = function() return {} end }), SECRET)
    assert.is_nil(ok)
    assert.equal("signature_malformed", err.reason)
  end)

  it("answers bad argument types with nil, err and never raises", function()
    local sig = sign(DATA_CHANGED, SECRET)
    local cases = {
      { nil, sig, SECRET, "raw_body" }, { {}, sig, SECRET, "raw_body" }, { 1, sig, SECRET, "raw_body" },
      { DATA_CHANGED, sig, nil, "secret" }, { DATA_CHANGED, sig, "", "secret" }, { DATA_CHANGED, sig, 7, "secret" },
      { DATA_CHANGED, 42, SECRET, "signature" }, { DATA_CHANGED, true, SECRET, "signature" },
    }
    for i, c in ipairs(cases) do
      for _, fn in ipairs({ webhooks.verify, webhooks.parse }) do
        local ok, res, err = pcall(fn, c[1], c[2], c[3])
        assert.is_true(ok, "case " .. i .. " raised: " .. tostring(res))
        assert.is_nil(res, "case " .. i)
        assert.equal(c[4], err.field, "case " .. i)
      end
    end
  end)
end)

describe("kombo.webhooks.parse", function()
  local function signed(value)
    local body = type(value) == "string" and value or cjson.encode(value)
    return body, sign(body, SECRET), SECRET
  end

  it("knows every event type of the document's webhooks", function()
    local doc = cjson.decode(files.read("reference/kombo-openapi.json"))
    local names = {}
    for name in pairs(doc.webhooks) do names[#names + 1] = name end
    table.sort(names)
    assert.same(names, events.types)
    assert.equal(11, #events.types)
  end)

  it("returns { id, type, data } for a valid event of each type", function()
    for _, t in ipairs(events.types) do
      local sample = samples.value(events.schema(t), "event", { null = cjson.null, fill_arrays = true })
      assert.truthy(sample, t)
      sample.id = "evt_" .. t
      local event, err = webhooks.parse(signed(sample))
      assert.is_nil(err, t .. ": " .. tostring(err))
      assert.same({ id = "evt_" .. t, type = t, data = sample.data }, event)
    end
    local event = assert(webhooks.parse(DATA_CHANGED, sign(DATA_CHANGED, SECRET), SECRET))
    assert.equal("personio:Zoë", event.data.integration_id)
    assert.equal("hris_employees", event.data.changed_models[1].name)
  end)

  it("verifies before it decodes", function()
    local ok, err = webhooks.parse("not json", sign("other", SECRET), SECRET)
    assert.is_nil(ok)
    check_err(err, "signature", "signature_mismatch")
  end)

  local function with(edit)
    local v = cjson.decode(DATA_CHANGED)
    edit(v)
    return v
  end

  -- Kombo sends models, values and fields before the document lists them.
  it("takes a genuine event with an enum value or a field the document does not list yet", function()
    for i, v in ipairs({
      with(function(e) e.data.changed_models[1].name = "hris_skills" end),
      with(function(e) e.data.integration_category = "LMS" end),
      with(function(e) e.data.sync_id = "sync_1" end),
      with(function(e)
        e.delivered_at = "2026-12-01T15:04:05.000Z"
        e.data.changed_models[1].scope = { "employees" }
      end),
    }) do
      local event, err = webhooks.parse(signed(v))
      assert.is_nil(err, "case " .. i .. ": " .. tostring(err))
      assert.same({ id = v.id, type = "data-changed", data = v.data }, event)
    end
  end)

  it("names the field an event breaks", function()
    local base = cjson.decode(DATA_CHANGED)
    local cases = {
      { with(function(v) v.data.integration_tool = nil end), "data.integration_tool", "event_invalid", "required" },
      { with(function(v) v.data.changed_models[1].name = nil end), "data.changed_models[1].name", "event_invalid",
        "required" },
      { with(function(v) v.data.changed_models[1].name = 5 end), "data.changed_models[1].name", "event_invalid",
        "a string" },
      { with(function(v) v.data.changed_models = "hris_employees" end), "data.changed_models", "event_invalid",
        "an array" },
      { with(function(v) v.data.integration_category = true end), "data.integration_category", "event_invalid",
        "a string" },
      { with(function(v) v.id = 5 end), "id", "event_invalid", "a string" },
      { with(function(v) v.data = nil end), "data", "event_invalid", "required" },
      { with(function(v) v.type = "order-shipped" end), "type", "event_unknown", "got order-shipped" },
      { with(function(v) v.type = nil end), "type", "event_unknown", "one of the event types" },
      { "[1,2]", "raw_body", "event_invalid", "a JSON object" },
      { "{\"id\":", "raw_body", "body_not_json", "a JSON object" },
    }
    assert.truthy(webhooks.parse(signed(base)))
    for i, c in ipairs(cases) do
      local body, sig = signed(c[1])
      local ok, err = webhooks.parse(body, sig, SECRET)
      assert.is_nil(ok, "case " .. i)
      check_err(err, c[2], c[3])
      assert.matches(c[4], err.message, 1, true)
    end
  end)
end)

describe("the sandbox's webhooks and the OpenResty receiver (examples/nginx/webhook.lua)", function()
  local sandbox = require("support.sandbox")
  local nginx = require("support.nginx")
  local socket = require("socket")
  -- Forced syncs of a second: their sync-finished comes soon.
  local SYNC_MS = 1000
  local sb = sandbox.fixture({ args = { "--sync-ms", tostring(SYNC_MS) } })
  local server

  setup(function()
    server = nginx.start({
      init = ("package.path = %q .. package.path"):format(nginx.root() .. "/examples/nginx/?.lua;"),
      -- Bodies over 1 KiB go to a file, which the receiver reads too.
      http = "client_body_buffer_size 1k; lua_shared_dict kombo_sync 1m;",
      locations = { ["/kombo/webhooks"] = 'require("webhook").receive()' },
      env = { KOMBO_WEBHOOK_SECRET = SECRET, KOMBO_API_KEY = sb.api_key, KOMBO_SERVER_URL = sb.url },
    })
  end)
  teardown(function()
    if server then server:stop() end
  end)
  before_each(function() sb:webhook(server.url .. "/kombo/webhooks", SECRET) end)

  -- Waits (a bounded number of polls) until fn() returns a value.
  local function eventually(fn, what)
    for _ = 1, 400 do
      local v = fn()
      if v then return v end
      socket.sleep(0.025)
    end
    error("never happened: " .. what .. "\nnginx log:\n" .. server:log())
  end

  local function delivered(n)
    return eventually(function()
      local list = sb:deliveries()
      if #list >= n and (list[n].status or list[n].error) then return list end
    end, n .. " deliveries")
  end

  -- POST body to the receiver with this signature header (nil: none).
  local function post(body, signature)
    local c = assert(socket.connect("127.0.0.1", server.port))
    c:settimeout(30)
    assert(c:send(("POST /kombo/webhooks HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
      .. "Content-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s"):format(#body,
      signature and ("X-Kombo-Signature: " .. signature .. "\r\n") or "", body)))
    return (server:receive(c))
  end

  it("sends a signed data-changed after a write, which nginx verifies, answers and then acts on", function()
    local _, jobs = sb:request("GET", "/ats/jobs?page_size=1")
    local status, created = sb:request("POST", "/ats/jobs/" .. jobs.data.results[1].id .. "/applications",
      { candidate = { first_name = "Zoë", last_name = "Ångström", email_address = "zoe@example.com" } })
    assert.equal(200, status)
    local d = delivered(1)[1]
    -- Signed as openssl signs it, and an event of the document's schema.
    assert.equal(sign(d.body, SECRET), d.signature)
    local event = assert(webhooks.parse(d.body, d.signature, SECRET))
    assert.equal("data-changed", event.type)
    assert.same({ { name = "ats_applications" }, { name = "ats_candidates" } }, event.data.changed_models)
    assert.equal(sb.integration_id, event.data.integration_id)
    assert.equal(200, d.status)
    -- The timer's walk, with the SDK inside nginx, after the 200 went out:
    -- the first event's walks every application, deletions included.
    local line = "kombo: application " .. created.data.id .. " (Zoë) changed"
    eventually(function() return server:log():find(line, 1, true) end, line)
    local function walks()
      return sb:requests(function(r)
        return r.method == "GET" and r.path == "/v1/ats/applications" and r.query:find("include_deleted=true", 1, true)
      end)
    end
    local fetch = walks()
    assert.truthy(fetch[1], "the receiver fetched the applications")
    assert.equal(sb.integration_id, fetch[1].headers["x-integration-id"])
    assert.is_true(d.answered_ms < fetch[1].at_ms, "answered before handling")
    assert.is_true(#fetch > 1, "every page of the first walk")
    local before = #fetch
    -- The next event's walk goes on from the shared dict's watermark: the
    -- second application, not every one again.
    status, created = sb:request("POST", "/ats/jobs/" .. jobs.data.results[1].id .. "/applications",
      { candidate = { first_name = "Ada", last_name = "Byron", email_address = "ada@example.com" } })
    assert.equal(200, status)
    delivered(2)
    line = "kombo: application " .. created.data.id .. " (Ada) changed"
    eventually(function() return server:log():find(line, 1, true) end, line)
    fetch = walks()
    assert.equal(before + 1, #fetch)
    assert.truthy(fetch[#fetch].query:find("updated_after=", 1, true), fetch[#fetch].query)
  end)

  it("sends sync-finished when a forced sync ends, and none for a sync already queued", function()
    local _, first = sb:request("POST", "/force-sync", {})
    local _, again = sb:request("POST", "/force-sync", {})
    assert.is_true(again.data.already_queued)
    local list = delivered(1)
    local event = assert(webhooks.parse(list[1].body, list[1].signature, SECRET))
    assert.equal("sync-finished", event.type)
    assert.equal(first.data.sync_id, event.data.sync_id)
    assert.equal("SUCCEEDED", event.data.sync_state)
    assert.equal(math.floor(SYNC_MS / 1000), event.data.sync_duration_seconds)
    assert.equal(200, list[1].status)
    -- sent when the sync ended, not when it was asked for
    local asked = sb:requests(function(r) return r.path == "/v1/force-sync" end)[1]
    assert.is_true(list[1].answered_ms >= asked.at_ms + SYNC_MS - 50,
      ("asked at %.0f ms, delivered at %.0f ms"):format(asked.at_ms, list[1].answered_ms))
    eventually(function() return server:log():find("kombo: event " .. event.id .. " (sync-finished)", 1, true) end,
      "the receiver logs the event")
    -- A write after it is delivered second: nothing came between.
    local _, cands = sb:request("GET", "/ats/candidates?page_size=1")
    sb:request("POST", "/ats/candidates/" .. cands.data.results[1].id .. "/tags", { tag = { name = "VIP" } })
    list = delivered(2)
    assert.equal("data-changed", list[2].type)
    assert.equal(2, #list)
  end)

  it("sends no sync-finished for a sync the sandbox was reset under", function()
    local function finished()
      local n = 0
      for _ in server:log():gmatch("%(sync%-finished%)") do n = n + 1 end
      return n
    end
    local before = finished()
    sb:request("POST", "/force-sync", {})
    sb:reset()
    sb:webhook(server.url .. "/kombo/webhooks", SECRET)
    socket.sleep((SYNC_MS + 300) / 1000) -- past the sync's end
    local _, cands = sb:request("GET", "/ats/candidates?page_size=1")
    sb:request("POST", "/ats/candidates/" .. cands.data.results[1].id .. "/tags", { tag = { name = "VIP" } })
    local list = delivered(1)
    assert.equal("data-changed", list[1].type)
    assert.equal(1, #list)
    eventually(function() return server:log():find("kombo: event " .. list[1].id .. " (data-changed)", 1, true) end,
      "the receiver logs the write's event")
    assert.equal(before, finished())
  end)

  it("refuses what is not signed by the secret with 401, and reads a body nginx kept on disk", function()
    local body = '{"id":"evt_x","type":"data-changed","data":{"integration_id":"' .. sb.integration_id .. '",'
      .. '"integration_tool":"sandbox","integration_category":"ATS","changed_models":[{"name":"ats_users"}]}}'
    assert.equal(401, post(body, sign(body, "another secret")))
    assert.equal(401, post(body:gsub("ats_users", "ats_tags"), sign(body, SECRET)))
    assert.equal(401, post(body, nil))
    assert.equal(401, post(body, "not-a-signature"))
    local log = server:log()
    for _, reason in ipairs({ "signature_mismatch", "signature_missing", "signature_malformed" }) do
      assert.truthy(log:find("webhook refused: kombo: invalid request (" .. reason, 1, true), reason)
    end
    assert.equal(400, post('{"id":"evt_y","type":"order-shipped","data":{}}',
      sign('{"id":"evt_y","type":"order-shipped","data":{}}', SECRET)))
    local models = {}
    for i = 1, 1000 do models[i] = '{"name":"ats_users"}' end
    local big = body:gsub('%[{"name":"ats_users"}%]', "[" .. table.concat(models, ",") .. "]"):gsub("evt_x", "evt_big")
    assert.is_true(#big > 16 * 1024) -- past the header buffers, which hold a small body whole
    assert.equal(200, post(big, sign(big, SECRET)))
    eventually(function() return server:log():find("kombo: event evt_big (data-changed)", 1, true) end,
      "the receiver logs the large event")
  end)

  it("keeps answering the API when the receiver is down, and records why the delivery failed", function()
    sb:webhook("http://127.0.0.1:" .. sandbox.free_port() .. "/hooks", SECRET)
    local _, cands = sb:request("GET", "/ats/candidates?page_size=1")
    local status = sb:request("POST", "/ats/candidates/" .. cands.data.results[1].id .. "/tags",
      { tag = { name = "VIP" } })
    assert.equal(200, status)
    local d = delivered(1)[1]
    assert.is_nil(d.status)
    assert.matches("^connect: ECONNREFUSED", d.error)
    assert.equal(200, (sb:request("GET", "/ats/tags?page_size=1")))
  end)

  it("answers the API while a receiver that never answers holds a delivery", function()
    -- Connections wait in the listen backlog; nothing ever reads them.
    local silent = assert(socket.bind("127.0.0.1", 0))
    local _, port = silent:getsockname()
    sb:webhook("http://127.0.0.1:" .. port .. "/hooks", SECRET, 60000)
    local _, cands = sb:request("GET", "/ats/candidates?page_size=1")
    assert.equal(200, (sb:request("POST", "/ats/candidates/" .. cands.data.results[1].id .. "/tags",
      { tag = { name = "VIP" } })))
    assert.equal(200, (sb:request("GET", "/ats/tags?page_size=1")))
    local pending = sb:deliveries()[1]
    assert.is_nil(pending.status)
    assert.is_nil(pending.error)
    -- Taken from the backlog at last and closed unanswered.
    silent:settimeout(30)
    local c = assert(silent:accept())
    c:settimeout(30)
    assert.equal("POST /hooks HTTP/1.1", c:receive("*l"))
    c:close()
    silent:close()
    local d = delivered(1)[1]
    assert.is_nil(d.status)
    assert.equal("no HTTP answer", d.error)
  end)

  it("ends a delivery the receiver does not answer in timeout_ms", function()
    local silent = assert(socket.bind("127.0.0.1", 0))
    local _, port = silent:getsockname()
    sb:webhook("http://127.0.0.1:" .. port .. "/hooks", SECRET, 50)
    sb:request("POST", "/force-sync", {})
    assert.equal("timeout", delivered(1)[1].error)
    silent:close()
    local ok, err = pcall(sb.webhook, sb, "http://127.0.0.1:" .. port .. "/hooks", SECRET, 0)
    assert.is_false(ok)
    assert.matches("400 .*timeout_ms: a whole number of milliseconds from 1 to 60000", err)
  end)
end)

describe("kombo.webhooks in library/kombo.lua", function()
  it("declares verify, parse and one event class per type, each with its constant type", function()
    local text = files.read("library/kombo.lua")
    assert.truthy(text:find("\nfunction webhooks.verify(raw_body, signature, secret) end\n", 1, true))
    assert.truthy(text:find("\nfunction webhooks.parse(raw_body, signature, secret) end\n", 1, true))
    local alias = assert(text:match("\n%-%-%-@alias kombo%.webhooks%.Event (%S+)\n"))
    local n = 0
    for name in alias:gmatch("[^|]+") do
      n = n + 1
      local class = assert(text:match("\n%-%-%-@class " .. name:gsub("%.", "%%.") .. "\n(.-)\n\n"), name)
      local t = assert(class:match('%-%-%-@field type "([^"]+)"'), name)
      assert.truthy(events.schema(t), t)
    end
    assert.equal(#events.types, n)
  end)
end)
