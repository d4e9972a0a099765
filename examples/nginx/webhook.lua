-- The inbound-candidate job: Kombo's webhooks at /kombo/webhooks (nginx.conf), checked on the
-- raw body and answered at once; the work runs in a timer: on data-changed for applications,
-- fetch the ones changed in the last hour and log each (your CRM call goes there).
local kombo = require("kombo")
local ngx = ngx -- luacheck: ignore 113

local _M = {}

local function _handle(premature, event)
  if premature or event.type ~= "data-changed" then return end
  for _, model in ipairs(event.data.changed_models) do
    if model.name == "ats_applications" then
      local client = assert(kombo.from_env({ integration_id = event.data.integration_id, null_as_nil = true }))
      local page, err = client.ats:get_applications({ updated_after = kombo.iso8601(ngx.time() - 3600) })
      if not page then return ngx.log(ngx.ERR, "kombo: ", tostring(err)) end
      for _, a in ipairs(page.data.results) do
        local who = a.candidate and a.candidate.first_name or "no candidate"
        ngx.log(ngx.NOTICE, "kombo: application ", a.id, " (", who, ") changed")
      end
    end
  end
end

function _M.receive()
  ngx.req.read_body()
  local body, file = ngx.req.get_body_data(), ngx.req.get_body_file()
  if not body and file then -- over client_body_buffer_size: nginx kept it on disk
    local f = assert(io.open(file, "rb"))
    body = f:read("*a"); f:close()
  end
  local event, err = kombo.webhooks.parse(body or "", ngx.req.get_headers()["x-kombo-signature"],
    os.getenv("KOMBO_WEBHOOK_SECRET"))
  if not event then
    ngx.log(ngx.WARN, "kombo: webhook refused: ", tostring(err))
    return ngx.exit(err.reason and err.reason:find("^signature") and 401 or 400)
  end
  ngx.log(ngx.NOTICE, "kombo: event ", event.id, " (", event.type, ")")
  -- No timer to spare (lua_max_pending_timers): 503, and Kombo sends it again.
  return ngx.exit(ngx.timer.at(0, _handle, event) and 200 or 503)
end

return _M
