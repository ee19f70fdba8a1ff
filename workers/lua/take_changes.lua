-- KEYS: 1 changes (HASH, waiting), 2 changes_taken (HASH), 3 changes_scheduled (STRING)
-- ARGV: none. Returns the taken changes as a flat list item_id, change, ...
-- One step, so a change submitted during the flush lands either in what this flush takes or
-- in the next window: never lost, never taken twice. Taken changes stay under KEYS[2] until
-- their run's batches are enqueued (finish_changes.lua); an earlier flusher that died left
-- its own there, and these newer changes overwrite them item by item.
if redis.call('EXISTS', KEYS[1]) == 1 then
  if redis.call('EXISTS', KEYS[2]) == 1 then
    local h = redis.call('HGETALL', KEYS[1])
    for i = 1, #h, 1000 do
      redis.call('HSET', KEYS[2], unpack(h, i, math.min(i + 999, #h)))
    end
    redis.call('DEL', KEYS[1])
  else
    redis.call('RENAME', KEYS[1], KEYS[2])
  end
end
-- The next change schedules the next flush.
redis.call('DEL', KEYS[3])
return redis.call('HGETALL', KEYS[2])
