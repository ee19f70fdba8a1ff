-- KEYS: the run keys. ARGV: now_iso, retention_s, fatal_reason ('' for none), lost_message,
-- cancelled_message.
-- The producer is done (or was found dead, or stopped because the run was cancelled): mark the
-- run sealed and end it if every batch has settled. Items the producer counted but never put
-- in a batch are counted failed here, so the counts add up: with lost_message (%d is their
-- number, code NEVER_SENT) when the producer stopped between the two, with cancelled_message
-- (code CANCELLED) when the run was cancelled. Returns the final state if this call ended the
-- run, else false.
--@include _finalize
--@include _push_capped

if redis.call('HGET', KEYS[1], 'sealed') == '1' then return false end
redis.call('HSET', KEYS[1], 'sealed', '1')
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'fatal', ARGV[3]) end
local c = redis.call('HMGET', KEYS[1], 'c_total', 'c_invalid', 'c_unchanged', 'c_batched',
                     'cancel_requested', 'c_excluded')
local lost = tonumber(c[1] or 0) - tonumber(c[2] or 0) - tonumber(c[3] or 0) - tonumber(c[4] or 0)
             - tonumber(c[6] or 0)
if lost > 0 then
  redis.call('HINCRBY', KEYS[1], 'c_failed', lost)
  redis.call('HINCRBY', KEYS[1], 'c_batched', lost)
  local code, message = 'coursesync.NEVER_SENT', ARGV[4]
  if c[5] then code, message = 'coursesync.CANCELLED', ARGV[5] end
  local err = cjson.encode({item_id = '(' .. lost .. ' items)', stage = 'producer',
                            code = code, message = string.format(message, lost)})
  ARGV[6] = err
  push_capped(KEYS[2], 100, 6)
end
return finalize(1, ARGV[1], tonumber(ARGV[2]))
