-- Lists every open job with its stages, walking all pages.
--
--   KOMBO_API_KEY=... KOMBO_INTEGRATION_ID=... lua examples/list_open_jobs.lua
-- (KOMBO_SERVER_URL points it at the sandbox; `make demo` does all of this.)

local kombo = require("kombo")

-- KOMBO_API_KEY, KOMBO_INTEGRATION_ID and KOMBO_SERVER_URL from the environment.
local client = assert(kombo.from_env())

local tags = assert(client.ats:get_tags({ page_size = 10 }))
print(("%d tags on the first page, e.g. %q"):format(#tags.data.results,
  tags.data.results[1] and tags.data.results[1].name or "-"))

local page = assert(client.ats:get_jobs({ statuses = { "OPEN" }, page_size = 20 }))
local count = 0
for job in page:items() do
  count = count + 1
  local stages = {}
  for _, stage in ipairs(job.stages or {}) do stages[#stages + 1] = stage.name end
  print(("%-26s %-40s %s"):format(job.id, job.name, table.concat(stages, " > ")))
end
print(("%d open jobs"):format(count))
client:close()
