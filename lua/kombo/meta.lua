-- Response metadata kept beside results and errors, never inside them, so
-- the JSON a caller gets stays exactly what the API sent (kombo.meta).

require("kombo.compat").interpreted_module()
local _M = {}

-- Weak keys: metadata lives as long as the result or error it describes.
local store = setmetatable({}, { __mode = "k" })

function _M.set(obj, m)
  if type(obj) == "table" then store[obj] = m end
  return obj
end

function _M.get(obj)
  return store[obj]
end

return _M
