-- KEYS: the run keys. ARGV: now_iso, retention_s, fatal_reason ('' for none), lost_message.
-- The producer is done (or was found dead): mark the run sealed and end it if every batch has
-- settled. Items the producer counted but never put in a batch (it stopped between the two)
-- are counted failed here, with lost_message (%d is their number), so the counts add up.
-- Returns the final state if this call ended the run, else false.
--@include _finalize
--@include _push_capped

if redis.call('HGET', KEYS[1], 'sealed') == '1' then return false end
redis.call('HSET', KEYS[1], 'sealed', '1')
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'fatal', ARGV[3]) end
local c = redis.call('HMGET', KEYS[1], 'c_total', 'c_invalid', 'c_unchanged', 'c_batched')
local lost = tonumber(c[1] or 0) - tonumber(c[2] or 0) - tonumber(c[3] or 0) - tonumber(c[4] or 0)
if lost > 0 then
  redis.call('HINCRBY', KEYS[1], 'c_failed', lost)
  redis.call('HINCRBY', KEYS[1], 'c_batched', lost)
  local err = cjson.encode({item_id = '(' .. lost .. ' items)', stage = 'producer',
                            code = 'coursesync.NEVER_SENT', message = string.format(ARGV[4], lost)})
  ARGV[5] = err
  push_capped(KEYS[2], 100, 5)
end
return finalize(1, ARGV[1], tonumber(ARGV[2]))
