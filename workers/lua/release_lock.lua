-- KEYS: lock. ARGV: token.
-- Deletes the lock only if it is still ours: its holder may have outlived it, and another
-- process may hold it now.

if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
