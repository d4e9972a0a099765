-- Exports every candidate with their tags to CSV (RFC 4180: CRLF line ends,
-- fields with a comma, quote or line break quoted, quotes doubled).
--
--   lua examples/export_candidates.lua [--output FILE] [--job JOB] [--tag NAME]
--
-- Without --output the CSV goes to stdout. --job keeps candidates who
-- applied to that job (an id or its exact name); --tag keeps candidates
-- carrying that tag. Columns: id, first_name, last_name, email, phone,
-- source, tags (joined by "; "), applications, created_at. Reads KOMBO_API_KEY, KOMBO_INTEGRATION_ID and
-- KOMBO_SERVER_URL (optional).

local kombo = require("kombo")

local function find_job(ats, wanted) -- by id, or by its name in any case
  local jobs = assert(ats:get_jobs({ ids = { wanted } })).data.results
  for job in assert(ats:get_jobs({ name_contains = wanted })):items() do jobs[#jobs + 1] = job end
  for _, job in ipairs(jobs) do if job.id == wanted or job.name:lower() == wanted:lower() then return job end end
end

local NULL = kombo.null

local function usage(message)
  io.stderr:write(message, "\n", "usage: export_candidates.lua [--output FILE] [--job JOB] [--tag NAME]\n")
  os.exit(2)
end

local FLAGS = { ["--output"] = "output", ["--job"] = "job", ["--tag"] = "tag" }
local flags = {}
local i = 1
while i <= #arg do
  local key = FLAGS[arg[i]] or usage("unexpected argument " .. arg[i])
  flags[key] = arg[i + 1] or usage(arg[i] .. " needs a value")
  i = i + 2
end

local COLUMNS = { "id", "first_name", "last_name", "email", "phone", "source", "tags", "applications", "created_at" }

local function field(v)
  if v == nil or v == NULL then return "" end
  v = tostring(v)
  if v:find('[,"\r\n]') or v:match("^%s") or v:match("%s$") then
    return '"' .. v:gsub('"', '""') .. '"'
  end
  return v
end

local function row(values)
  local out = {}
  for n = 1, #COLUMNS do out[n] = field(values[n]) end
  return table.concat(out, ",") .. "\r\n"
end

local function first(list, key)
  local item = type(list) == "table" and list[1]
  return item and item[key]
end

-- KOMBO_API_KEY, KOMBO_INTEGRATION_ID and KOMBO_SERVER_URL from the environment.
local client = assert(kombo.from_env())

local job_ids
if flags.job then
  local job = find_job(client.ats, flags.job) or usage(("no job with id or name %q"):format(flags.job))
  job_ids = { job.id }
end

local out = io.stdout
if flags.output then out = assert(io.open(flags.output, "wb")) end
out:write(row(COLUMNS))

local count = 0
local page = assert(client.ats:get_candidates({ job_ids = job_ids, page_size = 250 }))
-- A failed later page raises out of the loop; report it rather than leave a
-- silently short file.
local ok, err = pcall(function()
  for c in page:items() do
    local tags, wanted = {}, flags.tag == nil
    for _, t in ipairs(c.tags or {}) do
      tags[#tags + 1] = t.name
      if t.name == flags.tag then wanted = true end
    end
    if wanted then
      count = count + 1
      out:write(row({ c.id, c.first_name, c.last_name, first(c.email_addresses, "email_address"),
        first(c.phone_numbers, "phone_number"), c.source, table.concat(tags, "; "),
        #(c.applications or {}), c.remote_created_at }))
    end
  end
end)
if out ~= io.stdout then out:close() end
client:close()
if not ok then
  io.stderr:write("export stopped: ", tostring(err), "\n")
  os.exit(1)
end
io.stderr:write(("%d candidate(s) exported%s\n"):format(count, flags.output and (" to " .. flags.output) or ""))
