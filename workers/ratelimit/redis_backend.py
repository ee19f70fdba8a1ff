"""The limiter primitives in Redis: one round trip per decision, atomic across the fleet.

The scripts are ``workers/lua/{gcra,pause,slot}.lua``; they use Redis' own clock (TIME), so
workers on machines with skewed clocks still agree.
"""

from __future__ import annotations

from typing import Any

from workers import lua
from workers.ratelimit.backend import GcraWindow

__all__ = ["RedisBackend"]


class RedisBackend:
    def __init__(self, r: Any) -> None:
        self.r = r

    def gcra(
        self,
        pause_key: str,
        windows: list[GcraWindow],
        *,
        reserve_ms: int = 0,
        cost: int = 1,
        used_key: str,
    ) -> tuple[int, int]:
        args: list[Any] = [max(0, int(reserve_ms)), max(1, cost)]
        for window in windows:
            args += [window.emission_ms, max(1, window.burst), "1" if window.shared else "0"]
        answer, now = lua.run(self.r, "gcra", [pause_key, used_key, *(w.key for w in windows)], args)
        return int(answer), int(now)

    def now_ms(self) -> int:
        seconds, micros = self.r.time()
        return int(seconds) * 1000 + int(micros) // 1000

    def pause(self, pause_key: str, *, ms: int, reason: str) -> None:
        lua.run(self.r, "pause", [pause_key], [max(1, int(ms)), reason])

    def paused_ms(self, pause_key: str) -> int:
        return max(0, int(self.r.pttl(pause_key)))

    def slot(self, key: str, holder: str, *, limit: int, lease_ms: int) -> int:
        return int(lua.run(self.r, "slot", [key], [holder, limit, int(lease_ms)]))

    def count_live(self, key: str) -> int:
        return int(self.r.zcount(key, self.now_ms(), "+inf"))

    def release(self, key: str, holder: str) -> None:
        self.r.zrem(key, holder)

    def counts(self, keys: list[str]) -> list[int]:
        return [int(v or 0) for v in self.r.mget(keys)] if keys else []

    def value(self, key: str) -> str | None:
        found = self.r.get(key)
        return found.decode() if isinstance(found, bytes) else found

    def values(self, keys: list[str]) -> list[str | None]:
        if not keys:
            return []
        return [v.decode() if isinstance(v, bytes) else v for v in self.r.mget(keys)]

    def put(self, key: str, value: str, *, ttl_ms: int) -> None:
        self.r.set(key, value, px=max(1, int(ttl_ms)))

    def drop(self, key: str) -> None:
        self.r.delete(key)
