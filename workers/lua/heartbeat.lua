-- KEYS: open_runs. ARGV: run_id.
-- The producer of run_id is alive: its score becomes Redis' clock (ms).
--@include _now

redis.call('ZADD', KEYS[1], now_ms(), ARGV[1]) return 1
