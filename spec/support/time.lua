-- Date-times for specs, computed apart from the SDK's own code.
local floor = math.floor

local _M = {}

--- Seconds since the epoch (fractions kept) of an ISO 8601 UTC timestamp
--- such as 2026-12-01T15:04:05.123Z.
function _M.epoch(iso)
  local y, m, d, h, mi, s, frac = iso:match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)%.?(%d*)")
  y, m, d = tonumber(y), tonumber(m), tonumber(d)
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local doy = floor((153 * ((m + 9) % 12) + 2) / 5) + d - 1
  local days = era * 146097 + yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy - 719468
  return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(s) + (tonumber("0." .. frac) or 0)
end

return _M
