-- kombo.webhooks: what Kombo posts to a webhook, checked before it is
-- believed. Kombo signs each request in X-Kombo-Signature: the HMAC-SHA256
-- of the raw body under the webhook's secret, base64url. csrc/hmac.c
-- computes and compares it (in constant time); this file turns its answer
-- and the event's schema check into error objects. The schemas are
-- lua/kombo/webhook_events.lua, generated from the document's `webhooks`.
--
-- Every problem is an invalid_request error with `field` and `reason`
-- (README "Webhooks"); nothing here raises.

local compat = require("kombo.compat")
compat.interpreted_module()
local core = require("kombo.core")
local errors = require("kombo.errors")
local schema = require("kombo.schema")

local type, concat = type, table.concat

local _M = {}

-- HMAC takes the key's length as a C int.
local MAX_SECRET = 0x7fffffff

--- The request header Kombo signs webhooks in.
_M.SIGNATURE_HEADER = "X-Kombo-Signature"

local function _fail(field, reason, expected)
  local err = errors.invalid(field, expected)
  err.reason = reason
  return err
end

local CHECK = {
  malformed = { "signature_malformed", "an HMAC-SHA256 in base64url as Kombo sends in X-Kombo-Signature"
    .. " (43 characters of A-Z a-z 0-9 - _, or 44 ending in \"=\"); this value is not one" },
  mismatch = { "signature_mismatch", "the HMAC-SHA256 of the raw body under the webhook's secret; it does"
    .. " not match: the body was changed (verify the bytes as received, before any parsing) or the secret"
    .. " is not this webhook's" },
  crypto_failed = { "signature_unchecked", "a signature libcrypto can check; it could not compute the HMAC" },
}

--- kombo.webhooks.verify(raw_body, signature, secret) -> true | nil, err
function _M.verify(raw_body, signature, secret)
  if type(raw_body) ~= "string" then
    return nil, _fail("raw_body", nil, "the request body as received, a string (got a " .. type(raw_body) .. ")")
  end
  if type(secret) ~= "string" or secret == "" or #secret > MAX_SECRET then
    return nil, _fail("secret", nil, "the webhook's secret, a non-empty string (got "
      .. (secret == "" and "an empty string" or type(secret) == "string" and "one of " .. #secret .. " bytes"
        or ("a " .. type(secret))) .. ")")
  end
  if type(signature) == "table" then
    -- ngx.req.get_headers() gives a list for a header sent more than once;
    -- a list of one is that one value.
    -- Counted raw: a table's __len is the caller's code, and may raise.
    local n = 0
    for _ in next, signature do n = n + 1 end
    if n ~= 1 or rawget(signature, 1) == nil then
      return nil, _fail("signature", "signature_malformed", "one X-Kombo-Signature header; the request has "
        .. n .. " (a list of them)")
    end
    signature = rawget(signature, 1)
  end
  if signature == nil or signature == "" then
    return nil, _fail("signature", "signature_missing", "the X-Kombo-Signature header's value; the request has"
      .. " none, so nothing shows it comes from Kombo")
  end
  if type(signature) ~= "string" then
    return nil, _fail("signature", "signature_malformed", "the X-Kombo-Signature header's value, a string (got a "
      .. type(signature) .. ")")
  end
  local ok, why = core.signature_check(raw_body, signature, secret)
  if ok then return true end
  local c = CHECK[why]
  return nil, _fail("signature", c[1], c[2])
end

--- kombo.webhooks.parse(raw_body, signature, secret) -> { id, type, data } | nil, err
function _M.parse(raw_body, signature, secret)
  local ok, err = _M.verify(raw_body, signature, secret)
  if not ok then return nil, err end
  local event, derr = core.json_decode(raw_body)
  if event == nil then
    return nil, _fail("raw_body", "body_not_json", "a JSON object (" .. tostring(derr) .. ")")
  end
  if schema.kind(event) ~= "object" then
    return nil, _fail("raw_body", "event_invalid", "a JSON object with id, type and data")
  end
  local events = compat.require("kombo.webhook_events")
  local name = event.type
  local s = type(name) == "string" and events.schema(name)
  if not s then
    return nil, _fail("type", "event_unknown", "one of the event types Kombo documents ("
      .. concat(events.types, ", ") .. "), got " .. (type(name) == "string" and name or schema.kind(name) or type(name))
      .. ": a newer kombo-lua may know it")
  end
  local valid, field, expected = schema.check(s, event)
  if not valid then return nil, _fail(field, "event_invalid", expected) end
  return { id = event.id, type = name, data = event.data }
end

return _M
