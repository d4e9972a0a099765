-- The error object every failure of kombo-lua is reported as.
--
-- One shape for all kinds (see README "Errors"): kind, status, code, title,
-- message, log_url, operation, attempts, headers, body, plus `field` for
-- invalid_request and `cursor` for a failed page. Built only here.

local setmetatable, tostring, type = setmetatable, tostring, type
local concat = table.concat

local _M = {}

local KINDS = {
  api = true, connection = true, timeout = true,
  invalid_request = true, decode = true, pagination = true,
}
_M.KINDS = KINDS

local mt = {}
mt.__index = mt

function mt.__tostring(e)
  local parts = { "kombo: " .. e.kind }
  if e.operation then parts[#parts + 1] = "in " .. e.operation end
  if e.status then parts[#parts + 1] = "(HTTP " .. tostring(e.status) .. ")" end
  local head = concat(parts, " ")
  local detail = e.message or e.title or ""
  if e.code then detail = e.code .. ": " .. detail end
  if e.attempts and e.attempts > 1 then
    detail = detail .. " (" .. e.attempts .. " attempts)"
  end
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
