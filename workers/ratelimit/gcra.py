"""GCRA (generic cell rate algorithm): a rate limit shared by every worker, one round trip each.

The state is one number per budget, the theoretical arrival time (TAT) of the next request.
A request may go when ``now >= TAT - burst_tolerance``; going moves TAT one emission interval
later. The answer is "go" (0) or "wait N ms", so no worker ever sleeps holding a slot. Redis'
own clock is used so workers on different machines agree.
"""

from __future__ import annotations

from typing import Any

from workers.store.lua import run_script

__all__ = ["GCRA_SCRIPT", "reserve"]

#: KEYS: tat, pause. ARGV: emission_ms, burst. Returns 0 (go) or the wait in ms.
GCRA_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local paused = redis.call('PTTL', KEYS[2])
if paused > 0 then return paused end
local emission = tonumber(ARGV[1])
local tolerance = emission * (tonumber(ARGV[2]) - 1)
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local allow_at = tat - tolerance
if now < allow_at then return math.ceil(allow_at - now) end
local new_tat = tat + emission
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil(new_tat - now) + 1000)
return 0
"""


def reserve(r: Any, tat_key: str, pause_key: str, *, rate_per_s: float, burst: int = 1) -> float:
    """Take one request from the budget, or learn how long to wait. Returns seconds (0 = go)."""
    emission_ms = 1000.0 / rate_per_s
    wait_ms = run_script(r, GCRA_SCRIPT, [tat_key, pause_key], [emission_ms, max(1, burst)])
    return int(wait_ms) / 1000.0
