-- Response metadata kept beside results and errors, never inside them, so
-- the JSON a caller gets stays exactly what the API sent (kombo.meta).

require("kombo.compat").interpreted_module()
local parse_headers = require("kombo.core").headers
local _M = {}

-- Weak keys: metadata lives as long as the result or error it describes.
local store = setmetatable({}, { __mode = "k" })
-- Metadata whose headers are still their raw block (attempts.lua): made a
-- table when first asked for.
local later = setmetatable({}, { __mode = "k" })

--- later(m, head): m's headers are the raw block head, parsed when m is
-- first read through get.
function _M.later(m, head)
  later[m] = head
end

function _M.set(obj, m)
  if type(obj) == "table" then store[obj] = m end
  return obj
end

function _M.get(obj)
  local m = store[obj]
  local head = m and later[m]
  if head then
    later[m] = nil
    m.headers = parse_headers(head)
  end
  return m
end

return _M
