-- put_digests(first_key, a, n_buckets): writes content digests and keeps the target's bucket
-- fingerprints exact in the same step. KEYS[first_key] is the fingerprints string
-- (keys.bucket_fingerprints: 16 hex chars per bucket, at offset 16 * bucket), then n_buckets
-- content-hashes keys; ARGV[a..]: for each of those, its bucket number, its number of pairs n,
-- then n item_id/digest pairs. Returns the index of the next unread ARGV.
-- A bucket's fingerprint is the XOR over its items of the first 64 bits of
-- SHA-1(item_id NUL digest) (workers.ledger.fingerprints computes the same in Python); XOR lets
-- one item's change update it without reading the others. Held as two 32-bit halves, since
-- Lua's bit library works on 32 bits. One string, not a hash: a fan-out reads all 4,096 of a
-- target's fingerprints with one GET of 64 KiB.

local function fingerprint_of(id, digest)
  local h = redis.sha1hex(id .. '\0' .. digest)
  return tonumber(string.sub(h, 1, 8), 16), tonumber(string.sub(h, 9, 16), 16)
end

-- A bucket never written reads as NUL bytes (SETRANGE pads with them): the empty fingerprint.
local function read_fingerprint(key, bucket)
  local s = redis.call('GETRANGE', key, 16 * bucket, 16 * bucket + 15)
  if #s < 16 or string.byte(s, 1) == 0 then return 0, 0 end
  return tonumber(string.sub(s, 1, 8), 16), tonumber(string.sub(s, 9, 16), 16)
end

local function write_fingerprint(key, bucket, hi, lo)
  redis.call('SETRANGE', key, 16 * bucket, bit.tohex(hi, 8) .. bit.tohex(lo, 8))
end

local function put_digests(first_key, a, n_buckets)
  local fps = KEYS[first_key]
  for k = first_key + 1, first_key + n_buckets do
    local bucket, n = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
    a = a + 2
    local hi, lo = read_fingerprint(fps, bucket)
    for i = a, a + 2 * n - 1, 2 do
      local id, digest = ARGV[i], ARGV[i + 1]
      local old = redis.call('HGET', KEYS[k], id)
      if old ~= digest then
        if old then
          local h1, h2 = fingerprint_of(id, old)
          hi, lo = bit.bxor(hi, h1), bit.bxor(lo, h2)
        end
        local h1, h2 = fingerprint_of(id, digest)
        hi, lo = bit.bxor(hi, h1), bit.bxor(lo, h2)
        redis.call('HSET', KEYS[k], id, digest)
      end
    end
    write_fingerprint(fps, bucket, hi, lo)
    a = a + 2 * n
  end
  return a
end
