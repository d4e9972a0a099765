-- What loading the SDK costs: require("kombo"), kombo.new, and touching
-- client.ats (one validated call, which builds that operation's schemas),
-- in a fresh interpreter each.
--
--   lua5.4 bench/load_cost.lua [--root DIR] [--build DIR] [--lua lua5.4] [--runs N] [--no-callgrind]
--
-- --root is a checkout (default: this one), --build the folder holding
-- kombo/core.so (default: <root>/build/5.4), so two checkouts, e.g. an
-- older commit unpacked with `git archive`, can be compared. For each
-- scenario it prints:
--
--   heap_kib   Lua heap the scenario leaves after a full collection
--              (collectgarbage("count"), the client still referenced)
--   instr      instructions over a bare interpreter running the same
--              preamble, counted by valgrind's callgrind: the reliable
--              measure on a noisy machine
--   cpu_ms     CPU time (os.clock) of the scenario, median of --runs
--
-- Scenarios whose code needs a feature the checkout lacks (groups other
-- than client.ats) print "-".

local args = { ... }
local opts = { runs = 15, lua = "lua5.4", callgrind = true }
local i = 1
while i <= #args do
  local a = args[i]
  if a == "--root" then opts.root, i = args[i + 1], i + 2
  elseif a == "--build" then opts.build, i = args[i + 1], i + 2
  elseif a == "--lua" then opts.lua, i = args[i + 1], i + 2
  elseif a == "--runs" then opts.runs, i = tonumber(args[i + 1]), i + 2
  elseif a == "--no-callgrind" then opts.callgrind, i = false, i + 1
  else
    io.stderr:write("usage: load_cost.lua [--root DIR] [--build DIR] [--lua LUA] [--runs N] [--no-callgrind]\n")
    os.exit(2)
  end
end
local here = (arg and arg[0] or ""):match("^(.*)/bench/[^/]+$") or "."
opts.root = opts.root or here
opts.build = opts.build or (opts.root .. "/build/5.4")

local NEW = 'local kombo = require("kombo")\n'
  .. 'local client = assert(kombo.new({ api_key = "k", integration_id = "i", server_url = "http://127.0.0.1:9/v1" }))\n'

-- { name, code } run after the preamble; locals stay referenced until the
-- heap is measured.
local SCENARIOS = {
  -- The C module alone: mostly the dynamic loader mapping libcurl, OpenSSL
  -- and simdjson, the same in every checkout; the rows below include it.
  { "require kombo.core", 'local core = require("kombo.core")\n' },
  { "require", 'local kombo = require("kombo")\n' },
  { "require+new", NEW },
  -- A validation failure builds get_jobs' schemas and sends nothing.
  { "+client.ats (one call)", NEW .. 'local ats = client.ats\nassert(not ats:get_jobs({ page_size = 0 }))\n' },
  { "+every group", NEW .. [[
local ops = require("kombo.operations")
assert(ops.groups, "no groups")
local bound = {}
for _, g in ipairs(ops.groups) do bound[g] = client[g] end
]] },
  { "+every operation's schemas", NEW .. [[
local ops = require("kombo.operations")
assert(ops.groups, "no groups")
local all = ops.all()
for _, op in ipairs(all) do local _ = op.query end
]] },
}

local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function preamble()
  return ("package.path = %q .. package.path\npackage.cpath = %q .. package.cpath\n")
    :format(opts.root .. "/lua/?.lua;" .. opts.root .. "/lua/?/init.lua;", opts.build .. "/?.so;")
end

local function chunk(code)
  return preamble() .. "collectgarbage() collectgarbage()\n"
    .. "local __before, __t0 = collectgarbage('count'), os.clock()\n"
    .. "do\n" .. code .. "\n"
    .. "local __t1 = os.clock()\ncollectgarbage() collectgarbage()\n"
    .. "io.write(string.format('%.1f %.4f\\n', collectgarbage('count') - __before, (__t1 - __t0) * 1000))\n"
    .. "end\n"
end

local function run(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("*a")
  local ok = p:close()
  return ok, out
end

local function write_tmp(code)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(code)
  f:close()
  return path
end

local function median(list)
  table.sort(list)
  return list[math.floor((#list + 1) / 2)]
end

local function instructions(path)
  local ok, out = run("valgrind --tool=callgrind --callgrind-out-file=/dev/null " .. opts.lua .. " " .. quote(path))
  if not ok then return nil end
  return tonumber((out:match("Collected : (%d+)")))
end

local bare_path = write_tmp(chunk(""))
local bare_instr = opts.callgrind and instructions(bare_path) or nil
os.remove(bare_path)

print(("root %s (%s)"):format(opts.root, opts.lua))
print(("%-28s %10s %14s %8s"):format("scenario", "heap_kib", "instr", "cpu_ms"))
for _, sc in ipairs(SCENARIOS) do
  local path = write_tmp(chunk(sc[2]))
  local heaps, cpus = {}, {}
  local failed = false
  for _ = 1, opts.runs do
    local ok, out = run(opts.lua .. " " .. quote(path))
    local heap, cpu = out:match("^([%d%.%-]+) ([%d%.]+)\n$")
    if not ok or not heap then failed = true; break end
    heaps[#heaps + 1], cpus[#cpus + 1] = tonumber(heap), tonumber(cpu)
  end
  if failed then
    print(("%-28s %10s %14s %8s"):format(sc[1], "-", "-", "-"))
  else
    local instr = "-"
    if bare_instr then
      local n = instructions(path)
      instr = n and tostring(n - bare_instr) or "-"
    end
    print(("%-28s %10.1f %14s %8.2f"):format(sc[1], median(heaps), instr, median(cpus)))
  end
  os.remove(path)
end
