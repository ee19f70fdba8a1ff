-- push_capped(key, max, first, last): appends ARGV[first..last] (last: #ARGV when nil) to the
-- list `key` while it holds fewer than `max` entries (the run document keeps the first errors
-- ever pushed).

local function push_capped(key, max, first, last)
  local room = max - redis.call('LLEN', key)
  for i = first, last or #ARGV do
    if room <= 0 then break end
    redis.call('RPUSH', key, ARGV[i])
    room = room - 1
  end
end
