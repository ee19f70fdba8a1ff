"""Polling when a job is likely done: durations learned per connection and batch size."""

from __future__ import annotations

from dataclasses import replace

import redis

from workers import keys
from workers.ledger import Batch, durations


def job(size: int = 1000, submitted_ms: int = 10_000, pending_seen_ms: int | None = None) -> Batch:
    return Batch(
        id="b1", run_id="r1", connection="acme", op="upsert", size=size, state="submitted", attempts=0,
        job_ref="j1", submitted_ms=submitted_ms, polls=0, created_ms=0, pending_seen_ms=pending_seen_ms,
    )  # fmt: skip


def test_nothing_learned_polls_as_configured(r: redis.Redis) -> None:
    assert durations.first_poll_s(r, job(), 2.0) == 2.0
    assert durations.next_poll_s(r, job(), 1.0) is None


def test_a_job_bracketed_by_two_polls_teaches_its_duration(r: redis.Redis) -> None:
    # Seen running at 2.8 s, seen over at 3.2 s: it took about 3 s
    durations.observe(r, job(pending_seen_ms=12_800), now_ms=13_200, ended=True)
    assert durations.expected_s(r, "acme", 1000) == 3.0
    # Then the next job of that size is polled first just after 3 s, and while it runs, every
    # fifth of its duration, not every 2 s
    assert 3.05 <= durations.first_poll_s(r, job(), 2.0) <= 3.2
    assert durations.next_poll_s(r, job(), 3.3) == 0.6
    assert durations.next_poll_s(r, job(), 7.0) is None  # far past it: the usual back-off
    # Other sizes and connections learn on their own
    assert durations.expected_s(r, "acme", 10) is None and durations.expected_s(r, "other", 1000) is None


def test_jobs_always_over_at_the_first_poll_pull_the_estimate_down_until_one_is_seen_running(
    r: redis.Redis,
) -> None:
    durations.observe(r, job(pending_seen_ms=15_000), now_ms=16_000, ended=True)  # 5.5 s
    for _ in range(10):
        first = durations.first_poll_s(r, job(), 2.0)
        durations.observe(r, job(), now_ms=10_000 + int(first * 1000), ended=True)
    assert durations.expected_s(r, "acme", 1000) < 5.5  # type: ignore[operator]


def test_a_poll_that_sees_the_job_running_is_remembered_on_the_batch(r: redis.Redis) -> None:
    r.hset(keys.batch("b1"), mapping={"run_id": "r1", "connection": "acme"})
    durations.observe(r, job(), now_ms=11_000, ended=False)
    assert r.hget(keys.batch("b1"), "pending_seen_ms") == "11000"
    # A batch gone with its run does not come back as a stray hash
    r.delete(keys.batch("b1"))
    durations.observe(r, job(), now_ms=12_000, ended=False)
    assert not r.exists(keys.batch("b1"))


def test_a_job_whose_polls_were_held_back_teaches_nothing(r: redis.Redis) -> None:
    # Polls failed during a provider outage: the job was seen over a minute after it started
    outage = replace(job(pending_seen_ms=12_000), poll_errors=20)
    durations.observe(r, outage, now_ms=75_000, ended=True)
    # Polled too far apart to tell: seen running at 30 s, over at 120 s
    durations.observe(r, job(pending_seen_ms=40_000), now_ms=130_000, ended=True)
    assert durations.expected_s(r, "acme", 1000) is None
