-- KEYS: the fingerprints string, then one content-hashes key per bucket. ARGV: the bucket
-- number of each content-hashes key, in order; then, last, '1' to mark the string complete
-- (a byte at offset 16 * 4096) or '0'.
-- Recomputes those buckets' fingerprints from the digests they hold (see _digests), each bucket
-- in this one step, so a digest written meanwhile by a settle step is either counted here or
-- updates the rebuilt value after. Run once per target, in slices of buckets, the last slice
-- marking it complete.
--@include _digests

for k = 2, #KEYS do
  local hi, lo = 0, 0
  local pairs_ = redis.call('HGETALL', KEYS[k])
  for i = 1, #pairs_, 2 do
    local h1, h2 = fingerprint_of(pairs_[i], pairs_[i + 1])
    hi, lo = bit.bxor(hi, h1), bit.bxor(lo, h2)
  end
  write_fingerprint(KEYS[1], tonumber(ARGV[k - 1]), hi, lo)
end
if ARGV[#ARGV] == '1' then redis.call('SETRANGE', KEYS[1], 16 * 4096, 'v') end
return #KEYS - 1
