-- KEYS: pause, use counter, then one GCRA key per window. ARGV: reserve_ms, cost, then
-- emission_ms, burst and shared ('1': other connections spend it too) of each window, in KEYS'
-- order.
-- Takes `cost` requests from every window at once, or from none: a request needs room in each
-- of its budget's windows (20/s and 600/min and 5000/h; the provider's and the connection's
-- own), and taking from some and then waiting for another would spend quota nobody uses.
-- Unless paused. Returns {answer, now}: answer is 0 (go now), -wait (booked: go in `wait` ms
-- without asking again) or +wait (not booked: ask again in `wait` ms); now is Redis' clock
-- (ms), on which a booking names its moment.
--@include _now
local now = now_exact_ms()
local paused = redis.call('PTTL', KEYS[1])
if paused > 0 then return {paused, math.floor(now)} end
local cost = tonumber(ARGV[2])
local tats, waits = {}, {}
local wait = 0
for i = 3, #KEYS do
  local emission = tonumber(ARGV[3 * i - 6])
  local burst = math.max(tonumber(ARGV[3 * i - 5]), cost)
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < now then tat = now end
  tats[i] = tat
  local allow_at = tat - emission * (burst - cost)
  waits[i] = 0
  if now < allow_at then waits[i] = math.ceil(allow_at - now) end
  wait = math.max(wait, waits[i])
end
if wait > tonumber(ARGV[1]) then return {wait, math.floor(now)} end
-- A shared window that would stay idle for more than one request's time while this request
-- waits for another (its connection's own cap) is not booked that far ahead: a booking is a
-- single point per window, and it would bar every other connection from the gap before it.
-- Ask again at the moment instead. (A connection's own window may keep such a gap: it is its.)
for i = 3, #KEYS do
  if ARGV[3 * i - 4] == '1' and wait - waits[i] > tonumber(ARGV[3 * i - 6]) then
    return {wait, math.floor(now)}
  end
end
for i = 3, #KEYS do
  -- A booked request's moment is `now + wait` in every window: each TAT moves past it.
  local new_tat = math.max(tats[i], now + wait) + tonumber(ARGV[3 * i - 6]) * cost
  redis.call('SET', KEYS[i], tostring(new_tat), 'PX', math.ceil(new_tat - now) + 1000)
end
-- What was granted, per 10 s, for `coursesync limits` and the metrics (kept 11 minutes).
redis.call('INCRBY', KEYS[2], cost)
redis.call('EXPIRE', KEYS[2], 660)
return {-wait, math.floor(now)}
