-- KEYS: parent batch, inflight, ready, ready_connections, run, run_batches, parent batch_items,
-- root batch, child batch 1, child items 1, child batch 2, child items 2, low-priority ready.
-- ARGV: parent_id, connection, child_id_1, child_id_2, size_1, size_2, blob_1, blob_2,
-- payload_ttl_s, retention_s, reason.
-- The provider refused a pending batch as a whole for validation: it becomes two halves, put at
-- the front of the connection's ready list, so the offending items end up alone and the rest is
-- sent. The parent is settled as 'split' and counts no item itself. Returns 1, or 0 if the
-- parent was no longer pending.

if redis.call('HGET', KEYS[1], 'state') ~= 'pending' then return 0 end
local p = redis.call('HMGET', KEYS[1], 'run_id', 'connection', 'op', 'kind', 'created_ms',
                     'target', 'depth', 'root', 'priority')
local depth = tonumber(p[7] or 0) + 1
local root = p[8] or ARGV[1]
for i = 0, 1 do
  local key, items = KEYS[9 + 2 * i], KEYS[10 + 2 * i]
  redis.call('HSET', key, 'run_id', p[1], 'connection', p[2], 'op', p[3], 'kind', p[4],
             'size', ARGV[5 + i], 'state', 'pending', 'attempts', 0, 'created_ms', p[5],
             'target', p[6] or '', 'depth', depth, 'root', root, 'parent', ARGV[1],
             'priority', p[9] or 'normal')
  redis.call('EXPIRE', key, tonumber(ARGV[10]))
  redis.call('SET', items, ARGV[7 + i], 'EX', tonumber(ARGV[9]))
  redis.call('RPUSH', KEYS[6], ARGV[3 + i])
end
redis.call('HSET', KEYS[1], 'state', 'split', 'last_error', ARGV[11])
redis.call('HDEL', KEYS[1], 'sending')
redis.call('DEL', KEYS[7])
redis.call('ZREM', KEYS[2], ARGV[1])
-- the halves go first: the run was about to send them anyway
local ready = p[9] == 'low' and KEYS[13] or KEYS[3]
redis.call('LPUSH', ready, ARGV[4])
redis.call('LPUSH', ready, ARGV[3])
redis.call('SADD', KEYS[4], ARGV[2])
redis.call('HINCRBY', KEYS[5], 'b_pending', 1)
redis.call('HINCRBY', KEYS[5], 'b_total', 2)
redis.call('HINCRBY', KEYS[5], 'b_split', 1)
redis.call('HINCRBY', KEYS[5], 's_extra_requests', 2)
redis.call('HINCRBY', KEYS[8], 'split_extra', 2)
return 1
