"""Batches come back from expired leases and from the deferred set, each exactly once."""

from __future__ import annotations

import time

import redis

from workers import keys
from workers.ledger.queue import promote_deferred, reap_expired


def batch(r: redis.Redis, batch_id: str, state: str = "pending") -> None:
    r.hset(keys.batch(batch_id), mapping={"run_id": "r", "connection": "acme", "state": state})


def test_an_expired_lease_hands_a_pending_batch_out_again_and_frees_a_finished_ones_slot(
    r: redis.Redis,
) -> None:
    past, future = int(time.time() * 1000) - 1000, int(time.time() * 1000) + 60_000
    batch(r, "lost")
    batch(r, "done", state="submitted")
    batch(r, "busy")
    r.zadd(keys.inflight("acme"), {"lost": past, "done": past, "busy": future})
    assert reap_expired(r, "acme") == ["lost"]
    assert r.lrange(keys.ready("acme"), 0, -1) == ["lost"]
    assert r.zrange(keys.inflight("acme"), 0, -1) == ["busy"]
    assert r.sismember(keys.READY_CONNECTIONS, "acme")
    assert reap_expired(r, "acme") == []  # nothing is handed out twice


def test_deferred_batches_go_back_to_the_front_of_their_ready_list_when_due(r: redis.Redis) -> None:
    now = int(time.time() * 1000)
    batch(r, "due")
    batch(r, "later")
    r.rpush(keys.ready("acme"), "waiting")
    r.zadd(keys.DEFERRED, {"due": now - 10, "later": now + 60_000, "expired-with-its-run": now - 10})
    assert promote_deferred(r) == {"acme"}
    assert r.lrange(keys.ready("acme"), 0, -1) == ["due", "waiting"]
    assert r.zrange(keys.DEFERRED, 0, -1) == ["later"]
    assert promote_deferred(r) == set()
