-- The sandbox's seeded data: a recruiting company with jobs and their stages,
-- users, tags, rejection reasons, candidates, applications, interviews, offers
-- and attachments, and the skills of its HR system. Same seed, same data, byte for byte.
--
-- Records are kept in collections ({ items = {...}, by_id = {...} }) in
-- creation order, which is the order list endpoints return them in. Times
-- are milliseconds since the epoch; deleted records keep their place and
-- carry `remote_deleted_at`.

local util = require("kombo_sandbox.util")

local floor, lower, format = math.floor, string.lower, string.format

local _M = {}

_M.COLLECTIONS = {
  "applications", "candidates", "jobs", "application_stages", "tags", "users", "offers",
  "interviews", "rejection_reasons", "attachments", "notes", "result_links", "tracked_applications",
  "skills",
}

-- 612 applications of which 12 are deleted: 600 visible ones, 60 pages of 10.
-- More skills than one page of a list without page_size holds.
local SIZES = { candidates = 400, applications = 612, jobs = 30, tags = 20, users = 25, skills = 130 }
_M.SIZES = SIZES

local DAY = 86400000
-- The seeded period ends today (UTC), so "changed in the last week" finds
-- records whenever the sandbox runs; within a day the data is the same.
local TODAY = math.floor(os.time() / 86400) * DAY
local T0 = TODAY - 565 * DAY
_M.T0 = T0

-- A change time, never later than today's start.
local function _until_today(t)
  return t < TODAY and t or TODAY
end

local FIRST = { "Anna", "Ben", "Chloe", "David", "Elif", "Felix", "Greta", "Hugo", "Ines", "Jonas",
  "Kira", "Luca", "Mia", "Noah", "Olga", "Paul", "Quinn", "Rosa", "Sami", "Tara", "Umar", "Vera",
  "Wim", "Xenia", "Yusuf", "Zoe", "Amir", "Bea", "Carl", "Dana", "Emil", "Fatma", "Gil", "Hana",
  "Ivo", "Jana", "Kai", "Lena", "Milo", "Nora" }
local LAST = { "Schmidt", "Garcia", "Nguyen", "Okafor", "Rossi", "Kowalski", "Yilmaz", "Dubois",
  "Jensen", "Silva", "Novak", "Ivanova", "Murphy", "Tanaka", "Haddad", "Berg", "Costa", "Weber",
  "Moreau", "Kim", "Larsen", "Santos", "Meyer", "Patel", "Fischer", "Lopez", "Andersson", "Brown",
  "Keller", "Vogel" }
local TAGS = { "High Potential", "Fast Learner", "Referral", "Relocation", "Remote Only",
  "Senior", "Junior", "Visa Needed", "Silver Medalist", "Diversity Pipeline", "Campus",
  "Returner", "Contractor", "Leadership", "Bilingual", "Portfolio", "Open Source", "Do Not Contact",
  "Rehire", "Agency" }
local STAGES = { "Applied", "Initial Screening", "Phone Interview", "Technical Assessment",
  "Onsite Interview", "Team Interview", "Reference Check", "Offer", "Hired" }
local REASONS = { "Not a fit", "Salary expectations", "Position filled", "Withdrew application",
  "No response", "Insufficient experience", "Failed assessment", "Location mismatch" }
local ROLES = { "Backend Engineer", "Frontend Engineer", "Data Scientist", "Product Manager",
  "Product Designer", "Recruiter", "Account Executive", "Customer Success Manager", "DevOps Engineer",
  "Marketing Manager", "Finance Analyst", "Office Manager", "QA Engineer", "Engineering Manager",
  "Sales Development Rep" }
local DEPARTMENTS = { "Engineering", "Engineering", "Data", "Product", "Design", "People", "Sales",
  "Customer Success", "Engineering", "Marketing", "Finance", "Operations", "Engineering",
  "Engineering", "Sales" }
local CITIES = { { "Berlin", "DE", "Berlin" }, { "Munich", "DE", "Bavaria" }, { "Paris", "FR", "Ile-de-France" },
  { "London", "GB", "England" }, { "Amsterdam", "NL", "North Holland" }, { "New York", "US", "NY" },
  { "Lisbon", "PT", "Lisbon" }, { "Warsaw", "PL", "Masovia" } }
local SOURCES = { "LinkedIn", "Employee Referral", "Career Page", "Indeed", "Agency", "Event" }
local COMPANIES = { "Acme, Inc.", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries",
  "Wayne Enterprises", "Soylent", "Vandelay Industries", "Tyrell" }

local function _collection()
  return { items = {}, by_id = {} }
end

--- Append a record to a collection (it must have an `id`).
function _M.add(coll, rec)
  coll.items[#coll.items + 1] = rec
  coll.by_id[rec.id] = rec
  return rec
end

local add = _M.add

local function _location(rng)
  local c = rng:pick(CITIES)
  return { city = c[1], country = c[2], state = c[3], raw = c[1] .. ", " .. c[2],
    street_1 = rng:int(1, 200) .. " Main Street", street_2 = util.null,
    zip_code = format("%05d", rng:int(1000, 99999)) }
end

-- A time in the seeded period, with the i-th record of n later than the previous.
local function _spread(rng, i, n, days)
  return T0 + floor((i - 1) * days * DAY / n) + rng:int(0, 3600) * 1000
end

local function _seed_reference(db, rng)
  for i, name in ipairs(TAGS) do
    local t = _spread(rng, i, #TAGS, 30)
    add(db.tags, { id = rng:id(), remote_id = tostring(100 + i), name = name, changed_at = t,
      remote_deleted_at = (i == #TAGS) and t + DAY or nil })
  end
  for i, name in ipairs(STAGES) do
    local t = _spread(rng, i, #STAGES, 10)
    add(db.application_stages, { id = rng:id(), remote_id = tostring(10 + i), name = name,
      changed_at = t, order = i })
  end
  for i, name in ipairs(REASONS) do
    local t = _spread(rng, i, #REASONS, 10)
    add(db.rejection_reasons, { id = rng:id(), remote_id = tostring(i), name = name, changed_at = t,
      remote_deleted_at = (i == #REASONS) and t + DAY or nil })
  end
  for i = 1, SIZES.users do
    local first, last = FIRST[(i * 7) % #FIRST + 1], LAST[(i * 3) % #LAST + 1]
    local t = _spread(rng, i, SIZES.users, 60)
    add(db.users, { id = rng:id(), remote_id = tostring(500 + i), first_name = first, last_name = last,
      email = lower(first .. "." .. last) .. "@sandbox-company.example",
      status = (i % 9 == 0) and "INACTIVE" or "ACTIVE", changed_at = t,
      remote_deleted_at = (i == 13) and t + 2 * DAY or nil })
  end
end

local JOB_STATUS = { "OPEN", "OPEN", "OPEN", "OPEN", "OPEN", "CLOSED", "DRAFT", "OPEN", "ARCHIVED", "OPEN" }
local EMPLOYMENT = { "FULL_TIME", "FULL_TIME", "FULL_TIME", "PART_TIME", "CONTRACT", "INTERNSHIP" }
local VISIBILITY = { "PUBLIC", "PUBLIC", "PUBLIC", "INTERNAL", "UNLISTED", "CONFIDENTIAL" }
local WORK = { "REMOTE", "HYBRID", "ON_SITE", "HYBRID" }

local function _seed_jobs(db, rng)
  local stages = db.application_stages.items
  for i = 1, SIZES.jobs do
    local r = (i - 1) % #ROLES + 1
    local created = _spread(rng, i, SIZES.jobs, 300)
    local status = JOB_STATUS[(i - 1) % #JOB_STATUS + 1]
    -- Every job walks Applied -> Screening -> some interviews -> Offer -> Hired.
    local own = { stages[1], stages[2] }
    for k = 3, 7 do
      if rng:chance(0.6) then own[#own + 1] = stages[k] end
    end
    own[#own + 1] = stages[8]
    own[#own + 1] = stages[9]
    local team = {}
    for k = 1, rng:int(1, 3) do
      team[k] = { user = db.users.items[rng:int(1, SIZES.users)],
        role = (k == 1) and "RECRUITER" or "HIRING_MANAGER" }
    end
    local updated = _until_today(created + rng:int(1, 60) * DAY)
    add(db.jobs, {
      id = rng:id(), remote_id = tostring(2000 + i), name = ROLES[r] .. ((i > #ROLES) and " II" or ""),
      job_code = format("%s-%d-%02d", DEPARTMENTS[r]:sub(1, 3):upper(), 2024 + floor(i / 20), i),
      description = "<p>We are hiring a " .. ROLES[r] .. " to join our " .. DEPARTMENTS[r] .. " team.</p>",
      confidential = VISIBILITY[(i - 1) % #VISIBILITY + 1] == "CONFIDENTIAL",
      weekly_hours = (EMPLOYMENT[(i - 1) % #EMPLOYMENT + 1] == "PART_TIME") and 20 or 40,
      employment_type = EMPLOYMENT[(i - 1) % #EMPLOYMENT + 1], status = status,
      visibility = VISIBILITY[(i - 1) % #VISIBILITY + 1], category = DEPARTMENTS[r] .. " Job",
      department = DEPARTMENTS[r], post_url = "https://jobs.sandbox-company.example/post/" .. (7000 + i),
      experience_level = (i % 3 == 0) and "Senior" or "Mid-Level", remote_work_status = WORK[i % #WORK + 1],
      salary_amount = 3000 + 100 * rng:int(0, 40), salary_currency = "EUR", salary_period = "MONTH",
      location = _location(rng), opened_at = created,
      closed_at = (status == "CLOSED" or status == "ARCHIVED") and updated or nil,
      remote_created_at = created, remote_updated_at = updated, changed_at = updated,
      remote_deleted_at = (i == 17 or i == 29) and updated + DAY or nil,
      contact_id = team[1].user.id, stages = own, hiring_team = team,
    })
  end
end

local function _seed_people(db, rng)
  local tags = db.tags.items
  for i = 1, SIZES.candidates do
    local first, last = FIRST[(i - 1) % #FIRST + 1], LAST[floor((i - 1) / #FIRST) % #LAST + 1]
    local created = _spread(rng, i, SIZES.candidates, 500)
    local updated = _until_today(created + rng:int(0, 30) * DAY)
    local tag_ids = {}
    for _ = 1, rng:int(0, 3) do
      local t = tags[rng:int(1, #tags - 1)]
      local dup = false
      for k = 1, #tag_ids do dup = dup or tag_ids[k] == t.id end
      if not dup then tag_ids[#tag_ids + 1] = t.id end
    end
    add(db.candidates, {
      id = rng:id(), remote_id = tostring(10000 + i), first_name = first, last_name = last,
      company = rng:pick(COMPANIES), title = rng:pick(ROLES), confidential = false,
      source = rng:pick(SOURCES), email = lower(first .. "." .. last) .. i .. "@example.com",
      phone = format("+49-30-%07d", rng:int(1000000, 9999999)),
      linkedin = "https://www.linkedin.com/in/" .. lower(first .. "-" .. last) .. "-" .. i,
      location = _location(rng), remote_created_at = created, remote_updated_at = updated,
      changed_at = updated, remote_deleted_at = (i % 23 == 0) and updated + DAY or nil,
      tag_ids = tag_ids, app_ids = {},
    })
  end
end

--- Create an application record and link it to its candidate.
function _M.new_application(db, fields)
  local app = add(db.applications, fields)
  app.interview_ids = app.interview_ids or {}
  app.offer_ids = app.offer_ids or {}
  local cand = db.candidates.by_id[app.candidate_id]
  cand.app_ids[#cand.app_ids + 1] = app.id
  return app
end

local function _seed_applications(db, rng)
  local cands, jobs, reasons = db.candidates.items, db.jobs.items, db.rejection_reasons.items
  for i = 1, SIZES.applications do
    -- The first pass gives every candidate one application, the rest apply twice.
    local c = (i <= #cands) and i or rng:int(1, #cands)
    -- No application belongs to a deleted candidate.
    while cands[c].remote_deleted_at do c = c % #cands + 1 end
    local cand = cands[c]
    local job = jobs[rng:int(1, #jobs)]
    for k = 1, #cand.app_ids do
      if db.applications.by_id[cand.app_ids[k]].job_id == job.id then
        job = jobs[(rng:int(1, #jobs - 1) + k) % #jobs + 1]
      end
    end
    local created = math.max(cand.remote_created_at, _spread(rng, i, SIZES.applications, 555))
    local updated = _until_today(created + rng:int(0, 40) * DAY)
    local roll = rng:float()
    local outcome = (roll < 0.1) and "HIRED" or (roll < 0.3) and "DECLINED" or "PENDING"
    local stage = (outcome == "HIRED") and job.stages[#job.stages] or job.stages[rng:int(1, #job.stages - 1)]
    local reason = (outcome == "DECLINED") and reasons[rng:int(1, #reasons - 1)] or nil
    _M.new_application(db, {
      id = rng:id(), remote_id = tostring(50000 + i), outcome = outcome,
      rejection_reason_name = reason and reason.name, rejected_at = reason and updated,
      stage_id = stage.id, job_id = job.id, candidate_id = cand.id,
      remote_created_at = created, remote_updated_at = updated, changed_at = updated,
      remote_deleted_at = (i % 51 == 0) and updated + DAY or nil,
    })
  end
end

local function _seed_activity(db, rng)
  local users = db.users.items
  for i, app in ipairs(db.applications.items) do
    local job = db.jobs.by_id[app.job_id]
    local cand = db.candidates.by_id[app.candidate_id]
    local pos = 1
    for k = 1, #job.stages do
      if job.stages[k].id == app.stage_id then pos = k end
    end
    if pos >= 3 then
      local start = app.remote_created_at + rng:int(3, 20) * DAY
      local iv = add(db.interviews, {
        id = rng:id(), remote_id = tostring(80000 + i), title = "Interview with " .. cand.first_name .. " "
          .. cand.last_name, starting_at = start, ending_at = start + 3600000, location = _location(rng),
        application_id = app.id, stage_id = app.stage_id, canceled = rng:chance(0.08),
        user_ids = { users[rng:int(1, #users)].id }, remote_created_at = start - 5 * DAY,
        remote_updated_at = start - DAY, changed_at = start - DAY,
        remote_deleted_at = (i % 41 == 0) and start or nil,
      })
      app.interview_ids[#app.interview_ids + 1] = iv.id
    end
    if app.outcome == "HIRED" or (pos == #job.stages - 1 and app.outcome == "PENDING") then
      local status = (app.outcome == "HIRED") and "ACCEPTED" or rng:pick({ "SENT", "DRAFT", "APPROVED" })
      local made = app.remote_updated_at - DAY
      local offer = add(db.offers, {
        id = rng:id(), remote_id = tostring(90000 + i), status = status,
        employment_start_date = made + 30 * DAY, application_id = app.id,
        remote_created_at = made, remote_updated_at = made, changed_at = made,
      })
      app.offer_ids[#app.offer_ids + 1] = offer.id
    end
    if i % 5 == 0 then
      add(db.attachments, {
        id = rng:id(), remote_id = tostring(70000 + i), type = "COVER_LETTER",
        file_name = cand.first_name .. " " .. cand.last_name .. " Cover Letter.pdf",
        content_type = "application/pdf", candidate_id = cand.id, application_id = app.id,
        remote_created_at = app.remote_created_at,
      })
    end
  end
  for i, cand in ipairs(db.candidates.items) do
    if i % 2 == 1 then
      add(db.attachments, {
        id = rng:id(), remote_id = tostring(60000 + i), type = "CV",
        file_name = cand.first_name .. " " .. cand.last_name .. " CV.pdf",
        content_type = "application/pdf", candidate_id = cand.id, remote_created_at = cand.remote_created_at,
      })
    end
  end
end

local LEVELS = { "Beginner", "Intermediate", "Advanced" }

local function _seed_skills(db, rng)
  for i = 1, SIZES.skills do
    local t = _spread(rng, i, SIZES.skills, 90)
    add(db.skills, { id = rng:id(), remote_id = tostring(3000 + i), name = ROLES[(i - 1) % #ROLES + 1]
      .. " skill " .. i, ordered_levels = (i % 4 ~= 0) and LEVELS or nil, changed_at = t,
      remote_deleted_at = (i == SIZES.skills) and t + DAY or nil })
  end
end

--- A fresh database for `seed` (an integer).
function _M.seed(seed)
  local rng = util.rng(seed or 1)
  -- `version` moves on every write; `cache` keeps each record's encoded JSON
  -- for the version it was made at, so unchanged pages are not re-encoded.
  local db = { seed = seed or 1, rng = util.rng((seed or 1) + 7919), version = 0,
    cache = setmetatable({}, { __mode = "k" }) }
  for _, name in ipairs(_M.COLLECTIONS) do db[name] = _collection() end
  _seed_reference(db, rng)
  _seed_jobs(db, rng)
  _seed_people(db, rng)
  _seed_applications(db, rng)
  _seed_activity(db, rng)
  _seed_skills(db, rng)
  return db
end

return _M
