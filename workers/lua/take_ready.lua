-- KEYS: ready, inflight, ready_connections. ARGV: cap, lease_ms, connection.
-- Hands out up to `cap` minus what is in flight of the connection's ready batches, each with a
-- lease on Redis' clock. Returns their ids.
--@include _now
local now = now_ms()
local room = tonumber(ARGV[1]) - redis.call('ZCARD', KEYS[2])
local out = {}
while room > 0 do
  local id = redis.call('LPOP', KEYS[1])
  if not id then redis.call('SREM', KEYS[3], ARGV[3]) break end
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), id)
  out[#out + 1] = id
  room = room - 1
end
return out
