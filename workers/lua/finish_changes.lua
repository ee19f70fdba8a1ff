-- KEYS: 1 changes_taken (HASH), 2 changes (HASH), 3 CHANGES_WAITING (ZSET)
-- ARGV: 1 connection, 2 ms the changes were taken
-- The taken changes are in a run with its batches enqueued: forget them, and say how long
-- the connection's next changes have waited (at most since they were taken). One step, so a
-- change arriving now never loses its place in KEYS[3].
redis.call('DEL', KEYS[1])
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
else
  redis.call('ZREM', KEYS[3], ARGV[1])
end
return 1
