-- The inbound-candidate job: Kombo's webhooks at /kombo/webhooks (nginx.conf), checked on the
-- raw body and answered at once; the work runs in a timer: on data-changed for applications,
-- every application changed since the last one handled, deletions too, is logged (your CRM
-- call goes there). Where it got to is kept in the shared dict kombo_sync, so an event that
-- comes late, twice, or while a handling failed loses nothing: the next one takes it up.
-- The first event after nginx starts walks every application once.
local kombo = require("kombo")
local ngx = ngx -- luacheck: ignore 113

local _M = {}

local function _handle(premature, integration_id)
  if premature then return end
  local client = assert(kombo.from_env({ integration_id = integration_id, null_as_nil = true }))
  local sync = assert(client:sync("ats.get_applications", {}, { store = ngx.shared.kombo_sync }))
  local ok, err = sync:run(function(a)
    local who = a.candidate and a.candidate.first_name or "no candidate"
    ngx.log(ngx.NOTICE, "kombo: application ", a.id, " (", who, ") ", a.remote_deleted_at and "deleted" or "changed")
  end)
  if not ok then ngx.log(ngx.ERR, "kombo: ", tostring(err), " (the next event goes on from there)") end
  client:close()
end

local function _applications_changed(event)
  if event.type ~= "data-changed" then return false end
  for _, model in ipairs(event.data.changed_models) do
    if model.name == "ats_applications" then return true end
  end
  return false
end

function _M.receive()
  ngx.req.read_body()
  local body, file = ngx.req.get_body_data(), ngx.req.get_body_file()
  if not body and file then -- over client_body_buffer_size: nginx kept it on disk
    local f = assert(io.open(file, "rb"))
    body = f:read("*a"); f:close()
  end
  local secret = os.getenv("KOMBO_WEBHOOK_SECRET")
  if not secret then
    ngx.log(ngx.ERR, "kombo: KOMBO_WEBHOOK_SECRET is not set (nginx.conf's env line?)")
    return ngx.exit(500) -- ours, not the sender's: Kombo sends it again
  end
  local event, err = kombo.webhooks.parse(body or "", ngx.req.get_headers()["x-kombo-signature"], secret)
  if not event then
    ngx.log(ngx.WARN, "kombo: webhook refused: ", tostring(err))
    return ngx.exit(err.reason and err.reason:find("^signature") and 401 or 400)
  end
  ngx.log(ngx.NOTICE, "kombo: event ", event.id, " (", event.type, ")")
  if not _applications_changed(event) then return ngx.exit(200) end
  -- No timer to spare (lua_max_pending_timers): 503, and Kombo sends it again.
  return ngx.exit(ngx.timer.at(0, _handle, event.data.integration_id) and 200 or 503)
end

return _M
