"""Connections waiting on one budget are served by weighted fair queuing, with priorities."""

from __future__ import annotations

from collections import Counter

import redis

from workers import keys
from workers.ledger import queue
from workers.ledger.queue import Flow


def fill(r: redis.Redis, connection: str, n: int, priority: str = "normal") -> None:
    ids = [f"{connection}-{priority}-{i}" for i in range(n)]
    r.rpush(keys.ready(connection, priority), *ids)
    for batch_id in ids:
        r.hset(
            keys.batch(batch_id), mapping={"connection": connection, "state": "pending", "priority": priority}
        )


def serve(r: redis.Redis, flows: list[Flow], rounds: int, per_round: int = 4) -> list[str]:
    """Hand out ``per_round`` batches ``rounds`` times, settling each round's before the next."""
    handed: list[str] = []
    for _ in range(rounds):
        handed += [
            batch_id for batch_id, _ in queue.admit(r, "stackone:key", flows, target=per_round, lease_s=60)
        ]
        for f in flows:
            r.delete(keys.inflight(f.name))  # the round's batches were submitted
    return handed


def owners(ids: list[str]) -> Counter[str]:
    return Counter(i.split("-")[0] for i in ids)


def test_a_huge_backlog_and_small_runs_on_one_key_all_progress(r: redis.Redis) -> None:
    # Given customer a with 1,000 batches queued, then b..e with 3 each, on one API key
    fill(r, "a", 1000)
    for name in "bcde":
        fill(r, name, 3)
    flows = [Flow(n, 30, 1.0) for n in "abcde"]
    # When the budget serves 4 batches at a time
    first = serve(r, flows, rounds=4)
    # Then within 16 batches every small run has been fully served, and a still progressed
    assert owners(first) == Counter({"a": 4, "b": 3, "c": 3, "d": 3, "e": 3})


def test_backlogged_connections_get_shares_in_proportion_to_their_weights(r: redis.Redis) -> None:
    fill(r, "a", 500)
    fill(r, "b", 500)
    fill(r, "c", 500)
    handed = serve(r, [Flow("a", 30, 1.0), Flow("b", 30, 2.0), Flow("c", 30, 1.0)], rounds=50)
    got = owners(handed)
    assert got == Counter({"a": 50, "b": 100, "c": 50})


def test_a_connection_never_exceeds_its_own_cap_and_the_group_never_exceeds_the_target(
    r: redis.Redis,
) -> None:
    fill(r, "a", 50)
    fill(r, "b", 50)
    handed = queue.admit(r, "stackone:key", [Flow("a", 2, 1.0), Flow("b", 30, 1.0)], target=10, lease_s=60)
    assert Counter(owner for _, owner in handed) == Counter({"a": 2, "b": 8})
    assert all(batch_id.startswith(owner) for batch_id, owner in handed)
    # Nothing more while they are in flight
    assert (
        queue.admit(r, "stackone:key", [Flow("a", 2, 1.0), Flow("b", 30, 1.0)], target=10, lease_s=60) == []
    )


def test_a_priority_run_overtakes_a_resync_backlog_which_still_progresses(r: redis.Redis) -> None:
    # Given a scheduled resync's backlog on a, and a run started by hand on b, same key
    fill(r, "a", 500, "low")
    fill(r, "b", 100)
    handed = serve(r, [Flow("a", 30, 1.0), Flow("b", 30, 1.0)], rounds=12, per_round=5)
    got = owners(handed)
    # Then b's run goes first, at 5 times the resync's share, and the resync is not starved
    assert got["b"] >= 4 * got["a"] and got["a"] >= 8


def test_within_one_connection_its_ordinary_runs_go_before_its_scheduled_resync(r: redis.Redis) -> None:
    fill(r, "a", 20, "low")
    fill(r, "a", 3)
    ids = [
        batch_id for batch_id, _ in queue.admit(r, "stackone:key", [Flow("a", 30, 1.0)], target=5, lease_s=60)
    ]
    assert ids == ["a-normal-0", "a-normal-1", "a-normal-2", "a-low-0", "a-low-1"]


def test_idle_time_earns_no_credit(r: redis.Redis) -> None:
    # Given a alone on the key for a long time
    fill(r, "a", 1000)
    serve(r, [Flow("a", 30, 1.0)], rounds=50)
    # When b arrives with a backlog of its own
    fill(r, "b", 1000)
    handed = serve(r, [Flow("a", 30, 1.0), Flow("b", 30, 1.0)], rounds=10)
    # Then they share from now on; b does not take everything to catch up on a's past
    assert owners(handed) == Counter({"a": 20, "b": 20})
