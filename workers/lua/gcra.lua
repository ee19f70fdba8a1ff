-- KEYS: tat, pause. ARGV: emission_ms, burst, reserve_ms, cost.
-- Takes `cost` requests from a GCRA budget at once (a submission that makes several API calls
-- pays for each), unless paused. Returns {answer, now}: answer is 0 (go
-- now), -wait (booked: go in `wait` ms without asking again) or +wait (not booked: ask again in
-- `wait` ms); now is Redis' clock (ms), on which a booking names its moment.
--@include _now
local now = now_exact_ms()
local paused = redis.call('PTTL', KEYS[2])
if paused > 0 then return {paused, math.floor(now)} end
local emission = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local cost = tonumber(ARGV[4] or '1')
local allow_at = tat - emission * (tonumber(ARGV[2]) - cost)
local wait = 0
if now < allow_at then wait = math.ceil(allow_at - now) end
if wait > tonumber(ARGV[3]) then return {wait, math.floor(now)} end
local new_tat = tat + emission * cost
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil(new_tat - now) + 1000)
return {-wait, math.floor(now)}
