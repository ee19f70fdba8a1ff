-- KEYS: list. ARGV: max, entry...
-- Keeps the first `max` entries ever pushed (the run document's first errors).
--@include _push_capped

push_capped(KEYS[1], tonumber(ARGV[1]), 2) return 1
