-- KEYS: batch. ARGV: token.
-- The batch's request is about to leave: if the worker dies before the outcome is recorded,
-- the next attempt knows the provider may have received it. Returns 0 when the batch is no
-- longer pending (nothing may be sent), else 1.

if redis.call('HGET', KEYS[1], 'state') ~= 'pending' then return 0 end
redis.call('HSET', KEYS[1], 'sending', ARGV[1])
return 1
