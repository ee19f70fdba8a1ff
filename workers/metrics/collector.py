"""The Prometheus collector: reads the fleet's counters and live gauges from Redis per scrape.

Nothing is kept in the endpoint process, so any number of them (or a restarted one) serve the
same numbers, and a scrape costs two pipelined round trips whatever the fleet's size:
O(connections) commands, never a scan of batches or jobs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from workers import keys
from workers.metrics.record import BATCH_WAIT_BUCKETS_S, POLL_DELAY_BUCKETS_S
from workers.redis_client import strs

__all__ = ["RedisCollector"]

log = logging.getLogger(__name__)

#: The oldest waiting batch is looked for among this many at the head of each ready list:
#: batches that waited (deferred, reclaimed) go back to the head, new ones to the tail.
HEAD_SAMPLE = 10

Metric = CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily

#: Per-connection counters: metric name (without _total), help, extra label, field prefix ->
#: label values. A field prefix without values is a plain counter of that field.
_COUNTERS: list[tuple[str, str, str, str, tuple[str, ...]]] = [
    ("coursesync_items", "catalog items by final outcome", "outcome", "items:",
     ("succeeded", "failed", "invalid", "unchanged")),
    ("coursesync_pruned_items", "deactivations of items gone from the catalog", "outcome", "pruned:",
     ("succeeded", "failed")),
    ("coursesync_batches_settled", "batches settled, by state", "state", "batches:", ("completed", "failed")),
    ("coursesync_runs_finished", "runs ended, by final state", "state", "runs:",
     ("completed", "completed_with_errors", "failed", "cancelled")),
    ("coursesync_rate_limit_pauses", "provider answers that paused the fleet (429, quota spent)", "",
     "pauses", ()),
    ("coursesync_rate_limit_waits", "batches and polls put off by the rate limiter", "", "limiter_waits", ()),
    ("coursesync_batch_retries", "transient failures (429, 5xx, timeouts) that deferred a batch", "",
     "retries", ()),
]  # fmt: skip

#: Fleet-wide gauges read with one command each: name, help.
_GAUGES = [
    ("coursesync_batches_deferred", "batches waiting for a retry backoff or rate-limit budget"),
    ("coursesync_remote_jobs_pending", "remote jobs submitted and not finished (polled by beat)"),
    ("coursesync_remote_jobs_overdue", "remote jobs whose status poll is due now"),
    ("coursesync_broker_queue_messages", "messages waiting in the Celery queue"),
    ("coursesync_broker_unacked_messages", "messages delivered to workers, not yet acknowledged"),
]


class RedisCollector(Collector):
    """Yields every coursesync metric; README "Operating it" says what each means."""

    def __init__(self, r: redis.Redis) -> None:
        self.r = r

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("coursesync_redis_up", "1 if Redis answered this scrape, else 0")
        try:
            metrics = self._collect()
        except redis.RedisError as exc:  # the endpoint's edge: a scrape reports, never crashes
            log.warning("metrics scrape could not read Redis: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from metrics

    def _collect(self) -> list[Metric]:
        r = self.r
        now_ms = time.time() * 1000
        names = sorted(
            set(strs(r.smembers(keys.METRICS_CONNECTIONS))) | set(strs(r.smembers(keys.READY_CONNECTIONS)))
        )
        pipe = r.pipeline(transaction=False)
        for name in names:
            pipe.hgetall(keys.conn_metrics(name))
            pipe.llen(keys.ready(name))
            pipe.zcard(keys.inflight(name))
            pipe.lrange(keys.ready(name), 0, HEAD_SAMPLE - 1)
        pipe.zcard(keys.DEFERRED)
        pipe.zcard(keys.JOBS_DUE)
        pipe.zcount(keys.JOBS_DUE, "-inf", int(now_ms))
        pipe.llen(keys.CELERY_QUEUE)
        pipe.hlen(keys.CELERY_UNACKED)
        pipe.hgetall(keys.POLL_DELAY)
        pipe.hgetall(keys.WORKER_HEARTBEATS)
        pipe.get(keys.BEAT_TICK)
        pipe.hgetall(keys.HOUSEKEEPING_LAST_OK)
        pipe.hgetall(keys.HOUSEKEEPING_FAILURES)
        replies = pipe.execute()
        per_conn = [replies[i * 4 : i * 4 + 4] for i in range(len(names))]
        fleet = replies[len(names) * 4 :]
        counts = [_ints(c[0]) for c in per_conn]
        out: list[Metric] = [*_counters(names, counts), _batch_wait(names, counts)]
        out += self._queues(names, per_conn, now_ms)
        for (metric, help_text), value in zip(_GAUGES, fleet[:5], strict=True):
            gauge = GaugeMetricFamily(metric, help_text)
            gauge.add_metric([], int(value))
            out.append(gauge)
        poll_delay, beats, tick, housekeeping_ok, housekeeping_failed = fleet[5:]
        out.append(_poll_delay(_ints(poll_delay)))
        ages = GaugeMetricFamily(
            "coursesync_worker_last_task_age_seconds",
            "seconds since each worker last finished a task",
            labels=["worker"],
        )
        for worker, ms in sorted(_ints(beats).items()):
            ages.add_metric([worker], max(0.0, (now_ms - ms) / 1000))
        out.append(ages)
        if tick is not None:
            beat = GaugeMetricFamily(
                "coursesync_beat_last_tick_age_seconds", "seconds since beat last ticked"
            )
            beat.add_metric([], max(0.0, (now_ms - int(tick)) / 1000))
            out.append(beat)
        out += _housekeeping(_ints(housekeeping_ok), _ints(housekeeping_failed), now_ms)
        return out

    def _queues(self, names: list[str], per_conn: list[list[Any]], now_ms: float) -> list[Metric]:
        by_conn = ["connection"]
        ready = GaugeMetricFamily("coursesync_batches_ready", "batches waiting for Celery", labels=by_conn)
        inflight = GaugeMetricFamily(
            "coursesync_batches_inflight", "batches on the broker or being sent", labels=by_conn
        )
        oldest = GaugeMetricFamily(
            "coursesync_oldest_waiting_batch_age_seconds",
            "age of the oldest batch in the ready list (0 when none waits)",
            labels=by_conn,
        )
        pipe = self.r.pipeline(transaction=False)
        for *_, head in per_conn:
            for batch_id in strs(head):
                pipe.hget(keys.batch(batch_id), "created_ms")
        created = iter(pipe.execute())
        for name, (_, n_ready, n_inflight, head) in zip(names, per_conn, strict=True):
            ready.add_metric([name], int(n_ready))
            inflight.add_metric([name], int(n_inflight))
            born = [int(ms) for ms in (next(created) for _ in head) if ms]
            oldest.add_metric([name], max(0.0, (now_ms - min(born)) / 1000) if born else 0.0)
        return [ready, inflight, oldest]


def _ints(raw: Any) -> dict[str, int]:
    return {(k.decode() if isinstance(k, bytes) else str(k)): int(v) for k, v in (raw or {}).items()}


def _counters(names: list[str], counts: list[dict[str, int]]) -> Iterator[Metric]:
    for metric, help_text, label, prefix, values in _COUNTERS:
        family = CounterMetricFamily(metric, help_text, labels=["connection", *([label] if label else [])])
        for name, c in zip(names, counts, strict=True):
            for value in values or ("",):
                family.add_metric([name, *([value] if value else [])], c.get(prefix + value, 0))
        yield family
    wait_s = CounterMetricFamily(
        "coursesync_rate_limit_wait_seconds",
        "total time the rate limiter put work off",
        labels=["connection"],
    )
    requests = CounterMetricFamily(
        "coursesync_provider_requests",
        "provider HTTP answers by status class (429 counted apart from 4xx)",
        labels=["connection", "provider", "status"],
    )
    for name, c in zip(names, counts, strict=True):
        wait_s.add_metric([name], c.get("limiter_wait_ms", 0) / 1000)
        for field, count in sorted(c.items()):
            if field.startswith("requests:"):
                _, provider, status = field.split(":", 2)
                requests.add_metric([name, provider, status], count)
    yield from (wait_s, requests)


def _buckets(raw: dict[str, int], bounds: tuple[float, ...], prefix: str = "") -> list[tuple[str, float]]:
    """Prometheus' cumulative buckets from the non-cumulative ``<prefix>le:<bound>`` counters."""
    buckets: list[tuple[str, float]] = []
    cumulative = 0
    for bound in (*(str(b) for b in bounds), "+Inf"):
        cumulative += raw.get(f"{prefix}le:{bound}", 0)
        buckets.append((bound, cumulative))
    return buckets


def _poll_delay(raw: dict[str, int]) -> HistogramMetricFamily:
    return HistogramMetricFamily(
        "coursesync_poll_delay_seconds",
        "how late status polls ran behind their due time",
        buckets=_buckets(raw, POLL_DELAY_BUCKETS_S),
        sum_value=raw.get("sum_ms", 0) / 1000,
    )


def _batch_wait(names: list[str], counts: list[dict[str, int]]) -> HistogramMetricFamily:
    family = HistogramMetricFamily(
        "coursesync_batch_wait_seconds",
        "how long batches waited from their creation by the producer to their first send",
        labels=["connection"],
    )
    for name, c in zip(names, counts, strict=True):
        family.add_metric([name], _buckets(c, BATCH_WAIT_BUCKETS_S, "wait:"), c.get("wait:sum_ms", 0) / 1000)
    return family


def _housekeeping(last_ok: dict[str, int], failed: dict[str, int], now_ms: float) -> list[Metric]:
    """Beat's ticks, the doctor, the cleanup and the pings: Flower does not list them (they
    send no events), so whether they still run and succeed is read here."""
    age = GaugeMetricFamily(
        "coursesync_housekeeping_last_success_age_seconds",
        "seconds since each housekeeping task (pump, poll_jobs, schedules, doctor...) last succeeded",
        labels=["task"],
    )
    for task, ms in sorted(last_ok.items()):
        age.add_metric([task], max(0.0, (now_ms - ms) / 1000))
    failures = CounterMetricFamily(
        "coursesync_housekeeping_failures", "runs of each housekeeping task that failed", labels=["task"]
    )
    for task, count in sorted(failed.items()):
        failures.add_metric([task], count)
    return [age, failures]
