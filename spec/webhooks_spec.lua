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

  it("names the field an event breaks", function()
    local base = cjson.decode(DATA_CHANGED)
    local function with(edit)
      local v = cjson.decode(DATA_CHANGED)
      edit(v)
      return v
    end
    local cases = {
      { with(function(v) v.data.integration_tool = nil end), "data.integration_tool", "event_invalid", "required" },
      { with(function(v) v.data.integration_category = "CRM" end), "data.integration_category", "event_invalid",
        "one of HRIS, ATS, ASSESSMENT" },
      { with(function(v) v.data.changed_models[1].name = "ats_widgets" end), "data.changed_models[1].name",
        "event_invalid", "one of" },
      { with(function(v) v.data.extra = 1 end), "data.extra", "event_invalid", "not an allowed field" },
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
