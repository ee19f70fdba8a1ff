-- now_ms(): Redis' own clock in whole ms; now_exact_ms(): the same with its microseconds. Every
-- host measures leases, deferrals, due times and rate budgets on it, so a host whose clock runs
-- minutes off agrees with the others.

local function now_exact_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end

local function now_ms()
  return math.floor(now_exact_ms())
end
