"""The limiter primitives as Lua scripts: one round trip per decision, atomic across the fleet.

Redis' own clock (TIME) is used so workers on machines with skewed clocks still agree.
"""

from __future__ import annotations

from typing import Any

from workers.store.lua import run_script

__all__ = ["RedisBackend"]

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
"""

#: KEYS: tat, pause. ARGV: emission_ms, burst, reserve_ms. Returns {answer, now}: answer is 0
#: (go now), -wait (booked: go in `wait` ms without asking again) or +wait (not booked: ask again
#: in `wait` ms); now is Redis' clock (ms), on which a booking names its moment.
_GCRA = (
    _NOW
    + """
local paused = redis.call('PTTL', KEYS[2])
if paused > 0 then return {paused, math.floor(now)} end
local emission = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local allow_at = tat - emission * (tonumber(ARGV[2]) - 1)
local wait = 0
if now < allow_at then wait = math.ceil(allow_at - now) end
if wait > tonumber(ARGV[3]) then return {wait, math.floor(now)} end
local new_tat = tat + emission
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil(new_tat - now) + 1000)
return {-wait, math.floor(now)}
"""
)

#: KEYS: pause. ARGV: ms, reason. Extends, never shortens.
_PAUSE = """
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[1])
end
return 1
"""

#: KEYS: slots zset. ARGV: holder, limit, lease_ms. Returns 0 or ms until the earliest expiry.
_SLOT = (
    _NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) + 1000)
  return 0
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.ceil(tonumber(first[2]) - now)
"""
)


class RedisBackend:
    def __init__(self, r: Any) -> None:
        self.r = r

    def gcra(
        self, tat_key: str, pause_key: str, *, emission_ms: float, burst: int, reserve_ms: int = 0
    ) -> tuple[int, int]:
        args = [emission_ms, max(1, burst), max(0, int(reserve_ms))]
        answer, now = run_script(self.r, _GCRA, [tat_key, pause_key], args)
        return int(answer), int(now)

    def now_ms(self) -> int:
        seconds, micros = self.r.time()
        return int(seconds) * 1000 + int(micros) // 1000

    def pause(self, pause_key: str, *, ms: int, reason: str) -> None:
        run_script(self.r, _PAUSE, [pause_key], [max(1, int(ms)), reason])

    def paused_ms(self, pause_key: str) -> int:
        return max(0, int(self.r.pttl(pause_key)))

    def slot(self, key: str, holder: str, *, limit: int, lease_ms: int) -> int:
        return int(run_script(self.r, _SLOT, [key], [holder, limit, int(lease_ms)]))

    def release(self, key: str, holder: str) -> None:
        self.r.zrem(key, holder)
