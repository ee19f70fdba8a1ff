-- KEYS: run. ARGV: now_iso.
-- Records that the run is cancelled (once: a second cancel keeps the first time). From this
-- step on mark_sending refuses every batch of the run, so no request of it leaves any more.
-- Returns 'final' when the run had already ended (nothing changes), 'missing' when there is
-- no such run, else 'cancelled'.

local state = redis.call('HGET', KEYS[1], 'state')
if not state then return 'missing' end
if state == 'completed' or state == 'completed_with_errors' or state == 'failed'
   or state == 'cancelled' then
  return 'final'
end
redis.call('HSETNX', KEYS[1], 'cancel_requested', ARGV[1])
return 'cancelled'
