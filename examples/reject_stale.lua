-- Rejects the pending applications created more than DAYS days ago with one
-- rejection reason (its id or name, in any case) and an optional note, ten
-- at a time (kombo.map; the SDK keeps Kombo's cap on writes in flight).
-- With --dry-run it lists them and changes nothing.
--
--   lua5.4 examples/reject_stale.lua DAYS REASON [--job JOB_ID] [--note TEXT] [--dry-run]
--
-- Reads KOMBO_API_KEY, KOMBO_INTEGRATION_ID and KOMBO_SERVER_URL (optional).
-- Exits 0 when every stale application was rejected, 1 when some failed, 2 on bad arguments.
local kombo = require("kombo")

local USAGE = "usage: reject_stale.lua DAYS REASON [--job JOB_ID] [--note TEXT] [--dry-run]"
local function usage(message)
  io.stderr:write(message, "\n", USAGE, "\n")
  os.exit(2)
end
-- An option it does not know is an error, never ignored: this script writes.
local args, bad = require("kombo.cli").args(arg, { job = "JOB_ID", note = "TEXT", ["dry-run"] = false })
if not args then usage(bad) end
local days, wanted = tonumber(args[1]), args[2]
if not (days and days >= 0 and wanted) then usage("DAYS (a number >= 0) and REASON are required") end
if args[3] then usage(("one REASON only, then options; %q is neither"):format(args[3])) end
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
local pending = { outcomes = { "PENDING" }, job_ids = args.job and { args.job }, page_size = 250 }
for app in assert(client.ats:get_applications(pending)):items() do
  local created = app.remote_created_at
  if type(created) == "string" and created:sub(1, 19) < cutoff then stale[#stale + 1] = app end
end

if args["dry-run"] then
  for _, app in ipairs(stale) do print(app.id, app.remote_created_at) end
  print(("%d would be rejected as %q (--dry-run: nothing changed)"):format(#stale, reason.name))
  os.exit(0)
end

local _, errors = kombo.map(stale, function(app)
  return client.ats:reject_application({ application_id = app.id,
    body = { rejection_reason_id = reason.id, note = args.note } })
end, { concurrency = 10 })
local failed = 0
for i, err in pairs(errors or {}) do failed = failed + 1; io.stderr:write(stale[i].id, ": ", tostring(err), "\n") end
print(("%d rejected, %d failed"):format(#stale - failed, failed))
os.exit(failed == 0 and 0 or 1)
