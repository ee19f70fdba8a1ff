"""Limiter policies, run against both backends (real Redis and in-memory), as dramatiq does."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from tests.unit.helpers import connection
from workers import keys
from workers.connections import Connection
from workers.providers.installed import get_plugin
from workers.ratelimit import Limits, MemoryBackend, RedisBackend
from workers.ratelimit.feedback import learn, response_hook


@pytest.fixture(params=["redis", "memory"])
def limits(request: pytest.FixtureRequest, r: redis.Redis) -> Iterator[Limits]:
    yield Limits(RedisBackend(r) if request.param == "redis" else MemoryBackend())


def test_a_burst_goes_at_once_then_requests_are_paced(limits: Limits) -> None:
    conn = connection(requests_per_minute=600)  # 10/s, paced at 98%: a burst of 4, then 102 ms apart
    waits = [limits.spend(conn, "requests").wait_s for _ in range(5)]
    assert waits[:4] == [0, 0, 0, 0]
    assert 0.08 < waits[4] <= 0.11


def test_a_request_that_costs_several_pays_for_each(limits: Limits) -> None:
    conn = connection(requests_per_minute=600)  # burst of 4, then one per 102 ms
    # Given a submission making two API calls (Thought Industries' dry run and import)
    assert limits.spend(conn, "requests", cost=2).wait_s == 0
    assert limits.spend(conn, "requests", cost=2).wait_s == 0  # the burst of 4 is spent
    # Then the next one waits for two emissions, not one
    assert 0.18 < limits.spend(conn, "requests", cost=2).wait_s <= 0.22


def test_many_threads_never_exceed_the_rate(limits: Limits) -> None:
    conn = connection(requests_per_minute=3000)  # 50/s
    granted: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + 1.0

    def worker() -> None:
        while time.monotonic() < stop:
            wait = limits.spend(conn, "requests").wait_s
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
    # 49 per second (98% of 50), plus the initial burst of 24.
    assert 65 <= len(granted) <= 75


def test_a_pause_stops_everyone_until_it_ends_and_is_never_shortened(limits: Limits) -> None:
    conn = connection()
    limits.pause(conn, "requests", 1.5, "429")
    limits.pause(conn, "requests", 0.2, "shorter")
    assert 1.2 < limits.spend(conn, "requests").wait_s <= 1.5
    assert 1.2 < limits.paused_s(conn, "requests") <= 1.5


def test_job_slots_cap_concurrent_jobs_and_free_up_when_released(limits: Limits) -> None:
    conn = Connection("l360", "360learning", "http://x", {}, None, get_plugin("360learning").spec)
    assert [limits.take_job_slot(conn, f"b{i}") for i in range(3)] == [0, 0, 0]
    assert limits.take_job_slot(conn, "b3") == 2.0  # look again soon: slots free up when jobs end
    assert limits.take_job_slot(conn, "b1") == 0  # a holder renews its own slot
    limits.release_job_slot(conn, "b1")
    assert limits.take_job_slot(conn, "b3") == 0


def test_a_dead_holders_slot_comes_back_when_its_lease_ends() -> None:
    now = [0.0]
    limits = Limits(MemoryBackend(clock=lambda: now[0]))
    conn = Connection("l360", "360learning", "http://x", {}, None, get_plugin("360learning").spec)
    for i in range(3):
        limits.take_job_slot(conn, f"b{i}")
    assert limits.take_job_slot(conn, "late") > 0
    now[0] += 601_000  # the holders died: nobody renewed for longer than the lease
    assert limits.take_job_slot(conn, "late") == 0


def test_quota_headers_and_429s_pause_the_connection_for_everyone(r: redis.Redis) -> None:
    limits = Limits.on(r)
    conn = connection()
    request = httpx.Request("POST", "http://x/lms/courses/bulk")
    learn(limits, r, conn, httpx.Response(200, headers={"ratelimit-remaining": "5"}, request=request))
    assert limits.paused_s(conn, "requests") == 0
    edge = {"ratelimit-remaining": "0", "ratelimit-reset": "1"}
    learn(limits, r, conn, httpx.Response(200, headers=edge, request=request))
    assert limits.paused_s(conn, "requests") == 0  # the edge of a quota we pace against
    learn(
        limits,
        r,
        conn,
        httpx.Response(200, headers={"ratelimit-remaining": "0", "ratelimit-reset": "3"}, request=request),
    )
    assert 2.5 < limits.paused_s(conn, "requests") <= 3
    learn(limits, r, conn, httpx.Response(429, headers={"Concurrency-Limit": "12"}, request=request))
    assert r.get(keys.learned_cap(conn.name)) == "12"


def test_360_polls_and_writes_spend_separate_budgets(r: redis.Redis) -> None:
    limits = Limits.on(r)
    conn = Connection(
        "l360", "360learning", "http://x", {"requests_per_minute": 60}, None, get_plugin("360learning").spec
    )
    get = httpx.Request("GET", "http://x/api/v2/bulk/operations/1")
    learn(limits, r, conn, httpx.Response(429, headers={"retry-after": "4"}, request=get))
    assert limits.paused_s(conn, "read") > 3 and limits.paused_s(conn, "write") == 0


def test_a_short_wait_is_booked_so_the_caller_need_not_compete_again(limits: Limits) -> None:
    # Given a spent burst at 10 requests/s (one every ~102 ms)
    conn = connection(requests_per_minute=600)
    while limits.spend(conn, "requests").wait_s == 0:
        pass
    # When two callers may book up to 150 ms ahead
    first = limits.spend(conn, "requests", book_within_s=0.15)
    second = limits.spend(conn, "requests", book_within_s=0.15)
    # Then the first gets the next slot booked, and the second (a slot later) is not booked
    assert first.booked and 0 < first.wait_s <= 0.11
    assert not second.booked and 0.15 < second.wait_s <= 0.22
    # And a booking is paid for: the caller after it waits one slot more
    third = limits.spend(conn, "requests")
    assert third.wait_s >= first.wait_s + 0.09


@pytest.mark.parametrize(
    "headers",
    [
        {"concurrency-limit": "inf"},
        {"concurrency-limit": "1e400"},
        {"concurrency-limit": "nan", "ratelimit-remaining": "-inf"},
        {"ratelimit-remaining": "0", "ratelimit-reset": "garbage"},
        {"ratelimit-remaining": "1e999", "retry-after": "inf"},
        {"retry-after": "Wed, 99 Foo 2026", "x-ratelimit-remaining": "NaN"},
    ],
)
def test_the_response_hook_never_fails_a_request_on_a_malformed_header(
    r: redis.Redis, headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    # Given a successful answer whose limit headers make no sense
    conn = connection()
    request = httpx.Request("POST", "http://x/lms/courses/bulk")
    hook = response_hook(r, conn)
    # When the hook sees it, it returns quietly: the answer still counts
    hook(httpx.Response(200, headers=headers, request=request))
    assert Limits.on(r).paused_s(conn, "requests") == 0
    assert r.get(keys.learned_cap(conn.name)) is None


def test_the_response_hook_logs_once_and_goes_on_when_learning_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a Redis that fails every call (learning cannot be recorded)
    class Broken:
        def __getattr__(self, name: str) -> Any:
            def fail(*args: Any, **kwargs: Any) -> Any:
                raise RuntimeError("redis is gone")

            return fail

    conn = connection(name="acme-broken")
    hook = response_hook(Broken(), conn)
    request = httpx.Request("GET", "http://x/lms/courses/bulk/t1")
    # When an answer arrives, the hook does not raise, and says so once with the connection
    with caplog.at_level(logging.WARNING, logger="workers.ratelimit.feedback"):
        hook(httpx.Response(200, headers={"ratelimit-remaining": "0"}, request=request))
    warnings = [rec for rec in caplog.records if rec.levelno == logging.WARNING]
    assert len(warnings) == 1 and "acme-broken" in warnings[0].getMessage()


def test_dispatch_caps_of_a_shared_budget_read_its_pause_and_every_learned_cap_at_once(
    limits: Limits,
) -> None:
    group = [connection(f"c{n}", budget_key="vendor", max_in_flight=8) for n in range(3)]
    alone = connection("solo", max_in_flight=5)
    assert limits.dispatch_caps([*group, alone]) == [8, 8, 8, 5]
    # A cap the provider announced lowers that connection's alone
    limits.learn_cap(group[1], 2, ttl_s=60)
    assert limits.dispatch_caps([*group, alone]) == [8, 2, 8, 5]
    assert [limits.dispatch_cap(c) for c in (*group, alone)] == [8, 2, 8, 5]
    # A pause of the shared budget stops every connection spending it, and no other
    limits.pause(group[0], group[0].spec.submit_bucket, 30, "test")
    assert limits.dispatch_caps([*group, alone]) == [0, 0, 0, 5]
    assert limits.dispatch_caps([]) == []
