"""The fleet's metrics: counted where events happen, read from Redis on each scrape."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from redis.backoff import NoBackoff
from redis.retry import Retry

from coursesync.sample import sample_items
from producers.sync import SyncOptions, start_run
from tests.unit.helpers import configure_and_capture, make_deps
from tests.unit.test_pipeline_inprocess import CONFIG
from workers import keys
from workers.deps import Deps
from workers.errors import ConfigError
from workers.ledger import run_document
from workers.metrics import count_response, observe_poll_delays
from workers.metrics.collector import RedisCollector
from workers.metrics.server import make_metrics_server, parse_credentials
from workers.poller import sweep
from workers.providers.fake import FakeProvider
from workers.submit import submit_batch


def scrape(r: redis.Redis) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample the collector yields, keyed by (name, sorted labels)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RedisCollector(r))
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def sample(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """Capture what would go to Celery; the test plays the worker."""
    return configure_and_capture(monkeypatch, tmp_path, CONFIG, {"ACME_KEY": "secret"})


def drain(deps: Deps, sent: list[str], run_id: str) -> dict[str, Any]:
    for _ in range(200):
        while sent:
            submit_batch(sent.pop(0), deps)
        deps.r.zadd(keys.JOBS_DUE, {m: 0 for m in deps.r.zrange(keys.JOBS_DUE, 0, -1)})
        sweep(deps)
        doc = run_document(deps.r, run_id)
        assert doc is not None
        if doc["state"] not in ("queued", "running"):
            return doc
    raise AssertionError("run did not finish")


def test_item_counters_equal_the_run_documents_after_two_runs(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str]
) -> None:
    # Given two runs of one catalog: the first sends everything, the second finds it unchanged
    records, _ = sample_items(600)
    rejected = {
        rec["id"] for rec in records if isinstance(rec, dict) and rec["url"].endswith(".invalid/course")
    }
    deps = make_deps(r, raw_r, FakeProvider(reject=rejected))
    docs = [drain(deps, sent, start_run("acme", records, SyncOptions(), r=r, settings=deps.settings))]
    docs.append(drain(deps, sent, start_run("acme", records, SyncOptions(), r=r, settings=deps.settings)))
    # When the endpoint is scraped
    samples = scrape(r)
    # Then each outcome's counter is the sum of the run documents' counts
    for outcome in ("succeeded", "failed", "invalid", "unchanged"):
        expected = sum(d["counts"][outcome] for d in docs)
        assert sample(samples, "coursesync_items_total", connection="acme", outcome=outcome) == expected
    assert docs[1]["counts"]["unchanged"] > 0 and docs[0]["counts"]["failed"] > 0
    batches = sum(d["batches"]["completed"] for d in docs)
    assert (
        sample(samples, "coursesync_batches_settled_total", connection="acme", state="completed") == batches
    )
    finished = sample(
        samples, "coursesync_runs_finished_total", connection="acme", state="completed_with_errors"
    )
    assert finished == 2
    # And nothing is left waiting
    assert sample(samples, "coursesync_batches_ready", connection="acme") == 0
    assert sample(samples, "coursesync_remote_jobs_pending") == 0
    assert sample(samples, "coursesync_redis_up") == 1


def test_queue_gauges_are_read_live(r: redis.Redis) -> None:
    # Given two batches waiting (the older one at the head), one in flight and a job due
    now_ms = 1_000 * int(r.time()[0])
    for batch_id, age_s in (("b-old", 120), ("b-new", 5)):
        r.hset(keys.batch(batch_id), mapping={"connection": "acme", "created_ms": now_ms - age_s * 1000})
        r.rpush(keys.ready("acme"), batch_id)
    r.sadd(keys.READY_CONNECTIONS, "acme")
    r.zadd(keys.inflight("acme"), {"b-flying": now_ms + 60_000})
    r.zadd(keys.DEFERRED, {"b-later": now_ms + 60_000})
    r.zadd(keys.JOBS_DUE, {"b-due": now_ms - 1000, "b-waiting": now_ms + 60_000})
    # When scraped
    samples = scrape(r)
    # Then the gauges say so
    assert sample(samples, "coursesync_batches_ready", connection="acme") == 2
    assert sample(samples, "coursesync_batches_inflight", connection="acme") == 1
    assert 119 <= sample(samples, "coursesync_oldest_waiting_batch_age_seconds", connection="acme") <= 125
    assert sample(samples, "coursesync_batches_deferred") == 1
    assert sample(samples, "coursesync_remote_jobs_pending") == 2
    assert sample(samples, "coursesync_remote_jobs_overdue") == 1


def test_provider_answers_are_counted_by_status_class_with_429_apart(r: redis.Redis) -> None:
    for status in (200, 202, 404, 429, 429, 503):
        count_response(r, "acme", "kombo", status)
    samples = scrape(r)

    def requests(status: str) -> float:
        return sample(
            samples, "coursesync_provider_requests_total", connection="acme", provider="kombo", status=status
        )

    assert (requests("2xx"), requests("4xx"), requests("429"), requests("5xx")) == (2, 1, 2, 1)


def test_poll_lateness_is_a_cumulative_histogram(r: redis.Redis) -> None:
    observe_poll_delays(r, [0.1, 0.7, 3.0, 1000.0])
    samples = scrape(r)
    assert sample(samples, "coursesync_poll_delay_seconds_bucket", le="0.5") == 1
    assert sample(samples, "coursesync_poll_delay_seconds_bucket", le="1.0") == 2
    assert sample(samples, "coursesync_poll_delay_seconds_bucket", le="5.0") == 3
    assert sample(samples, "coursesync_poll_delay_seconds_bucket", le="+Inf") == 4
    assert sample(samples, "coursesync_poll_delay_seconds_count") == 4
    assert sample(samples, "coursesync_poll_delay_seconds_sum") == pytest.approx(1003.8)


def test_a_scrape_without_redis_reports_redis_down_instead_of_failing() -> None:
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    samples = scrape(dead)
    assert samples == {("coursesync_redis_up", ()): 0}


@pytest.fixture
def serve(r: redis.Redis) -> Iterator[Any]:
    servers = []

    def start(**kwargs: Any) -> str:
        server = make_metrics_server(r, port=0, **kwargs)
        servers.append(server)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        host, port = server.server_address[:2]
        return f"http://{host}:{port}/metrics"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_the_endpoint_wants_the_configured_credentials(serve: Any) -> None:
    url = serve(host="127.0.0.1", credentials=parse_credentials("ops:s3cret,prom:other"))
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, auth=("ops", "wrong")).status_code == 401
    assert httpx.get(url, auth=("prom", "other")).status_code == 200
    resp = httpx.get(url, auth=("ops", "s3cret"))
    assert resp.status_code == 200 and "coursesync_redis_up 1.0" in resp.text


def test_without_credentials_it_serves_loopback_only(serve: Any, r: redis.Redis) -> None:
    assert serve(host=None, credentials=[]).startswith("http://127.0.0.1:")
    with pytest.raises(ConfigError, match="COURSESYNC_METRICS_AUTH"):
        make_metrics_server(r, host="0.0.0.0", port=0, credentials=[])


@pytest.mark.parametrize("spec", ["ops", "ops:", ":pw", "ops:pw,broken"])
def test_malformed_credentials_are_a_config_error(spec: str) -> None:
    with pytest.raises(ConfigError):
        parse_credentials(spec)


def test_the_metrics_package_exports_what_it_declares() -> None:
    import workers.metrics

    assert all(hasattr(workers.metrics, name) for name in workers.metrics.__all__)


def test_budgets_are_gauges_with_their_limits_use_and_shares(r: redis.Redis) -> None:
    from tests.unit.test_budgets import stackone
    from workers.metrics.budgets import BudgetCollector
    from workers.ratelimit import Limits

    a, b = stackone("a", "k", weight=3), stackone("b", "k")
    Limits.on(r).spend(a, "requests")
    r.rpush(keys.ready("a"), "b1")
    r.rpush(keys.ready("b"), "b2")
    registry = CollectorRegistry()
    registry.register(BudgetCollector(r, lambda: [a, b]))
    found = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for s in family.samples
    }
    assert any(k[0] == "coursesync_budget_limit_requests_per_second" and v == pytest.approx(1000 / 60)
               for k, v in found.items())  # fmt: skip
    used = [v for k, v in found.items() if k[0] == "coursesync_budget_used_requests_last_minute"]
    waiting = [v for k, v in found.items() if k[0] == "coursesync_budget_waiting_connections"]
    shares = {dict(k[1])["connection"]: v for k, v in found.items() if k[0] == "coursesync_budget_share"}
    assert used == [1.0] and waiting == [2.0] and shares == {"a": 0.75, "b": 0.25}
