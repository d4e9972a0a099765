-- The benchmark's report: medians of what run.sh measured, the ratios and
-- targets of the performance issue, printed as a table and written to
-- OUT/results.json.
--
--   lua5.4 bench/report.lua OUTDIR
--
-- Reads OUTDIR/raw.txt ("name wall_us user_s sys_s maxrss_kb" per run),
-- OUTDIR/connections.txt ("name connections requests non_200") and
-- OUTDIR/machine.txt (key=value). Exits 1 when a target is missed and
-- BENCH_STRICT=1, or when a check (one connection per walk) fails.

local cjson = require("cjson").new()

local format, concat, sort = string.format, table.concat, table.sort
local unpack = table.unpack or unpack -- luacheck: ignore 143

local out = arg[1]
if not out then
  io.stderr:write("usage: report.lua OUTDIR\n")
  os.exit(2)
end

local function _median(xs)
  local t = {}
  for i = 1, #xs do t[i] = xs[i] end
  sort(t)
  local n = #t
  if n == 0 then return nil end
  if n % 2 == 1 then return t[(n + 1) / 2] end
  return (t[n / 2] + t[n / 2 + 1]) / 2
end

-- name -> { wall = {...}, cpu = {...}, rss = {...} } in seconds and MiB.
local runs = {}
for line in io.lines(out .. "/raw.txt") do
  local name, wall_us, user, sys, rss = line:match("^(%S+) (%d+) ([%d.]+) ([%d.]+) (%d+)$")
  if name then
    local r = runs[name]
    if not r then r = { wall = {}, cpu = {}, rss = {} }; runs[name] = r end
    r.wall[#r.wall + 1] = tonumber(wall_us) / 1e6
    r.cpu[#r.cpu + 1] = tonumber(user) + tonumber(sys)
    r.rss[#r.rss + 1] = tonumber(rss) / 1024
  end
end

local machine = {}
for line in io.lines(out .. "/machine.txt") do
  local k, v = line:match("^([%w_]+)=(.*)$")
  if k then machine[k] = tonumber(v) or v end
end

local connections = {}
for line in io.lines(out .. "/connections.txt") do
  local name, c, n, bad = line:match("^(%S+) (%d+) (%d+) (%d+)$")
  if name then
    connections[name] = { connections = tonumber(c), requests = tonumber(n), non_200 = tonumber(bad) }
  end
end

local function _stats(name)
  local r = runs[name]
  if not r then error("no runs of " .. name .. " in " .. out .. "/raw.txt", 0) end
  return { wall_s = _median(r.wall), cpu_s = _median(r.cpu), rss_mib = _median(r.rss), runs = #r.wall }
end

-- Without the prefetch option, the walk with prefetch is not measured.
local prefetch = machine.prefetch == 1
local s = {}
for _, name in ipairs({ "kombo_pages", "kombo_pages_short", "curl_pages", "decode_pages", "decode_kombo", "ts_pages",
  "kombo_tags", "curl_tags", "ts_tags", "kombo_concurrent", "kombo_sequential", "lat_curl", "lat_work",
  "lat_kombo_seq", "lat_ts", "lat_ts_work", "many_one", "many" }) do
  s[name] = _stats(name)
end
if prefetch then s.lat_kombo = _stats("lat_kombo") end
-- A reference added later: older outputs lack it.
if runs.libcurl_tags then s.libcurl_tags = _stats("libcurl_tags") end
-- The floor is what any client must at least spend: moving the bytes
-- (curl) plus decoding them (lua-cjson); its memory is the larger of the two.
s.floor_pages = {
  wall_s = s.curl_pages.wall_s + s.decode_pages.wall_s,
  cpu_s = s.curl_pages.cpu_s + s.decode_pages.cpu_s,
  rss_mib = math.max(s.curl_pages.rss_mib, s.decode_pages.rss_mib),
}

-- A ratio within each round (the contenders ran back to back), then the
-- median: on a machine whose speed drifts between rounds this is the
-- steadier estimate. The targets must hold for both. f gets one wall time
-- per name, of the same round.
local function _per_round(names, f)
  local n, r = math.huge, {}
  for _, name in ipairs(names) do n = math.min(n, #runs[name].wall) end
  for i = 1, n do
    local walls = {}
    for j, name in ipairs(names) do walls[j] = runs[name].wall[i] end
    r[i] = f(unpack(walls))
  end
  return _median(r)
end

local function _paired()
  return _per_round({ "kombo_pages", "curl_pages", "decode_pages" }, function(k, c, d) return k / (c + d) end)
end

-- The latency section. L is how late each page comes; bound is what no walk
-- doing the work can beat: the slower of fetching the pages in sequence
-- (the floor) and doing the work; sequential is kombo-lua without prefetch;
-- overlap is the share of what prefetch could hide that it hid.
local L = machine.latency_ms / 1000
local walk = prefetch and "lat_kombo" or "lat_kombo_seq" -- the walk with the SDK's defaults
local function _overlap(seq, k, floor, work) return (seq - k) / (seq - math.max(floor, work)) end
local function _within(k, floor, work) return k / (1.15 * math.max(floor, work) + L) end
local latency = {
  bound_s = math.max(s.lat_curl.wall_s, s.lat_work.wall_s),
  ts_over_kombo = s.lat_ts.wall_s / s[walk].wall_s,
  ts_over_kombo_paired = _per_round({ "lat_ts", walk }, function(t, k) return t / k end),
  many_over_one = s.many.wall_s / s.many_one.wall_s,
  many_over_one_paired = _per_round({ "many", "many_one" }, function(m, o) return m / o end),
}
if prefetch then
  latency.overlap = _overlap(s.lat_kombo_seq.wall_s, s.lat_kombo.wall_s, s.lat_curl.wall_s, s.lat_work.wall_s)
  latency.overlap_paired = _per_round({ "lat_kombo_seq", "lat_kombo", "lat_curl", "lat_work" }, _overlap)
  latency.within = _within(s.lat_kombo.wall_s, s.lat_curl.wall_s, s.lat_work.wall_s)
  latency.within_paired = _per_round({ "lat_kombo", "lat_curl", "lat_work" }, _within)
end

local ratios = {
  kombo_over_floor = s.kombo_pages.wall_s / s.floor_pages.wall_s,
  kombo_over_floor_paired = _paired(),
  kombo_over_own_floor = s.kombo_pages.wall_s / (s.curl_pages.wall_s + s.decode_kombo.wall_s),
  kombo_over_floor_cpu = s.kombo_pages.cpu_s / s.floor_pages.cpu_s,
  ts_over_kombo = s.ts_pages.wall_s / s.kombo_pages.wall_s,
  ts_over_kombo_rss = s.ts_pages.rss_mib / s.kombo_pages.rss_mib,
  kombo_over_curl_small = s.kombo_tags.wall_s / s.curl_tags.wall_s,
  kombo_over_curl_small_paired = _per_round({ "kombo_tags", "curl_tags" }, function(k, c) return k / c end),
  rss_over_short = s.kombo_pages.rss_mib / s.kombo_pages_short.rss_mib,
  ts_over_kombo_small = s.ts_tags.wall_s / s.kombo_tags.wall_s,
  sequential_over_concurrent = s.kombo_sequential.wall_s / s.kombo_concurrent.wall_s,
}

-- A target at most (or at least) limit: the worse of the medians' ratio and
-- the per-round one must hold.
local function _at_most(name, a, b, limit, fmt)
  local v = math.max(a, b)
  return { name = name, value = v, limit = limit, ok = v <= limit, fmt = fmt or "%.2fx" }
end
local function _at_least(name, a, b, limit, fmt)
  local v = math.min(a, b)
  return { name = name, value = v, limit = limit, ok = v >= limit, fmt = fmt or "%.2fx" }
end
-- A walk that made exactly the requests its pages need, all answered 200:
-- nothing fetched twice, nothing past the last page.
local function _requests(name, label, want, conns)
  local c = connections[name] or {}
  return { name = label, value = c.requests, limit = want, fmt = "%d requests", check = true,
    ok = c.requests == want and c.non_200 == 0 and (conns == nil or c.connections == conns) }
end

local targets = {
  _at_most("pages: kombo-lua <= 0.75 x floor (wall)", ratios.kombo_over_floor, ratios.kombo_over_floor_paired, 0.75),
  { name = "pages: kombo-lua peak RSS < 40 MiB", value = s.kombo_pages.rss_mib, limit = 40,
    ok = s.kombo_pages.rss_mib < 40, fmt = "%.1f MiB" },
  { name = format("pages: peak RSS flat (%d pages <= 1.15 x %d)", machine.pages, machine.short_pages),
    value = ratios.rss_over_short, limit = 1.15, ok = ratios.rss_over_short <= 1.15, fmt = "%.2fx" },
  _at_most("small: kombo-lua <= 0.8 x curl (wall)", ratios.kombo_over_curl_small,
    ratios.kombo_over_curl_small_paired, 0.8),
  { name = "concurrency: 50 x 100 ms < 0.3 s", value = s.kombo_concurrent.wall_s, limit = 0.3,
    ok = s.kombo_concurrent.wall_s < 0.3, fmt = "%.3f s" },
  prefetch and _at_most("latency: prefetch <= 1.15 x max(floor, work) + L", latency.within,
    latency.within_paired, 1, "%.2f of limit")
    or { name = "latency: prefetch <= 1.15 x max(floor, work) + L", na = "n/a (prefetch not available)" },
  _at_least("latency: TypeScript SDK >= 1.5 x kombo-lua", latency.ts_over_kombo, latency.ts_over_kombo_paired, 1.5),
  _at_most(format("many: %d integrations <= 1.2 x one", machine.integrations), latency.many_over_one,
    latency.many_over_one_paired, 1.2),
  -- one kept-alive connection: a page fetched ahead takes the handle the
  -- page before it gave back
  _requests("kombo_pages", "page walk: one TCP connection, kept alive", machine.pages, 1),
  _requests(walk, "latency walk: one request per page", machine.lat_pages),
  _requests("many", "many: one request per page", machine.integrations * machine.many_pages),
}

local W = {}
local function p(...) W[#W + 1] = format(...) end

local ROW = "| %-52s | %8s | %8s | %9s |"
local function row(label, st)
  p(ROW, label, format("%.3f", st.wall_s), format("%.3f", st.cpu_s), format("%.1f", st.rss_mib))
end

p("")
p("kombo-lua benchmark, %s; medians of %d runs (sequential baseline: %d)",
  machine.date, machine.reps, machine.seq_reps)
p("machine: %s, %d cores, %d MiB; %s; %s", machine.cpu, machine.cores, machine.mem_mib, machine.os,
  machine.kernel)
p("software: %s; %s; node %s with @kombo-api/sdk %s; nginx %s; load before report %s",
  machine.lua, machine.libcurl, machine.node, machine.sdk, machine.nginx, machine.load)
p("")
p(ROW, "contender", "wall s", "CPU s", "peak MiB")
p("|%s|%s|%s|%s|", ("-"):rep(54), ("-"):rep(10), ("-"):rep(10), ("-"):rep(11))
p(ROW, format("pages: %d x %d applications, %.1f MB", machine.pages, machine.per_page,
  machine.total_bytes / 1e6), "", "", "")
row("  kombo-lua, page:items()", s.kombo_pages)
row(format("  kombo-lua, leaving after %d pages", machine.short_pages), s.kombo_pages_short)
row("  floor = curl + cjson decode", s.floor_pages)
row("    curl, 200 URLs, one connection", s.curl_pages)
row("    lua-cjson decoding the same bytes", s.decode_pages)
row("    (not in the floor) kombo's decoder, same", s.decode_kombo)
row("  TypeScript SDK, for await", s.ts_pages)
p(ROW, format("small requests: %d x get_tags", machine.tag_calls), "", "", "")
row("  kombo-lua", s.kombo_tags)
row(format("  curl, one process, %d URLs", machine.tag_calls), s.curl_tags)
row("  TypeScript SDK", s.ts_tags)
if s.libcurl_tags then row("  (not a target) libcurl alone: a C loop, one handle", s.libcurl_tags) end
p(ROW, format("concurrency: %d requests x 100 ms", machine.concurrency), "", "", "")
row("  kombo.spawn / kombo.run", s.kombo_concurrent)
row("  sequential calls", s.kombo_sequential)
p(ROW, format("latency: %d x %d, each %d ms late, work %d ms/page", machine.lat_pages, machine.lat_per_page,
  machine.latency_ms, machine.work_ms), "", "", "")
row("  floor: curl, the pages in sequence, no work", s.lat_curl)
row("  the work alone (Lua)", s.lat_work)
if prefetch then
  row("  kombo-lua, prefetch on", s.lat_kombo)
  row("  kombo-lua, prefetch = false", s.lat_kombo_seq)
else
  p(ROW, "  kombo-lua, prefetch on (prefetch not available)", "n/a", "n/a", "n/a")
  row("  kombo-lua (no prefetch option)", s.lat_kombo_seq)
end
row("  TypeScript SDK, the same work", s.lat_ts)
row("  the work alone (JavaScript)", s.lat_ts_work)
p(ROW, format("many: %d integrations x %d pages x %d, %d ms late", machine.integrations, machine.many_pages,
  machine.lat_per_page, machine.latency_ms), "", "", "")
row("  one integration's walk", s.many_one)
row(format("  %d walks at once, kombo.spawn", machine.integrations), s.many)
p("")
p("ratios: kombo/floor %.2f (per round %.2f; CPU %.2f; against curl + kombo's own decode %.2f);",
  ratios.kombo_over_floor, ratios.kombo_over_floor_paired, ratios.kombo_over_floor_cpu,
  ratios.kombo_over_own_floor)
p("        TypeScript/kombo %.1f (peak RSS %.1f);", ratios.ts_over_kombo, ratios.ts_over_kombo_rss)
p("        kombo/curl (small) %.2f; TypeScript/kombo (small) %.1f; sequential/concurrent %.1f",
  ratios.kombo_over_curl_small, ratios.ts_over_kombo_small, ratios.sequential_over_concurrent)
if s.libcurl_tags then
  ratios.libcurl_over_curl_small = s.libcurl_tags.wall_s / s.curl_tags.wall_s
  ratios.kombo_over_libcurl_small = s.kombo_tags.wall_s / s.libcurl_tags.wall_s
  p("        small: libcurl alone/curl %.2f, kombo/libcurl alone %.2f (what the SDK adds to libcurl)",
    ratios.libcurl_over_curl_small, ratios.kombo_over_libcurl_small)
end
p("latency: work %d iterations per item in Lua, %d in JavaScript; L %.3f s, max(floor, work) %.3f s, "
  .. "so the limit for the walk with prefetch is %.3f s;", machine.work_iterations, machine.work_iterations_js, L,
  latency.bound_s, 1.15 * latency.bound_s + L)
if prefetch then
  p("        overlap (sequential - kombo) / (sequential - max(floor, work)) %.2f (per round %.2f);",
    latency.overlap, latency.overlap_paired)
else
  p("        overlap n/a (prefetch not available)")
end
p("        TypeScript/kombo %.2f (per round %.2f); many/one %.2f (per round %.2f)",
  latency.ts_over_kombo, latency.ts_over_kombo_paired, latency.many_over_one, latency.many_over_one_paired)
p("pinned: %s", machine.pinned ~= "" and machine.pinned or "no (taskset missing or one core)")
local conn_parts = {}
for _, name in ipairs({ "kombo_pages", "curl_pages", "ts_pages", "kombo_tags", "curl_tags", "ts_tags", "lat_kombo",
  "lat_kombo_seq", "lat_ts", "many" }) do
  local c = connections[name]
  if c then conn_parts[#conn_parts + 1] = format("%s %d/%d", name, c.connections, c.requests) end
end
p("TCP connections/requests seen by nginx: %s", concat(conn_parts, ", "))
-- BENCH_CALLGRIND=1: instructions per contender, one run each.
local instructions = {}
local ifile = io.open(out .. "/instructions.txt", "rb")
if ifile then
  for line in ifile:lines() do
    local name, n = line:match("^(%S+) (%d+)$")
    if name then instructions[name] = tonumber(n) end
  end
  ifile:close()
  local k, c, d, l = instructions.kombo_pages, instructions.curl_pages, instructions.decode_pages,
    instructions.decode_kombo
  if k and c and d and l then
    ratios.kombo_over_floor_instructions = k / (c + d)
    p("instructions (callgrind): kombo-lua %.2f G, floor %.2f G (curl %.2f G + decode %.2f G), "
      .. "kombo's decode %.2f G", k / 1e9, (c + d) / 1e9, c / 1e9, d / 1e9, l / 1e9)
    p("        kombo/floor %.3f; against curl + kombo's own decode %.3f",
      ratios.kombo_over_floor_instructions, k / (c + l))
  end
end
p("")
local missed, failed = 0, false
for _, t in ipairs(targets) do
  if t.na then
    p("  %-52s %s", t.name, t.na)
  else
    local verdict = t.ok and "met" or (t.check and "FAILED" or "not met")
    if not t.ok then
      if t.check then failed = true else missed = missed + 1 end
    end
    p("  %-52s %-14s %s", t.name, format(t.fmt, t.value or -1), verdict)
  end
end
p("")
io.write(concat(W, "\n"), "\n")

local results = {
  machine = machine, contenders = s, ratios = ratios, latency = latency, connections = connections, targets = {},
  instructions = instructions,
}
for i, t in ipairs(targets) do
  results.targets[i] = { name = t.name, value = t.value, limit = t.limit, ok = t.ok, na = t.na }
end
local f = assert(io.open(out .. "/results.json", "wb"))
f:write(cjson.encode(results), "\n")
f:close()
io.write("results: ", out, "/results.json\n")

if failed or (missed > 0 and os.getenv("BENCH_STRICT") == "1") then os.exit(1) end
