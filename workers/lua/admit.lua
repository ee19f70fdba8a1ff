-- KEYS: passes hash, ready_connections, paused_connections, then for each connection: ready,
-- ready_low, inflight.
-- ARGV: target, lease_ms, low_share, then for each connection: name, cap, weight.
-- Hands out ready batches until `target` of the group's are in flight among the connections spending one budget, by weighted
-- fair queuing (stride scheduling): each time, the connection with the smallest pass that has
-- a batch ready and room under its own cap gives one, and its pass grows by 1 / weight. A
-- connection's batches of ordinary runs go before its scheduled resyncs' (`ready_low`), and a
-- flow of scheduled batches weighs `low_share` of an ordinary one, so runs started by hand or
-- by an upstream system overtake a resync backlog, which still never starves. Passes live on
-- across calls (fair over time, not per call); a connection coming back from idle starts at the
-- smallest pass of the busy ones, so idleness earns no credit. A paused connection hands out
-- nothing and counts as idle, yet stays in ready_connections with its batches. Returns
-- {id, connection, ...}: each batch handed out, with a lease on Redis' clock in its
-- connection's inflight set.
--@include _now
local now = now_ms()
local lease = tonumber(ARGV[2])
local low_share = tonumber(ARGV[3])
local n = (#KEYS - 3) / 3
local flows = {}
local floor = nil
local busy = 0
for i = 1, n do
  local base = 3 + 3 * (i - 1)
  local a = 3 + 3 * (i - 1)
  local f = {ready = KEYS[base + 1], low = KEYS[base + 2], inflight = KEYS[base + 3],
             name = ARGV[a + 1], cap = tonumber(ARGV[a + 2]), weight = tonumber(ARGV[a + 3])}
  f.busy = redis.call('ZCARD', f.inflight)
  f.paused = redis.call('SISMEMBER', KEYS[3], f.name) == 1
  f.high, f.lows = 0, 0
  if not f.paused then
    f.high = redis.call('LLEN', f.ready)
    f.lows = redis.call('LLEN', f.low)
  end
  f.pass = tonumber(redis.call('HGET', KEYS[1], f.name) or '')
  if f.high + f.lows > 0 and f.pass and (not floor or f.pass < floor) then floor = f.pass end
  flows[i] = f
  busy = busy + f.busy
end
local room = tonumber(ARGV[1]) - busy
floor = floor or 0
local out = {}
for _, f in ipairs(flows) do
  if f.high + f.lows > 0 and (not f.pass or f.pass < floor) then f.pass = floor end
end
while room > 0 do
  local best = nil
  for _, f in ipairs(flows) do
    if f.high + f.lows > 0 and f.busy < f.cap and (not best or f.pass < best.pass) then best = f end
  end
  if not best then break end
  local id, share
  if best.high > 0 then
    id, share = redis.call('LPOP', best.ready), 1
    best.high = best.high - 1
  else
    id, share = redis.call('LPOP', best.low), low_share
    best.lows = best.lows - 1
  end
  redis.call('ZADD', best.inflight, now + lease, id)
  out[#out + 1] = id
  out[#out + 1] = best.name
  best.busy = best.busy + 1
  best.pass = best.pass + 1 / (best.weight * share)
  room = room - 1
end
for _, f in ipairs(flows) do
  if f.pass then redis.call('HSET', KEYS[1], f.name, tostring(f.pass)) end
  if f.high + f.lows == 0 and not f.paused then redis.call('SREM', KEYS[2], f.name) end
end
redis.call('EXPIRE', KEYS[1], 86400)
return out
