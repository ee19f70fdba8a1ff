-- put_digests(first_key, a, n_buckets): writes content digests and keeps the target's
-- fingerprints exact in the same step. KEYS[first_key] is the bucket fingerprints string
-- (keys.bucket_fingerprints: 16 hex chars per bucket, at offset 16 * bucket), KEYS[first_key + 1]
-- the sub-bucket one (keys.sub_fingerprints: 16 per bucket, sub-bucket s of bucket b at offset
-- 16 * (16 * b + s)), then n_buckets content-hashes keys; ARGV[a..]: for each of those, its
-- bucket number, its number of pairs n, then n item_id/digest pairs. Returns the index of the
-- next unread ARGV.
-- An item's share is the first 64 bits of SHA-1(item_id NUL digest) (workers.ledger.fingerprints
-- computes the same in Python); a (sub-)bucket's fingerprint is the XOR of its items' shares, so
-- one item's change updates it without reading the others. The sub-bucket of an item is the
-- first hex digit of SHA-1(item_id): fixed for the item whatever its content. Values are held
-- as two 32-bit halves, since Lua's bit library works on 32 bits. Strings, not hashes: a fan-out
-- reads all 4,096 bucket fingerprints with one GET, and the 16 of a bucket that differs with
-- one GETRANGE.

local function fingerprint_of(id, digest)
  local h = redis.sha1hex(id .. '\0' .. digest)
  return tonumber(string.sub(h, 1, 8), 16), tonumber(string.sub(h, 9, 16), 16)
end

local function sub_of(id)
  return tonumber(string.sub(redis.sha1hex(id), 1, 1), 16)
end

-- 16 hex chars at `at` of `s` as two halves; never written (NUL bytes, SETRANGE's padding) or
-- past the end: the empty fingerprint.
local function halves(s, at)
  local chunk = string.sub(s, at, at + 15)
  if #chunk < 16 or string.byte(chunk, 1) == 0 then return 0, 0 end
  return tonumber(string.sub(chunk, 1, 8), 16), tonumber(string.sub(chunk, 9, 16), 16)
end

local function hex(hi, lo)
  return bit.tohex(hi, 8) .. bit.tohex(lo, 8)
end

-- A bucket's fingerprint and its 16 sub-bucket ones, as halves: {hi, lo} at index 0 and 1..16.
local function read_bucket(fps, subs, bucket)
  local out = {}
  out[0] = {halves(redis.call('GETRANGE', fps, 16 * bucket, 16 * bucket + 15), 1)}
  local s = redis.call('GETRANGE', subs, 256 * bucket, 256 * bucket + 255)
  for i = 1, 16 do out[i] = {halves(s, 16 * (i - 1) + 1)} end
  return out
end

local function write_bucket(fps, subs, bucket, fp)
  redis.call('SETRANGE', fps, 16 * bucket, hex(fp[0][1], fp[0][2]))
  local parts = {}
  for i = 1, 16 do parts[i] = hex(fp[i][1], fp[i][2]) end
  redis.call('SETRANGE', subs, 256 * bucket, table.concat(parts))
end

local function toggle(fp, id, digest)
  local h1, h2 = fingerprint_of(id, digest)
  local s = sub_of(id) + 1
  fp[0][1], fp[0][2] = bit.bxor(fp[0][1], h1), bit.bxor(fp[0][2], h2)
  fp[s][1], fp[s][2] = bit.bxor(fp[s][1], h1), bit.bxor(fp[s][2], h2)
end

local function put_digests(first_key, a, n_buckets)
  local fps, subs = KEYS[first_key], KEYS[first_key + 1]
  for k = first_key + 2, first_key + 1 + n_buckets do
    local bucket, n = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
    a = a + 2
    local fp = read_bucket(fps, subs, bucket)
    for i = a, a + 2 * n - 1, 2 do
      local id, digest = ARGV[i], ARGV[i + 1]
      local old = redis.call('HGET', KEYS[k], id)
      if old ~= digest then
        if old then toggle(fp, id, old) end
        toggle(fp, id, digest)
        redis.call('HSET', KEYS[k], id, digest)
      end
    end
    write_bucket(fps, subs, bucket, fp)
    a = a + 2 * n
  end
  return a
end
