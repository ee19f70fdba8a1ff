-- KEYS: the bucket fingerprints string, the sub-bucket one, then one content-hashes key per
-- bucket. ARGV: the bucket number of each content-hashes key, in order; then, last, '1' to mark
-- both strings complete (a 'v' after their last fingerprint) or '0'.
-- Recomputes those buckets' fingerprints from the digests they hold (see _digests), each bucket
-- in this one step, so a digest written meanwhile by a settle step is either counted here or
-- updates the rebuilt value after. Run once per target, in slices of buckets, the last slice
-- marking it complete.
--@include _digests

for k = 3, #KEYS do
  local fp = {}
  for i = 0, 16 do fp[i] = {0, 0} end
  local pairs_ = redis.call('HGETALL', KEYS[k])
  for i = 1, #pairs_, 2 do toggle(fp, pairs_[i], pairs_[i + 1]) end
  write_bucket(KEYS[1], KEYS[2], tonumber(ARGV[k - 2]), fp)
end
if ARGV[#ARGV] == '1' then
  redis.call('SETRANGE', KEYS[1], 16 * 4096, 'v')
  redis.call('SETRANGE', KEYS[2], 256 * 4096, 'v')
end
return #KEYS - 2
