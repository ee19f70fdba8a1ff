-- KEYS: the run keys. ARGV: now_iso, retention_s.
-- Ends the run if it is sealed and settled. Returns the final state if this call ended it.
--@include _finalize

return finalize(1, ARGV[1], tonumber(ARGV[2]))
