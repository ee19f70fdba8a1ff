"""Every run's end is announced at least once: the outbox survives failed and lost deliveries."""

from __future__ import annotations

from typing import Any

import redis

from workers import keys
from workers import ledger as runs
from workers.ledger import create_batch, load_batch, settle_batch
from workers.ledger.outbox import MAX_DELIVERIES, delivered, drain_outbox, failed_delivery
from workers.ports import NOTIFY_RUN
from workers.providers.base import OutboundItem


def ended_run(r: redis.Redis) -> str:
    run_id = runs.new_run_id()
    runs.create_run(r, run_id=run_id, connection="acme", provider="kombo", retention_s=3600)
    create_batch(r, batch_id=f"{run_id}-0", run_id=run_id, connection="acme", target="t", op="upsert",
                 items=[OutboundItem("c", "d", {})], retention_s=3600, payload_ttl_s=3600)  # fmt: skip
    pipe = r.pipeline()
    runs.add_counts(pipe, run_id, total=1)
    pipe.execute()
    runs.seal_run(r, run_id, "acme", retention_s=3600)
    batch = load_batch(r, f"{run_id}-0")
    assert batch is not None
    assert (
        settle_batch(r, batch, state="completed", n_ok=1, n_failed=0, errors=[], retention_s=3600)
        == "completed"
    )
    return run_id


def test_the_step_that_ends_a_run_also_queues_its_announcement(r: redis.Redis) -> None:
    run_id = ended_run(r)
    assert r.zscore(keys.OUTBOX, run_id) is not None
    assert r.zscore(keys.OPEN_RUNS, run_id) is None
    assert r.ttl(keys.run(run_id)) > 0


def test_a_claimed_announcement_comes_back_if_nobody_delivers_it(r: redis.Redis) -> None:
    run_id = ended_run(r)
    sent: list[tuple[str, dict[str, Any]]] = []
    assert drain_outbox(r, lambda name, kw, opts: sent.append((name, kw)), lambda _: True) == 1
    assert sent == [(NOTIFY_RUN, {"run_id": run_id})]
    # Claimed, not removed: the task may be lost with its worker
    assert drain_outbox(r, lambda name, kw, opts: sent.append((name, kw)), lambda _: True) == 0
    r.zadd(keys.OUTBOX, {run_id: 0})  # the claim ran out
    assert drain_outbox(r, lambda name, kw, opts: sent.append((name, kw)), lambda _: True) == 1
    delivered(r, run_id)
    assert r.zscore(keys.OUTBOX, run_id) is None
    assert runs.get_run(r, run_id)["webhook"] == "delivered"  # type: ignore[index]


def test_a_run_without_a_webhook_leaves_the_outbox_at_once(r: redis.Redis) -> None:
    run_id = ended_run(r)
    assert drain_outbox(r, lambda name, kw, opts: None, lambda _: False) == 0
    assert r.zscore(keys.OUTBOX, run_id) is None


def test_failed_deliveries_are_retried_then_given_up_with_the_reason_in_the_run(r: redis.Redis) -> None:
    run_id = ended_run(r)
    for n in range(1, MAX_DELIVERIES):
        count, delay = failed_delivery(
            r, run_id, delay_for=lambda k: 2.0 * k, reason="HTTP 503", permanent=False
        )
        assert (count, delay) == (n, 2.0 * n)
        assert r.zscore(keys.OUTBOX, run_id) is not None
    failed_delivery(r, run_id, delay_for=lambda k: 1.0, reason="HTTP 503", permanent=False)
    assert r.zscore(keys.OUTBOX, run_id) is None
    assert runs.get_run(r, run_id)["webhook"] == f"not delivered after {MAX_DELIVERIES} tries: HTTP 503"  # type: ignore[index]
