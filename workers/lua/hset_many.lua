-- KEYS: hash... ARGV: for each key in order, its number of pairs n, its TTL in seconds (0: keep
-- the key's TTL as it is), then n field/value pairs (see _hset_many).
--@include _hset_many

return hset_many(1, 1)
