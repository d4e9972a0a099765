-- The benchmark's per-item CPU work: a deterministic arithmetic loop, the
-- same as ts_contender.mjs's, and its calibration against the clock.
--
--   local work = dofile("bench/work.lua")
--   work.item(iterations) -> checksum
--   work.calibrate(ms_per_page, per_page) -> iterations per item

local clock = os.clock

local _M = {}

function _M.item(iterations)
  local x = 0
  for i = 1, iterations do x = (x * 31 + i) % 1000003 end
  return x
end

-- CPU time of the fastest of a few runs (the least disturbed on a busy
-- machine), grown until one run is long enough for os.clock to resolve.
function _M.calibrate(ms_per_page, per_page)
  local n = 100000
  local best
  repeat
    n = n * 2
    local t0 = clock()
    _M.item(n)
    best = clock() - t0
  until best >= 0.05
  for _ = 1, 4 do
    local t0 = clock()
    _M.item(n)
    best = math.min(best, clock() - t0)
  end
  return math.floor(n / best * ms_per_page / 1000 / per_page + 0.5)
end

return _M
