-- KEYS: tat, pause. ARGV: emission_ms, burst, reserve_ms.
-- Takes one request from a GCRA budget unless paused. Returns {answer, now}: answer is 0 (go
-- now), -wait (booked: go in `wait` ms without asking again) or +wait (not booked: ask again in
-- `wait` ms); now is Redis' clock (ms), on which a booking names its moment.
--@include _now
local now = now_exact_ms()
local paused = redis.call('PTTL', KEYS[2])
if paused > 0 then return {paused, math.floor(now)} end
local emission = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local allow_at = tat - emission * (tonumber(ARGV[2]) - 1)
local wait = 0
if now < allow_at then wait = math.ceil(allow_at - now) end
if wait > tonumber(ARGV[3]) then return {wait, math.floor(now)} end
local new_tat = tat + emission
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil(new_tat - now) + 1000)
return {-wait, math.floor(now)}
