"""The sandbox's rate-limit algorithms on an injected clock: what each lets through, what it reports."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

import pytest

from sandbox.limits import AllOf, FixedWindow, Limiter, SlidingWindow, TokenBucket
from tests.unit.helpers import most_in_any


class Clock:
    def __init__(self, now_s: float = 1000.0) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s


def passed(limiter: Limiter, n: int) -> list[bool]:
    return [limiter.take().allowed for _ in range(n)]


# --- fixed window ------------------------------------------------------------------------------


def test_a_fixed_window_allows_n_per_aligned_window_and_reports_its_boundary() -> None:
    clock = Clock(1000.0)  # a boundary of 10-second windows
    window = FixedWindow(3, 10.0, clock)
    clock.now_s = 1004.2
    decisions = [window.take() for _ in range(4)]
    assert [q.allowed for q in decisions] == [True, True, True, False]
    assert [q.remaining for q in decisions] == [2, 1, 0, 0]
    assert {(q.limit, q.reset_s) for q in decisions} == {(3, 6)}  # 1010 - 1004.2, rounded up
    assert [q.wait_s for q in decisions] == [0, 0, 6, 6]
    clock.now_s = 1009.999
    assert not window.take().allowed  # still the same window
    clock.now_s = 1010.0  # the count resets at the boundary, not W after the first request
    assert window.take().remaining == 2


def test_a_fixed_window_allows_2n_in_w_seconds_across_a_boundary() -> None:
    clock = Clock(1009.5)
    window = FixedWindow(5, 10.0, clock)
    first = passed(window, 6)
    clock.now_s = 1010.0  # half a second later, a new window
    second = passed(window, 6)
    assert first == second == [True] * 5 + [False]  # 10 requests within 0.5 s: 2N in one W


def test_a_refused_request_takes_nothing_from_a_fixed_window() -> None:
    clock = Clock(0.0)
    window = FixedWindow(2, 60.0, clock)
    assert passed(window, 50) == [True, True] + [False] * 48
    clock.now_s = 60.0
    assert passed(window, 3) == [True, True, False]  # the refusals did not eat the next window


# --- sliding window ----------------------------------------------------------------------------


def test_a_sliding_window_never_allows_more_than_n_in_any_w_seconds() -> None:
    # Given random arrivals, bursts and lulls, far above the limit
    rng = random.Random(5)
    clock = Clock(0.0)
    window = SlidingWindow(7, 2.0, clock)
    accepted, refused = [], []
    for _ in range(5000):
        clock.now_s += rng.choice([0.0, 0.001, 0.05, 0.3, rng.random() * 3])
        (accepted if window.take().allowed else refused).append(clock.now_s)
    # Then no 2-second interval holds more than 7 accepted requests, and the limit is reached
    assert most_in_any(accepted, 2.0) == 7
    # And each refusal came when 7 requests were in the window (nothing refused for no reason)
    for t in refused:
        assert sum(1 for a in accepted if 0 <= t - a < 2.0) == 7


def test_a_sliding_window_frees_one_request_when_the_oldest_leaves() -> None:
    clock = Clock(100.0)
    window = SlidingWindow(2, 10.0, clock)
    window.take()
    clock.now_s = 104.0
    second = window.take()
    assert (second.remaining, second.wait_s, second.reset_s) == (0, 6, 10)
    clock.now_s = 109.5
    refused = window.take()
    assert (refused.allowed, refused.wait_s, refused.reset_s) == (False, 1, 5)
    clock.now_s = 110.0  # 10 s after the first: it left the window, the second did not
    assert passed(window, 2) == [True, False]
    clock.now_s = 200.0
    assert window.take().reset_s == 10 and passed(window, 2) == [True, False]


# --- token bucket ------------------------------------------------------------------------------


def test_a_token_bucket_says_when_the_next_token_comes_apart_from_when_it_is_full() -> None:
    clock = Clock()
    bucket = TokenBucket(rate_per_s=1.0, capacity=10, clock=clock)
    passed(bucket, 10)
    refused = bucket.take()
    assert (refused.allowed, refused.wait_s, refused.reset_s) == (False, 1, 10)
    clock.now_s += 0.25
    assert bucket.take().wait_s == 1  # 0.75 s, rounded up
    clock.now_s += 0.75
    assert bucket.take().allowed


# --- composite ---------------------------------------------------------------------------------


def test_a_composite_takes_from_every_window_or_from_none() -> None:
    # Given 2 per second and 3 per minute (sliding logs)
    clock = Clock(0.0)
    per_s, per_min = SlidingWindow(2, 1.0, clock), SlidingWindow(3, 60.0, clock)
    both = AllOf([per_s, per_min], clock)
    # When the per-second window refuses, the per-minute one keeps its unused request
    assert passed(both, 5) == [True, True, False, False, False]
    assert per_min.quota(clock.now_s, True).remaining == 1
    clock.now_s = 1.0
    third = both.take()
    assert third.allowed and (third.limit, third.remaining) == (3, 0)  # the tightest window reports
    # And when the per-minute window refuses, the per-second one is not charged either
    clock.now_s = 2.0
    refused = both.take()
    assert not refused.allowed and (refused.limit, refused.wait_s) == (3, 58)
    assert per_s.quota(clock.now_s, False).remaining == 2


def test_a_composite_reports_the_longest_wait_among_the_exhausted_windows() -> None:
    clock = Clock(0.0)
    both = AllOf([TokenBucket(1.0, 1, clock), FixedWindow(1, 3600.0, clock)], clock)
    assert both.take().allowed
    refused = both.take()
    assert (refused.allowed, refused.remaining, refused.limit, refused.wait_s) == (False, 0, 1, 3600)


def test_a_composite_is_atomic_under_concurrency() -> None:
    # Given 16 threads taking at once from 5-per-window and 3-per-window limits
    clock = Clock(0.0)
    parts = [FixedWindow(5, 10.0, clock), SlidingWindow(3, 10.0, clock)]
    both = AllOf(parts, clock)
    start = threading.Barrier(16)
    results: list[bool] = []

    def hit() -> None:
        start.wait()
        results.extend(both.take().allowed for _ in range(10))

    threads = [threading.Thread(target=hit) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Then exactly 3 passed, and the fixed window was charged for those 3 only
    assert results.count(True) == 3
    assert parts[0].quota(clock.now_s, False).remaining == 2


@pytest.mark.parametrize(
    "make",
    [
        lambda: FixedWindow(0, 1.0),
        lambda: SlidingWindow(1, 0.0),
        lambda: TokenBucket(0.0, 1),
        lambda: AllOf([]),
    ],
)
def test_impossible_limits_are_refused(make: Callable[[], Limiter]) -> None:
    with pytest.raises(ValueError):
        make()
