-- The error object every failure of kombo-lua is reported as.
--
-- One shape for all kinds (see README "Errors"): kind, status, code, title,
-- message, log_url, operation, attempts, headers, body, plus `field` for
-- invalid_request and `cursor` for a failed page. Built only here.

require("kombo.compat").interpreted_module()
local setmetatable, tostring, type = setmetatable, tostring, type
local concat = table.concat

local _M = {}

local KINDS = {
  api = true, connection = true, timeout = true,
  invalid_request = true, decode = true, pagination = true, state = true,
}
_M.KINDS = KINDS

local mt = {}
mt.__index = mt

-- One line: what failed where, then the message. The API's own message
-- may end in a full stop, so the attempt count goes in the head, never
-- after it.
local WHAT = {
  api = "API error", connection = "connection error", timeout = "timeout",
  invalid_request = "invalid request", decode = "response not understood", pagination = "pagination error",
  state = "sync state error",
}

function mt.__tostring(e)
  local head = "kombo: " .. (WHAT[e.kind] or e.kind)
  if e.operation then head = head .. " in " .. e.operation end
  local notes = {}
  if e.status then notes[#notes + 1] = "HTTP " .. tostring(e.status) end
  if e.reason then notes[#notes + 1] = e.reason end
  if e.attempts and e.attempts > 1 then notes[#notes + 1] = e.attempts .. " attempts" end
  if #notes > 0 then head = head .. " (" .. concat(notes, ", ") .. ")" end
  local detail = e.message or e.title or ""
  if e.code then detail = e.code .. ": " .. detail end
  return head .. ": " .. detail
end

--- Is `v` an error object made by this module?
function _M.is(v)
  return type(v) == "table" and getmetatable(v) == mt
end

--- Make an error. `fields.kind` and `fields.message` are required.
function _M.new(fields)
  assert(KINDS[fields.kind], "unknown error kind")
  return setmetatable(fields, mt)
end

--- An `invalid_request` error naming the offending field.
function _M.invalid(field, expected, operation)
  return setmetatable({
    kind = "invalid_request",
    field = field,
    message = field .. ": " .. expected,
    operation = operation,
    attempts = 0,
  }, mt)
end

return _M
