"""The batch-wait histogram: how long each batch waited from the producer to its first send,
counted in the step that marks it sending and exported per connection."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from coursesync.sample import sample_items
from producers.sync import SyncOptions, start_run
from tests.unit.helpers import configure_and_capture, make_deps
from tests.unit.test_metrics import drain, sample, scrape
from tests.unit.test_pipeline_inprocess import CONFIG
from workers import keys, ledger
from workers.ledger import Batch
from workers.metrics.collector import RedisCollector
from workers.metrics.record import BATCH_WAIT_BUCKETS_S, batch_wait_field
from workers.providers.fake import FakeProvider


def waiting_batch(r: redis.Redis, batch_id: str, *, waited_s: float, connection: str = "acme") -> Batch:
    """A pending batch the producer made ``waited_s`` ago."""
    ledger.create_batch(r, batch_id=batch_id, run_id="r1", connection=connection, target="t", op="upsert",
                        items=[], retention_s=3600, payload_ttl_s=3600)  # fmt: skip
    r.hset(keys.batch(batch_id), "created_ms", int((time.time() - waited_s) * 1000))
    found = ledger.load_batch(r, batch_id)
    assert found is not None
    return found


def buckets(r: redis.Redis, connection: str) -> list[tuple[float, float]]:
    """The exported cumulative buckets of one connection, as (upper bound, count), in order."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RedisCollector(r))
    families = text_string_to_metric_families(generate_latest(registry).decode())
    (family,) = [f for f in families if f.name == "coursesync_batch_wait_seconds"]
    assert family.type == "histogram"
    return [
        (float(s.labels["le"]), s.value)
        for s in family.samples
        if s.name.endswith("_bucket") and s.labels["connection"] == connection
    ]


@pytest.mark.parametrize(
    ("waited_s", "bucket"), [(0.0, 0.5), (3.0, 5.0), (42.0, 60.0), (1000.0, 1800.0), (9000.0, float("inf"))]
)
def test_a_batch_counts_in_the_bucket_of_its_wait(r: redis.Redis, waited_s: float, bucket: float) -> None:
    # Given a batch the producer made waited_s ago
    batch = waiting_batch(r, "b1", waited_s=waited_s)
    # When a worker marks it sending
    assert ledger.mark_sending(r, batch, "tok") == "ok"
    # Then it counts in the first bucket at or above its wait, and in every one above that
    found = buckets(r, "acme")
    assert [bound for bound, _ in found] == [*BATCH_WAIT_BUCKETS_S, float("inf")]
    assert all(count == (1 if bound >= bucket else 0) for bound, count in found), found
    samples = scrape(r)
    assert sample(samples, "coursesync_batch_wait_seconds_count", connection="acme") == 1
    assert sample(samples, "coursesync_batch_wait_seconds_sum", connection="acme") == pytest.approx(
        waited_s, abs=2.0
    )


def test_a_batch_counts_once_however_often_it_is_marked_sending(r: redis.Redis) -> None:
    # Given a batch sent once after 3 s, and one still waiting on another connection
    batch = waiting_batch(r, "b1", waited_s=3.0)
    assert ledger.mark_sending(r, batch, "first") == "ok"
    waiting_batch(r, "b2", waited_s=1.0, connection="other")
    # When it is marked sending again (a retry after a 503, a second delivery of its task)
    assert ledger.mark_sending(r, batch, "retry") == "ok"
    # Then it still counts once, and the batch keeps how long it waited
    samples = scrape(r)
    assert sample(samples, "coursesync_batch_wait_seconds_count", connection="acme") == 1
    assert 2_000 <= int(r.hget(keys.batch("b1"), "waited_ms") or 0) <= 5_000
    # And a connection with nothing sent yet shows an empty histogram, not a missing one
    assert sample(samples, "coursesync_batch_wait_seconds_count", connection="other") == 0


def test_a_batch_that_may_not_leave_counts_nothing(r: redis.Redis) -> None:
    # Given a batch of a paused connection
    batch = waiting_batch(r, "b1", waited_s=3.0)
    r.sadd(keys.PAUSED_CONNECTIONS, "acme")
    # When a worker tries to send it
    assert ledger.mark_sending(r, batch, "tok") == "paused"
    # Then no wait is counted: it has not been sent
    assert sample(scrape(r), "coursesync_batch_wait_seconds_count", connection="acme") == 0
    assert r.hget(keys.batch("b1"), "waited_ms") is None


def test_buckets_are_monotonic_and_end_in_the_count(r: redis.Redis) -> None:
    # Given batches that waited all sorts of times
    for i, waited_s in enumerate((0.2, 0.7, 4, 4, 11, 70, 400, 2000, 5000, 9000)):
        assert ledger.mark_sending(r, waiting_batch(r, f"b{i}", waited_s=waited_s), "tok") == "ok"
    # When the exporter's text is parsed back
    found = buckets(r, "acme")
    counts = [count for _, count in found]
    # Then the buckets never decrease, and +Inf holds every batch
    assert counts == sorted(counts) and counts[-1] == 10
    assert sample(scrape(r), "coursesync_batch_wait_seconds_count", connection="acme") == 10


def test_field_names_follow_the_buckets() -> None:
    assert batch_wait_field(0.5) == "wait:le:0.5"
    assert batch_wait_field(0.51) == "wait:le:1.0"
    assert batch_wait_field(BATCH_WAIT_BUCKETS_S[-1] + 1) == "wait:le:+Inf"


def test_every_batch_a_run_sends_is_counted_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, r: redis.Redis, raw_r: redis.Redis
) -> None:
    # Given a run of 250 items in batches of 100, sent by the real submit path
    sent = configure_and_capture(monkeypatch, tmp_path, CONFIG, {"ACME_KEY": "secret"})
    records, _ = sample_items(250)
    deps = make_deps(r, raw_r, FakeProvider())
    doc = drain(deps, sent, start_run("acme", records, SyncOptions(), r=r, settings=deps.settings))
    # When scraped
    samples = scrape(r)
    # Then the histogram counts each batch the run sent, once
    sent_batches = doc["batches"]["completed"] + doc["batches"]["failed"]
    assert sent_batches >= 3
    assert sample(samples, "coursesync_batch_wait_seconds_count", connection="acme") == sent_batches
