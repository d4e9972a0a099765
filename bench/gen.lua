-- Benchmark data: cursor-linked pages of applications shaped like the
-- GET /ats/applications example of Kombo's API, a small tags response,
-- and curl config files listing the same URLs the SDKs will request.
--
--   lua5.4 bench/gen.lua OUTDIR BASE_URL [PAGES] [PER_PAGE] [TAG_CALLS]
--
-- Writes OUTDIR/www/pages/<cursor>.json (the first page is first.json),
-- OUTDIR/www/tags.json, OUTDIR/pages.curl, OUTDIR/tags.curl and
-- OUTDIR/pages.list (the page files in walk order, for the decode floor).
-- Values vary per application (ids, names, dates) so the decoder sees
-- realistic strings, but the output is the same on every run.

local format, concat, rep = string.format, table.concat, string.rep

local outdir, base = arg[1], arg[2]
local PAGES = tonumber(arg[3] or 200)
local PER_PAGE = tonumber(arg[4] or 250)
local TAG_CALLS = tonumber(arg[5] or 2000)
if not outdir or not base then
  io.stderr:write("usage: gen.lua OUTDIR BASE_URL [PAGES] [PER_PAGE] [TAG_CALLS]\n")
  os.exit(2)
end

-- A small deterministic generator, so the data does not depend on the Lua
-- version's math.random.
local seed = 20261128
local function _rand(n)
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed % n
end

local ALNUM = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz123456789"
local function _id()
  local t = {}
  for i = 1, 24 do
    local k = _rand(#ALNUM) + 1
    t[i] = ALNUM:sub(k, k)
  end
  return concat(t)
end

local FIRST = { "John", "Maria", "Aiko", "Lena", "Omar", "Priya", "Jonas", "Chloe", "Mateo", "Sofia" }
local LAST = { "Doe", "Schmidt", "Tanaka", "Okafor", "Rossi", "Novak", "Garcia", "Larsen", "Kowalski" }
local JOBS = { "Backend Engineer", "Product Designer", "Account Executive", "Data Analyst", "Nurse" }
local STAGES = { "Applied", "Initial Screening", "Technical Interview", "Offer", "Hired" }
local OUTCOMES = { '"PENDING"', '"HIRED"', '"DECLINED"', "null" }
local SOURCES = { "Employee Referral", "LinkedIn", "Careers Page", "Agency" }
local CITIES = {
  { "Berlin", "DE", "Berlin", "Lohmühlenstraße 65", "12435" },
  { "Munich", "DE", "Bavaria", "Leopoldstraße 12", "80802" },
  { "Vienna", "AT", "Vienna", "Mariahilfer Straße 88", "1070" },
}

local function _pick(list) return list[_rand(#list) + 1] end

local function _date(day_offset)
  local d = 1 + day_offset % 28
  local m = 1 + math.floor(day_offset / 28) % 12
  return format("2025-%02d-%02dT%02d:%02d:%02d.%03dZ", m, d, _rand(24), _rand(60), _rand(60), _rand(1000))
end

local APPLICATION = [[{"id":"%s","remote_id":"%d","outcome":%s,"rejection_reason_name":null,]]
  .. [["rejected_at":null,"current_stage_id":"%s","job_id":"%s","candidate_id":"%s",]]
  .. [["screening_question_answers":[{"answer":{"choice":"TypeScript"},"question":{"remote_id":]]
  .. [["%s","title":"Which is your primary programming language","type":"SINGLE_SELECT"}}],]]
  .. [["custom_fields":{},"integration_fields":[],"remote_url":"https://app.greenhouse.io/applications/%d",]]
  .. [["changed_at":"%s","remote_deleted_at":null,"remote_created_at":"%s","remote_updated_at":"%s",]]
  .. [["remote_data":null,"candidate":{"id":"%s","remote_id":"%d","first_name":"%s","last_name":"%s",]]
  .. [["email_addresses":[{"email_address":"%s.%s%d@example.com","type":"PRIVATE"}],]]
  .. [["phone_numbers":[{"phone_number":"+1-541-%03d-%04d","type":"HOME"}],]]
  .. [["social_media":[{"link":"https://www.linkedin.com/in/%s-%s-%d","type":"LINKEDIN","username":null}],]]
  .. [["source":"%s","remote_url":"https://app.greenhouse.io/people/%d",]]
  .. [["tags":[{"id":"%s","remote_id":"%d","name":"High Potential"}]},]]
  .. [["current_stage":{"id":"%s","remote_id":"%d","name":"%s","index":%d},]]
  .. [["job":{"id":"%s","remote_id":"%d","name":"%s"},]]
  .. [["interviews":[{"id":"%s","remote_id":"%d","title":"Interview with %s %s","starting_at":"%s",]]
  .. [["ending_at":"%s","location":{"city":"%s","country":"%s","raw":"%s, %s","state":"%s",]]
  .. [["street_1":"%s","street_2":null,"zip_code":"%s"},"canceled":false}],]]
  .. [["offers":[{"id":"%s","remote_id":"%d","status":"ACCEPTED"}]}]]

local function _application(n)
  local first, last = _pick(FIRST), _pick(LAST)
  local stage = _rand(#STAGES) + 1
  local city = _pick(CITIES)
  local created = _date(n % 300)
  local candidate_remote = 100000 + n
  return format(APPLICATION,
    _id(), 500000 + n, _pick(OUTCOMES),
    _id(), _id(), _id(),
    format("%08x-4c50-4d1b-9519-%012x", _rand(2147483647), n),
    500000 + n,
    _date(n % 300 + 1), created, _date(n % 300 + 2),
    _id(), candidate_remote, first, last,
    first:lower(), last:lower(), n,
    _rand(1000), _rand(10000),
    first:lower(), last:lower(), n,
    _pick(SOURCES), candidate_remote,
    _id(), _rand(500),
    _id(), stage, STAGES[stage], stage,
    _id(), _rand(2000), _pick(JOBS),
    _id(), 700000 + n, first, last, _date(n % 300 + 3),
    _date(n % 300 + 3), city[1], city[2], city[1], city[3], city[3],
    city[4], city[5],
    _id(), _rand(100000))
end

local function _write(path, s)
  local f = assert(io.open(path, "wb"))
  assert(f:write(s))
  f:close()
end

os.execute(format("mkdir -p '%s/www/pages'", outdir))

local cursors = { "first" }
for i = 2, PAGES do cursors[i] = format("p%04d%s", i, _id()) end

local tags = {}
for i = 1, 5 do
  tags[i] = format('{"id":"%s","remote_id":"%d","name":"%s","remote_data":null,'
    .. '"changed_at":"%s","remote_deleted_at":null}', _id(), i, _pick(SOURCES), _date(i))
end
_write(outdir .. "/www/tags.json",
  '{"status":"success","data":{"next":null,"results":[' .. concat(tags, ",") .. ']},"warnings":[]}')

-- The same headers the SDKs send, so curl moves the same bytes.
local HEADERS = 'header = "Authorization: Bearer bench-key"\nheader = "X-Integration-Id: bench"\n'
  .. 'header = "Accept: application/json"\n'

local cfg = { HEADERS }
for i = 1, PAGES do
  local q = i == 1 and "page_size=" .. PER_PAGE or ("page_size=" .. PER_PAGE .. "&cursor=" .. cursors[i])
  cfg[#cfg + 1] = format('url = "%s/ats/applications?%s"\noutput = "/dev/null"\n', base, q)
end
_write(outdir .. "/pages.curl", concat(cfg))

cfg = { HEADERS }
local line = format('url = "%s/ats/tags"\noutput = "/dev/null"\n', base)
cfg[2] = rep(line, TAG_CALLS)
_write(outdir .. "/tags.curl", concat(cfg))

-- The pages take a few seconds to write; they depend only on the counts,
-- so a previous run's pages are kept when the counts match.
local STAMP = format("%s/www/pages/.stamp", outdir)
local want_stamp = format("%d %d\n", PAGES, PER_PAGE)
local list = {}
for i = 1, PAGES do list[i] = format("%s/www/pages/%s.json", outdir, cursors[i]) end
_write(outdir .. "/pages.list", concat(list, "\n") .. "\n")
local f = io.open(STAMP, "rb")
local have_stamp = f and f:read("*a")
if f then f:close() end
if have_stamp == want_stamp then
  io.write(format("pages: %d x %d applications (kept from the last run)\n", PAGES, PER_PAGE))
  os.exit(0)
end

os.execute(format("rm -f '%s/www/pages/'*.json", outdir))
local total_bytes, n = 0, 0
for i = 1, PAGES do
  local apps = {}
  for j = 1, PER_PAGE do
    n = n + 1
    apps[j] = _application(n)
  end
  local next_cursor = cursors[i + 1] and ('"' .. cursors[i + 1] .. '"') or "null"
  local body = '{"status":"success","data":{"next":' .. next_cursor .. ',"results":['
    .. concat(apps, ",") .. "]},\"warnings\":[]}"
  _write(list[i], body)
  total_bytes = total_bytes + #body
end
_write(STAMP, want_stamp)
io.write(format("pages: %d x %d applications, %.1f MB (%.0f bytes per application)\n",
  PAGES, PER_PAGE, total_bytes / 1e6, total_bytes / n))
