"""Rate limits by key as the settings state them, and what they report (an injected clock)."""

from __future__ import annotations

from typing import Any

import pytest

import sandbox.limits.usage as usage_module
from sandbox.limits import AllOf, FixedWindow, SlidingWindow, TokenBucket
from sandbox.limits.keyed import KeyedLimits
from sandbox.limits.windows import Limit, Window, build, parse_window


class Clock:
    def __init__(self, now_s: float = 1000.0) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s


def per_s(n: int) -> tuple[Window, ...]:
    return (Window(n, 1.0),)


def passes(
    limits: KeyedLimits, asked: list[tuple[str, tuple[Window, ...]]], algorithm: str, sub: str = "a"
) -> bool:
    quota = limits.take("p", asked, algorithm, sub)
    assert quota is not None
    return quota.allowed


# --- windows from the settings -----------------------------------------------------------------


def test_a_window_is_written_n_per_w_seconds() -> None:
    assert parse_window("600/60") == Window(600, 60.0) and str(Window(5000, 3600.0)) == "5000/3600"
    assert parse_window("1/0.5") == Window(1, 0.5)
    for bad in ("600", "0/60", "10/0", "-1/5", "a/b", "5/inf", "5/nan", "1.5/60", ""):
        with pytest.raises(ValueError, match="is not N/W"):
            parse_window(bad)


@pytest.mark.parametrize(
    ("algorithm", "rate", "burst", "expected"),
    [
        ("token_bucket", 20.0, None, Window(20, 1.0)),  # one second's worth, as always
        ("token_bucket", 1.0, 5, Window(5, 5.0)),  # the burst sizes the bucket
        ("token_bucket", 0.5, None, Window(1, 2.0)),
        ("fixed_window", 20.0, 99, Window(20, 1.0)),  # R per 1 s window; no burst
        ("sliding_window", 0.5, None, Window(1, 2.0)),  # a slow rate: 1 per 1/R seconds
        ("sliding_window", 16.7, None, Window(16, 16 / 16.7)),  # floor(R), the rate kept exact
    ],
)
def test_a_rate_knob_is_one_window_whatever_the_algorithm(
    algorithm: str, rate: float, burst: int | None, expected: Window
) -> None:
    limit = Limit("k", rate, burst, ("600/60",))
    assert limit.resolve(algorithm) == (expected, Window(600, 60.0))
    assert Limit("k").resolve(algorithm) == ()  # nothing set: unlimited


def test_each_algorithm_builds_its_own_limiter_and_several_windows_a_composite() -> None:
    clock = Clock()
    window = Window(20, 1.0)
    assert isinstance(build("fixed_window", [window], clock), FixedWindow)
    assert isinstance(build("sliding_window", [window], clock), SlidingWindow)
    bucket = build("token_bucket", [Window(600, 60.0)], clock)
    assert isinstance(bucket, TokenBucket) and (bucket.capacity, bucket.rate_per_s) == (600, 10.0)
    both = build("sliding_window", [window, Window(600, 60.0)], clock)
    assert isinstance(both, AllOf) and [type(p) for p in both.parts] == [SlidingWindow, SlidingWindow]
    with pytest.raises(ValueError, match="no limiter 'leaky'"):
        build("leaky", [window], clock)


# --- limits by key -----------------------------------------------------------------------------


def test_limits_are_counted_by_key_and_report_nothing_when_unset() -> None:
    limits = KeyedLimits(Clock())
    assert limits.take("p", [("k", ())], "sliding_window", "a") is None
    assert [passes(limits, [("k1", per_s(1))], "sliding_window") for _ in range(2)] == [True, False]
    assert passes(limits, [("k2", per_s(1))], "sliding_window")
    other = limits.take("other", [("k1", per_s(1))], "sliding_window", "a")
    assert other is not None and other.allowed  # another provider's key of the same name


def test_a_request_under_two_shared_limits_takes_from_both_or_neither() -> None:
    # Given a plan limit of 3 (shared with polls) and a category limit of 1 for imports
    clock = Clock()
    limits = KeyedLimits(clock)
    plan, category = ("key", (Window(3, 60.0),)), ("key:category", (Window(1, 60.0),))
    statuses = [
        passes(limits, [plan, category], "fixed_window"),
        passes(limits, [plan, category], "fixed_window"),
    ]
    # When the category refuses the second import, the plan keeps the request it would have taken
    assert statuses == [True, False]
    polls = [passes(limits, [plan], "fixed_window") for _ in range(3)]
    assert polls == [True, True, False]
    # And each 429 counts against the limit that gave it
    report = limits.report()["p"]
    assert (report["key"]["accepted"], report["key"]["rate_limited"]) == (3, 1)
    assert (report["key:category"]["accepted"], report["key:category"]["rate_limited"]) == (1, 1)


def test_the_same_key_twice_in_one_request_is_a_bug_not_a_deadlock() -> None:
    limits = KeyedLimits(Clock())
    with pytest.raises(ValueError, match="asked twice"):
        limits.take("p", [("k", per_s(1)), ("k", per_s(2))], "token_bucket", "a")


def test_a_changed_setting_builds_a_new_limiter_and_keeps_the_usage() -> None:
    clock = Clock()
    limits = KeyedLimits(clock)
    assert passes(limits, [("k", per_s(1))], "token_bucket")
    assert passes(limits, [("k", per_s(2))], "token_bucket")  # a new bucket: the old one was empty
    assert passes(limits, [("k", per_s(2))], "sliding_window")
    report = limits.report()["p"]["k"]
    assert report["algorithm"] == "sliding_window" and report["accepted"] == 3
    assert [w["window"] for w in report["windows"]] == ["2/1"]


# --- what they report --------------------------------------------------------------------------


def take_many(limits: KeyedLimits, clock: Clock, times: list[float], sub: str, algorithm: str) -> None:
    for t in times:
        clock.now_s = t
        limits.take("p", [("k", (Window(2, 10.0), Window(3, 60.0)))], algorithm, sub)


def test_the_report_counts_sub_accounts_and_lists_accepted_times() -> None:
    clock = Clock()
    limits = KeyedLimits(clock)
    take_many(limits, clock, [1000.0, 1001.0, 1002.0], "a", "sliding_window")
    take_many(limits, clock, [1011.0, 1012.0], "b", "sliding_window")
    doc: dict[str, Any] = limits.report()["p"]["k"]
    assert (doc["accepted"], doc["rate_limited"], doc["times_dropped"]) == (3, 2, 0)
    assert doc["sub_accounts"] == {
        "a": {"accepted": 2, "rate_limited": 1, "accepted_at_s": [1000.0, 1001.0]},
        "b": {"accepted": 1, "rate_limited": 1, "accepted_at_s": [1011.0]},
    }
    assert doc["windows"] == [
        {"window": "2/10", "limit": 2, "window_s": 10.0, "max_accepted": 2},
        {"window": "3/60", "limit": 3, "window_s": 60.0, "max_accepted": 3},
    ]
    later = limits.report(since_s=1001.0)["p"]["k"]["sub_accounts"]
    assert (later["a"]["accepted_at_s"], later["a"]["accepted"]) == ([1001.0], 2)  # counts stay whole


def test_the_peaks_show_a_fixed_window_letting_2n_through_in_w_seconds() -> None:
    clock = Clock()
    limits = KeyedLimits(clock)
    take_many(limits, clock, [1009.0, 1009.5, 1009.9, 1010.0, 1010.5, 1010.9], "a", "fixed_window")
    doc = limits.report()["p"]["k"]
    assert doc["accepted"] == 3 and doc["rate_limited"] == 3  # 2 per window, then the 3/60 one
    assert doc["windows"][0]["max_accepted"] == 3  # 3 accepted within 10 s: more than the 2 allowed


def test_only_the_last_accepted_times_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(usage_module, "TIMES_KEPT", 4)
    clock = Clock()
    limits = KeyedLimits(clock)
    for n in range(10):
        clock.now_s = 1000.0 + n
        limits.take("p", [("k", (Window(100, 3.0),))], "sliding_window", "a")
    doc = limits.report()["p"]["k"]
    assert doc["sub_accounts"]["a"]["accepted_at_s"] == [1006.0, 1007.0, 1008.0, 1009.0]
    assert (doc["accepted"], doc["times_dropped"]) == (10, 6)
    assert doc["windows"][0]["max_accepted"] == 3  # followed as requests came, not from the kept times
