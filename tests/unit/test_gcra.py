"""The shared GCRA limiter on a real Redis: the budget holds across many callers."""

from __future__ import annotations

import threading
import time

import redis

from workers.ratelimit.gcra import reserve


def test_burst_then_pacing_at_the_configured_rate(r: redis.Redis) -> None:
    waits = [reserve(r, "cs:rl:t:requests", "cs:rl:t:pause", rate_per_s=10, burst=3) for _ in range(4)]
    assert waits[:3] == [0, 0, 0]
    assert 0.05 < waits[3] <= 0.1


def test_many_threads_never_exceed_the_rate(r: redis.Redis) -> None:
    granted: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + 1.0

    def worker() -> None:
        while time.monotonic() < stop:
            wait = reserve(r, "cs:rl:u:requests", "cs:rl:u:pause", rate_per_s=50)
            if wait == 0:
                with lock:
                    granted.append(time.monotonic())
            else:
                time.sleep(min(wait, 0.02))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 45 <= len(granted) <= 52  # 50/s for one second, plus the first one at t=0


def test_a_pause_makes_everyone_wait_until_it_expires(r: redis.Redis) -> None:
    r.set("cs:rl:v:pause", "429 from provider", px=1500)
    wait = reserve(r, "cs:rl:v:requests", "cs:rl:v:pause", rate_per_s=100)
    assert 1.0 < wait <= 1.5
