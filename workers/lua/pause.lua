-- KEYS: pause. ARGV: ms, reason.
-- Every worker stops spending the budget behind `pause` for ms: extends a pause, never
-- shortens it.

if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[1])
end
return 1
