-- finalize(o, now, retention): ends the run once, when the producer sealed it and every batch
-- settled, and does in the same step what a finished run needs: retention TTLs, the fleet-wide
-- runs counter, the webhook outbox entry, freeing the scheduled-run claim, leaving the open set.
-- Reads and writes the run keys from KEYS[o]: run, run_errors, item_errors, retry_items,
-- run_batches, outbox, active_run, conn_metrics, metrics_connections, open_runs.
--@include _now

local function finalize(o, now, retention)
  local run = KEYS[o]
  local f = redis.call('HMGET', run, 'sealed', 'b_total', 'b_completed', 'b_failed', 'state',
                       'c_succeeded', 'c_unchanged', 'c_failed', 'c_invalid', 'fatal',
                       'p_failed', 'p_refused', 'b_split', 'connection', 'run_id',
                       'cancel_requested', 'c_excluded')
  if f[1] ~= '1' then return false end
  if f[5] == 'completed' or f[5] == 'completed_with_errors' or f[5] == 'failed'
     or f[5] == 'cancelled' then return false end
  local settled = tonumber(f[3] or 0) + tonumber(f[4] or 0) + tonumber(f[13] or 0)
  if tonumber(f[2] or 0) ~= settled then return false end
  -- excluded items (not licensed by the customer) ended as they should: good, like unchanged
  local good = tonumber(f[6] or 0) + tonumber(f[7] or 0) + tonumber(f[17] or 0)
  local bad = tonumber(f[8] or 0) + tonumber(f[9] or 0) + tonumber(f[11] or 0)
  -- a refused prune is a visible outcome: the run did not do all it was asked to
  if f[12] and f[12] ~= '' then bad = bad + 1 end
  local state = 'completed'
  -- a cancelled run says so whatever else went wrong: what it did not send, it was told not to
  if f[16] then state = 'cancelled'
  elseif f[10] and f[10] ~= '' then state = 'failed'
  elseif good == 0 and bad > 0 then state = 'failed'
  elseif bad > 0 then state = 'completed_with_errors' end
  redis.call('HSET', run, 'state', state, 'finished_at', now)
  -- retention counts from the end of the run, not from its start
  for k = o, o + 4 do redis.call('EXPIRE', KEYS[k], retention) end
  redis.call('ZADD', KEYS[o + 5], now_ms(), f[15])
  if redis.call('GET', KEYS[o + 6]) == f[15] then redis.call('DEL', KEYS[o + 6]) end
  redis.call('HINCRBY', KEYS[o + 7], 'runs:' .. state, 1)
  redis.call('SADD', KEYS[o + 8], f[14])
  redis.call('ZREM', KEYS[o + 9], f[15])
  return state
end
