"""Budgets shared by what the provider counts, several windows at once, a connection's own cap."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
import redis

from tests.unit.helpers import connection, most_in_any
from workers.connections import Connection
from workers.errors import ConfigError
from workers.providers.installed import get_plugin
from workers.quota import ARRIVAL_JITTER_S, Window, bursts, late_slack_ms, parse_windows
from workers.ratelimit import Limits, MemoryBackend, RedisBackend
from workers.ratelimit.budgets import budget_id, budgets


class Clock:
    def __init__(self) -> None:
        self.ms = 1_000_000.0

    def __call__(self) -> float:
        return self.ms


@pytest.fixture(params=["redis", "memory"])
def limits(request: pytest.FixtureRequest, r: redis.Redis) -> Iterator[Limits]:
    yield Limits(RedisBackend(r) if request.param == "redis" else MemoryBackend())


def stackone(name: str, key: str, **options: object) -> Connection:
    opts = {"api_key": key, "account_id": f"acct-{name}", **options}
    return Connection(name, "stackone", "https://api.stackone.com", opts, None, get_plugin("stackone").spec)


def test_connections_on_one_key_share_one_budget_named_without_the_key() -> None:
    a, b, c = stackone("a", "key-1"), stackone("b", "key-1"), stackone("c", "key-2")
    assert budget_id(a) == budget_id(b) != budget_id(c)
    assert "key-1" not in budget_id(a) and budget_id(a).startswith("stackone:")
    # An explicit budget_key joins connections whose credentials differ (two API clients of one
    # 360Learning company).
    assert budget_id(stackone("d", "key-3", budget_key="vendor")) == budget_id(
        stackone("e", "key-4", budget_key="vendor")
    )


def test_a_key_held_in_the_environment_is_identified_by_its_reference_without_reading_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The pump and the producer name budgets too, and they never read secrets
    monkeypatch.delenv("SHARED_KEY", raising=False)
    assert budget_id(stackone("a", "env:SHARED_KEY")) == budget_id(stackone("b", "env:SHARED_KEY"))
    assert budget_id(stackone("a", "env:SHARED_KEY")) != budget_id(stackone("c", "env:OTHER_KEY"))


def test_two_connections_on_one_key_together_never_exceed_it(limits: Limits) -> None:
    a, b = stackone("a", "k", limits=["600/min"]), stackone("b", "k", limits=["600/min"])
    went = sum(limits.spend(conn, "requests").wait_s == 0 for _ in range(20) for conn in (a, b))
    assert went == bursts(a.windows("requests"))[0]  # one burst for both, not one each
    assert limits.spend(stackone("c", "other", limits=["600/min"]), "requests").wait_s == 0


def test_a_pause_for_one_connection_pauses_every_connection_on_its_key(limits: Limits) -> None:
    a, b, other = stackone("a", "k"), stackone("b", "k"), stackone("c", "k2")
    limits.pause(a, "requests", 2.0, "HTTP 429")
    assert limits.spend(b, "requests").wait_s > 1.5
    assert limits.spend(other, "requests").wait_s == 0


def test_a_connection_cap_holds_inside_the_shared_budget(limits: Limits) -> None:
    capped = stackone("a", "k", limits=["6000/min"], max_requests_per_minute=60)  # 1/s of 100/s
    free = stackone("b", "k", limits=["6000/min"])
    assert limits.spend(capped, "requests").wait_s == 0
    assert 0.9 < limits.spend(capped, "requests").wait_s <= 1.1  # its own cap binds
    assert limits.spend(free, "requests").wait_s == 0  # the shared budget still has room


def test_job_slots_are_counted_per_company_not_per_connection(limits: Limits) -> None:
    spec = get_plugin("360learning").spec

    def l360(name: str, client: str) -> Connection:
        opts = {"client_id": client, "client_secret": "s", "integration_id": name}
        return Connection(name, "360learning", "https://app.360learning.com", opts, None, spec)

    same = [l360(f"c{i}", "company-client") for i in range(4)]
    taken = [limits.take_job_slot(conn, f"batch-{i}") for i, conn in enumerate(same)]
    assert taken[:3] == [0, 0, 0] and taken[3] > 0  # 3 bulk operations per company
    assert limits.take_job_slot(l360("elsewhere", "other-client"), "batch-x") == 0


@pytest.mark.parametrize(
    ("limit", "paced_per_s", "burst"),
    [
        ("20/s", 18.67, 1),
        ("600/min", 9.8, 4),
        ("5000/h", 1.36, 1),
        ("1000/min", 16.32, 8),
        ("100/10s", 9.75, 2),
    ],
)
def test_windows_pace_under_their_rate_with_a_burst_no_window_can_refuse(
    limit: str, paced_per_s: float, burst: int
) -> None:
    (window,) = parse_windows([limit], "test")
    assert abs(1000 / window.emission_ms - paced_per_s) < 0.01
    assert bursts((window,)) == [burst]
    # floor((W + jitter) / T) + burst <= N: no W-second interval, sliding or fixed, holds more
    # than N, even with requests arriving that far apart from their grants
    assert int((window.seconds + ARRIVAL_JITTER_S) * 1000 / window.emission_ms) + burst <= window.limit


@pytest.mark.parametrize("bad", [["20"], ["x/s"], ["0/s"], ["20/fortnight"], "20/s", [], [20]])
def test_unreadable_limits_are_config_errors_naming_the_value(bad: object) -> None:
    with pytest.raises(ConfigError, match="limit"):
        parse_windows(bad, "connections.a.limits")


def greedy(limits: Limits, clock: Clock, conn: Connection, until_ms: float) -> list[float]:
    """A client that sends whenever it is allowed, as fast as it is allowed: every grant's time."""
    sent: list[float] = []
    while clock.ms < until_ms:
        wait_s = limits.spend(conn, "requests").wait_s
        if wait_s == 0:
            sent.append(clock.ms)
        else:
            clock.ms += wait_s * 1000
    return sent


@pytest.mark.parametrize(
    ("limits", "hours", "binding"),
    [
        # 5000/h is tighter than 600/min on average: after the first burst the hour binds
        (["20/s", "600/min", "5000/h"], 2.0, {"1s": 20, "1h": 5000}),
        # without it, the minute binds, minute after minute
        (["20/s", "600/min"], 10 / 60, {"1s": 20, "10min": 6000}),
    ],
)
def test_several_windows_are_never_exceeded_and_each_is_used_while_it_binds(
    limits: list[str], hours: float, binding: dict[str, int]
) -> None:
    # Given a key with several windows, and a client sending as fast as it may for hours
    clock = Clock()
    limiter = Limits(MemoryBackend(clock))
    conn = stackone("a", "k", limits=limits)
    start = clock.ms
    sent = greedy(limiter, clock, conn, start + hours * 3600_000)
    # Then no window is ever exceeded, measured the strictest way (sliding)
    for window in conn.windows("requests"):
        assert most_in_any(sent, window.seconds * 1000) <= window.limit, str(window)
    # And each window is used at >= 97% while it binds
    spans = {"1s": 1, "1h": 3600, "10min": 600}
    # (a per-second window gives 5 % up to absorb arrival jitter: workers.quota.ARRIVAL_JITTER_S)
    for span, allowed in binding.items():
        used = 0.95 if span == "1s" else 0.97
        assert sum(t < start + spans[span] * 1000 for t in sent) >= used * allowed, span
    assert len(sent) >= 0.97 * hours * 3600 * min(w.per_s for w in conn.windows("requests"))


def test_budgets_of_a_connection_list_the_shared_one_and_its_own_cap() -> None:
    conn = stackone("a", "k", max_requests_per_minute=100)
    shared, own = budgets(conn, "requests")
    assert shared.shared and shared.windows == (Window(1000, 60),)  # StackOne's documented limit
    assert not own.shared and own.windows == (Window(100, 60),)
    assert [b.id for b in budgets(connection("plain"), "requests")] == [budget_id(connection("plain"))]


@pytest.mark.parametrize("limit", ["20/s", "10/s", "600/min", "1000/min", "100/10s", "5000/h"])
def test_requests_sent_late_within_the_slack_still_fit_every_window(limit: str) -> None:
    # Given a client granted as fast as the budget allows, each request then sent late by up to
    # the slack (a worker starved of CPU)
    clock = Clock()
    conn = stackone("a", "k", limits=[limit])
    (window,) = conn.windows("requests")
    slack = late_slack_ms(conn.windows("requests"))
    granted = greedy(Limits(MemoryBackend(clock)), clock, conn, clock.ms + 3 * window.seconds * 1000)
    rng = random.Random(7)
    sent = sorted(t + rng.uniform(0, slack * 0.999) for t in granted)
    # Then no window of the provider's, measured the strictest way, is exceeded
    assert most_in_any(sent, window.seconds * 1000) <= window.limit
    # And a per-second window leaves little: a booking there is given up after about 20 ms
    if window.seconds == 1:
        assert 0 < slack < 60


def test_a_connection_waiting_for_its_own_cap_does_not_book_the_shared_budget_ahead(limits: Limits) -> None:
    # Given a connection capped at 1/s on a key allowing 100/s
    capped = stackone("a", "k", limits=["6000/min"], max_requests_per_minute=60)
    free = stackone("b", "k", limits=["6000/min"])
    assert limits.spend(capped, "requests", book_within_s=5).wait_s == 0
    # When its next request must wait a second for its own cap
    grant = limits.spend(capped, "requests", book_within_s=5)
    # Then it is told to come back, not booked a second ahead on the shared budget, which would
    # bar every other connection on the key from that second
    assert not grant.booked and 0.9 < grant.wait_s <= 1.1
    assert [limits.spend(free, "requests", book_within_s=5).wait_s for _ in range(5)] == [0.0] * 5
