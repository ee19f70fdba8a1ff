-- KEYS: the fingerprints hash, then one content-hashes key per bucket. ARGV: the bucket number
-- of each content-hashes key, in order.
-- Recomputes those buckets' fingerprints from the digests they hold (see _digests), each bucket
-- in this one step, so a digest written meanwhile by a settle step is either counted here or
-- updates the rebuilt value after. Run once per target, in slices of buckets, before its
-- fingerprints hash is marked complete.

for k = 2, #KEYS do
  local hi, lo = 0, 0
  local pairs_ = redis.call('HGETALL', KEYS[k])
  for i = 1, #pairs_, 2 do
    local h = redis.sha1hex(pairs_[i] .. '\0' .. pairs_[i + 1])
    hi = bit.bxor(hi, tonumber(string.sub(h, 1, 8), 16))
    lo = bit.bxor(lo, tonumber(string.sub(h, 9, 16), 16))
  end
  redis.call('HSET', KEYS[1], ARGV[k - 1], bit.tohex(hi, 8) .. bit.tohex(lo, 8))
end
return #KEYS - 1
