-- Rejects the pending applications created more than DAYS days ago with one
-- rejection reason (its id or name, in any case) and an optional note, ten
-- at a time (kombo.map; the SDK keeps Kombo's cap on writes in flight).
--
--   lua examples/reject_stale.lua DAYS REASON [--job JOB_ID] [--note TEXT]
--
-- Reads KOMBO_API_KEY, KOMBO_INTEGRATION_ID and KOMBO_SERVER_URL (optional).
-- Exits 0 when every stale application was rejected, 1 when some failed, 2 on bad arguments.
local kombo = require("kombo")

local days, wanted, opt = tonumber(arg[1]), arg[2], {}
for i = 3, #arg - 1, 2 do opt[arg[i]] = arg[i + 1] end
local function usage(message)
  io.stderr:write(message, "\nusage: reject_stale.lua DAYS REASON [--job JOB_ID] [--note TEXT]\n")
  os.exit(2)
end
if not (days and days >= 0 and wanted) then usage("DAYS (a number >= 0) and REASON are required") end
local client = assert(kombo.from_env())

local reason, names = nil, {}
for r in assert(client.ats:get_rejection_reasons({ page_size = 250 })):items() do
  names[#names + 1] = r.name
  if r.id == wanted or r.name:lower() == wanted:lower() then reason = r end
end
if not reason then usage(("no rejection reason %q; the ATS has: %s"):format(wanted, table.concat(names, ", "))) end

-- The API filters by "created after" only; "older than" is checked here
-- (UTC date-times to the second sort as text).
local cutoff, stale = kombo.iso8601(os.time() - days * 86400):sub(1, 19), {}
local pending = { outcome = "PENDING", job_ids = opt["--job"] and { opt["--job"] }, page_size = 250 }
for app in assert(client.ats:get_applications(pending)):items() do
  local created = app.remote_created_at
  if type(created) == "string" and created:sub(1, 19) < cutoff then stale[#stale + 1] = app end
end

local _, errors = kombo.map(stale, function(app)
  return client.ats:reject_application({ application_id = app.id,
    body = { rejection_reason_id = reason.id, note = opt["--note"] } })
end, { concurrency = 10 })
local failed = 0
for i, err in pairs(errors or {}) do failed = failed + 1; io.stderr:write(stale[i].id, ": ", tostring(err), "\n") end
print(("%d rejected, %d failed"):format(#stale - failed, failed))
os.exit(failed == 0 and 0 or 1)
