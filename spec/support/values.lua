-- Deep equality of decoded JSON values, for the specs that compare what
-- the SDK decoded or sent with what was expected.
local _M = {}

local mtype = math.type or function() return "float" end

--- agree(a, b, typed): equal as JSON values; an empty table is both [] and
-- {}. Typed: integers and floats must match too (5.3+); else numbers
-- compare as floats (lua-cjson's, which round past 2^53). NaN equals NaN.
function _M.agree(a, b, typed)
  if type(a) ~= type(b) then return false end
  if type(a) == "number" then
    if typed then
      if mtype(a) ~= mtype(b) then return false end
    else
      a, b = a + 0.0, b + 0.0
    end
    return a == b or (a ~= a and b ~= b)
  end
  if type(a) ~= "table" then return a == b end
  local keys = 0 -- a's, less b's: every key of a agrees, and b has no more
  for k, v in pairs(a) do
    if not _M.agree(v, b[k], typed) then return false end
    keys = keys + 1
  end
  for _ in pairs(b) do keys = keys - 1 end
  return keys == 0
end

--- A create-candidate body (candidate Ada Lovelace applying to job J1)
-- with `overrides` replacing whole top-level fields.
function _M.candidate_body(overrides)
  local body = { candidate = { first_name = "Ada", last_name = "Lovelace", email_address = "ada@example.com" },
    application = { job_id = "J1" } }
  for k, v in pairs(overrides or {}) do body[k] = v end
  return body
end

return _M
