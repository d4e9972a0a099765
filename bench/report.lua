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

local s = {}
for _, name in ipairs({ "kombo_pages", "curl_pages", "decode_pages", "decode_kombo", "ts_pages", "kombo_tags",
  "curl_tags", "ts_tags", "kombo_concurrent", "kombo_sequential" }) do
  s[name] = _stats(name)
end
-- The floor is what any client must at least spend: moving the bytes
-- (curl) plus decoding them (lua-cjson); its memory is the larger of the two.
s.floor_pages = {
  wall_s = s.curl_pages.wall_s + s.decode_pages.wall_s,
  cpu_s = s.curl_pages.cpu_s + s.decode_pages.cpu_s,
  rss_mib = math.max(s.curl_pages.rss_mib, s.decode_pages.rss_mib),
}

-- The same ratio within each round (the three ran back to back), then the
-- median: on a machine whose speed drifts between rounds this is the
-- steadier estimate. The target must hold for both.
local function _paired()
  local k, c, d, r = runs.kombo_pages.wall, runs.curl_pages.wall, runs.decode_pages.wall, {}
  for i = 1, math.min(#k, #c, #d) do r[i] = k[i] / (c[i] + d[i]) end
  return _median(r)
end

local ratios = {
  kombo_over_floor = s.kombo_pages.wall_s / s.floor_pages.wall_s,
  kombo_over_floor_paired = _paired(),
  kombo_over_own_floor = s.kombo_pages.wall_s / (s.curl_pages.wall_s + s.decode_kombo.wall_s),
  kombo_over_floor_cpu = s.kombo_pages.cpu_s / s.floor_pages.cpu_s,
  ts_over_kombo = s.ts_pages.wall_s / s.kombo_pages.wall_s,
  ts_over_kombo_rss = s.ts_pages.rss_mib / s.kombo_pages.rss_mib,
  kombo_over_curl_small = s.kombo_tags.wall_s / s.curl_tags.wall_s,
  ts_over_kombo_small = s.ts_tags.wall_s / s.kombo_tags.wall_s,
  sequential_over_concurrent = s.kombo_sequential.wall_s / s.kombo_concurrent.wall_s,
}

local walk = connections.kombo_pages or {}
local targets = {
  { name = "pages: kombo-lua <= 1.10 x floor (wall)",
    value = math.max(ratios.kombo_over_floor, ratios.kombo_over_floor_paired), limit = 1.10,
    ok = math.max(ratios.kombo_over_floor, ratios.kombo_over_floor_paired) <= 1.10, fmt = "%.2fx" },
  { name = "pages: kombo-lua peak RSS < 40 MiB", value = s.kombo_pages.rss_mib, limit = 40,
    ok = s.kombo_pages.rss_mib < 40, fmt = "%.1f MiB" },
  { name = "small: kombo-lua <= 1.2 x curl (wall)", value = ratios.kombo_over_curl_small, limit = 1.2,
    ok = ratios.kombo_over_curl_small <= 1.2, fmt = "%.2fx" },
  { name = "concurrency: 50 x 100 ms < 0.3 s", value = s.kombo_concurrent.wall_s, limit = 0.3,
    ok = s.kombo_concurrent.wall_s < 0.3, fmt = "%.3f s" },
  { name = "one TCP connection for the page walk", value = walk.connections, limit = 1,
    ok = walk.connections == 1 and walk.requests == machine.pages and walk.non_200 == 0, fmt = "%d",
    check = true },
}

local W = {}
local function p(...) W[#W + 1] = format(...) end

local ROW = "| %-44s | %8s | %8s | %9s |"
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
p("|%s|%s|%s|%s|", ("-"):rep(46), ("-"):rep(10), ("-"):rep(10), ("-"):rep(11))
p(ROW, format("pages: %d x %d applications, %.1f MB", machine.pages, machine.per_page,
  machine.total_bytes / 1e6), "", "", "")
row("  kombo-lua, page:items()", s.kombo_pages)
row("  floor = curl + cjson decode", s.floor_pages)
row("    curl, 200 URLs, one connection", s.curl_pages)
row("    lua-cjson decoding the same bytes", s.decode_pages)
row("    (not in the floor) kombo's decoder, same", s.decode_kombo)
row("  TypeScript SDK, for await", s.ts_pages)
p(ROW, format("small requests: %d x get_tags", machine.tag_calls), "", "", "")
row("  kombo-lua", s.kombo_tags)
row(format("  curl, one process, %d URLs", machine.tag_calls), s.curl_tags)
row("  TypeScript SDK", s.ts_tags)
p(ROW, format("concurrency: %d requests x 100 ms", machine.concurrency), "", "", "")
row("  kombo.spawn / kombo.run", s.kombo_concurrent)
row("  sequential calls", s.kombo_sequential)
p("")
p("ratios: kombo/floor %.2f (per round %.2f; CPU %.2f; against curl + kombo's own decode %.2f);",
  ratios.kombo_over_floor, ratios.kombo_over_floor_paired, ratios.kombo_over_floor_cpu,
  ratios.kombo_over_own_floor)
p("        TypeScript/kombo %.1f (peak RSS %.1f);", ratios.ts_over_kombo, ratios.ts_over_kombo_rss)
p("        kombo/curl (small) %.2f; TypeScript/kombo (small) %.1f; sequential/concurrent %.1f",
  ratios.kombo_over_curl_small, ratios.ts_over_kombo_small, ratios.sequential_over_concurrent)
local conn_parts = {}
for _, name in ipairs({ "kombo_pages", "curl_pages", "ts_pages", "kombo_tags", "curl_tags", "ts_tags" }) do
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
  local verdict = t.ok and "met" or (t.check and "FAILED" or "missed")
  if not t.ok then
    if t.check then failed = true else missed = missed + 1 end
  end
  p("  %-46s %-12s %s", t.name, format(t.fmt, t.value or -1), verdict)
end
p("")
io.write(concat(W, "\n"), "\n")

local results = {
  machine = machine, contenders = s, ratios = ratios, connections = connections, targets = {},
  instructions = instructions,
}
for i, t in ipairs(targets) do
  results.targets[i] = { name = t.name, value = t.value, limit = t.limit, ok = t.ok }
end
local f = assert(io.open(out .. "/results.json", "wb"))
f:write(cjson.encode(results), "\n")
f:close()
io.write("results: ", out, "/results.json\n")

if failed or (missed > 0 and os.getenv("BENCH_STRICT") == "1") then os.exit(1) end
