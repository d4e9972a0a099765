-- An inbound candidate: their application to a job, with their CV from disk.
--
--   lua5.4 examples/create_application.lua JOB CV_FILE FIRST_NAME LAST_NAME EMAIL [--phone NUMBER]
--
-- JOB is a job id or a job's exact name (any case). Reads KOMBO_API_KEY,
-- KOMBO_INTEGRATION_ID and KOMBO_SERVER_URL. Exits 1 when Kombo refuses the
-- application (a closed job, a candidate who already applied), 2 on bad arguments.
local kombo = require("kombo")

local function usage(message)
  io.stderr:write(message, "\nusage: create_application.lua JOB CV_FILE FIRST_NAME LAST_NAME EMAIL [--phone NUMBER]\n")
  os.exit(2)
end

local args, problem = require("kombo.cli").args(arg, { phone = "NUMBER" })
if not args then usage(problem) end
if #args ~= 5 then usage("expected 5 arguments, got " .. #args) end
local wanted, first_name, last_name, email = args[1], args[3], args[4], args[5]
local cv, cv_err = kombo.attachment(args[2], { type = "CV" }) -- the content type follows the extension
if not cv then usage(tostring(cv_err)) end

local ats = assert(kombo.from_env()).ats
local job = assert(ats:get_jobs({ ids = { wanted } })).data.results[1]
if not job then
  for j in assert(ats:get_jobs({ name_contains = wanted })):items() do
    if j.name:lower() == wanted:lower() then job = j; break end
  end
end
if not job then usage(("no job with id or name %q"):format(wanted)) end

local result, err = ats:create_application({ job_id = job.id, body = {
  candidate = { first_name = first_name, last_name = last_name, email_address = email, phone_number = args.phone },
  attachments = { cv },
  source = { name = "kombo-lua create_application.lua" },
} })
if not result then
  io.stderr:write(tostring(err), "\n")
  os.exit(err.kind == "invalid_request" and 2 or 1)
end
print(("created application %s for %s %s on job %s (%s), CV %s"):format(result.data.id, first_name, last_name,
  job.name, job.id, cv.name))
