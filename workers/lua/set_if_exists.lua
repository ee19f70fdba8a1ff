-- KEYS: hash. ARGV: field, value.
-- Sets one field of a hash that still exists: a batch that expired with its run between being
-- read and being written must not come back as a stray hash without a TTL.
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  return 1
end
return 0
