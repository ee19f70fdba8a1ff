"""Operating it: Flower, the metrics endpoint, JSON logs and `coursesync health`, on a real fleet.

One pipeline (sandbox, worker, beat, JSON logs) plus Flower and `coursesync metrics` processes
serve the whole module: two runs of one catalog are synced once, then each test reads what
operators would read.
"""

from __future__ import annotations

import ast
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from celery.utils.nodenames import host_format
from prometheus_client.parser import text_string_to_metric_families

from coursesync.sample import sample_items
from coursesync.stack import free_port
from producers.sync import SyncOptions, start_run
from tests.integration.conftest import FAST_ENV, Pipeline
from workers import keys

pytestmark = pytest.mark.integration

FLOWER_AUTH = ("flower-ops", "fl0wer-pw")
METRICS_AUTH = ("prom", "m3trics-pw")
#: A title that must never appear in a log: payloads are not logged.
MARKER_TITLE = "Quasar Lantern Marker 7731"
API_KEY = FAST_ENV["IT_KOMBO_KEY"]
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Ops:
    pipeline: Pipeline
    flower_url: str
    metrics_url: str
    docs: list[dict[str, Any]]
    batches: set[str]

    def run_cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "coursesync.cli", *args],
            env=self.pipeline.stack.base_env(), capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    def celery_control(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "celery", "-A", "workers", "control", *args],
            env=self.pipeline.stack.base_env(), capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip


def wait_for(what: str, probe: Callable[[], Any], timeout_s: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            found = probe()
        except httpx.HTTPError:
            found = None
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"{what} did not happen within {timeout_s:.0f} s")


@pytest.fixture(scope="module")
def ops(start_pipeline: Callable[..., Pipeline]) -> Iterator[Ops]:
    pipeline = start_pipeline(env={"COURSESYNC_LOG_JSON": "1"})
    stack = pipeline.stack
    flower_port, metrics_port = free_port(), free_port()
    # Both start through scripts/start, exactly as the Procfile and docker-compose.yml do.
    bin_dir = os.path.dirname(sys.executable)
    path = {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    flower_env = {**path, "PORT": str(flower_port), "FLOWER_BASIC_AUTH": ":".join(FLOWER_AUTH)}
    stack.spawn("flower", ["sh", str(ROOT / "scripts" / "start"), "flower"], extra_env=flower_env)
    metrics_env = {**path, "PORT": str(metrics_port), "COURSESYNC_METRICS_AUTH": ":".join(METRICS_AUTH)}
    stack.spawn("metrics", ["sh", str(ROOT / "scripts" / "start"), "metrics"], extra_env=metrics_env)
    flower = f"http://127.0.0.1:{flower_port}"
    # Flower keeps only the events it saw: wait until it hears the worker's heartbeats, then sync
    # (beat's ticks send no events, so they no longer tell when Flower listens).
    wait_for("Flower hearing the worker", lambda: any(
        httpx.get(f"{flower}/api/workers?status=true", auth=FLOWER_AUTH).json().values()))  # fmt: skip
    records, _ = sample_items(600, prefix="itops")
    records.append({"id": "itops-marker", "title": MARKER_TITLE, "url": "https://learn.acme.example/m"})
    with pytest.MonkeyPatch.context() as mp:
        r = pipeline.use(mp)
        docs = []
        for _ in range(2):  # the second run finds everything unchanged
            docs.append(pipeline.wait_for_run(r, start_run("it-kombo", records, SyncOptions(), r=r), 60))
        batches = set(r.lrange(keys.run_batches(docs[0]["run_id"]), 0, -1))
    yield Ops(pipeline, flower, f"http://127.0.0.1:{metrics_port}/metrics", docs, batches)


def test_flower_shows_finished_batch_tasks_by_name_and_ids_only(ops: Ops) -> None:
    # Given Flower watching the fleet with basic auth
    url = f"{ops.flower_url}/api/tasks"
    assert httpx.get(url).status_code == 401

    # When its API is asked for finished submit tasks
    def finished() -> list[dict[str, Any]]:
        params = {"taskname": "coursesync.submit_batch", "state": "SUCCESS"}
        tasks = httpx.get(url, params=params, auth=FLOWER_AUTH, timeout=10).json().values()
        return [t for t in tasks if ast.literal_eval(t["kwargs"] or "{}").get("batch_id") in ops.batches]

    tasks = wait_for("a finished submit task in Flower", finished)
    # Then a task names its batch and its connection, nothing more
    assert ast.literal_eval(tasks[0]["kwargs"]).keys() == {"batch_id", "connection"}
    assert ast.literal_eval(tasks[0]["kwargs"])["connection"] == "it-kombo"
    assert tasks[0]["name"] == "coursesync.submit_batch" and tasks[0]["args"] == "()"
    # And no task Flower saw carries a secret or a payload
    everything = httpx.get(url, auth=FLOWER_AUTH, timeout=10).text
    assert API_KEY not in everything and MARKER_TITLE not in everything


def test_metrics_after_the_runs_equal_the_run_documents(ops: Ops) -> None:
    assert httpx.get(ops.metrics_url).status_code == 401
    text = httpx.get(ops.metrics_url, auth=METRICS_AUTH, timeout=10).text
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    for outcome in ("succeeded", "failed", "invalid", "unchanged"):
        expected = sum(d["counts"][outcome] for d in ops.docs)
        assert value("coursesync_items_total", connection="it-kombo", outcome=outcome) == expected, outcome
    assert ops.docs[0]["counts"]["failed"] > 0 and ops.docs[1]["counts"]["unchanged"] > 0
    ok_answers = value(
        "coursesync_provider_requests_total", connection="it-kombo", provider="kombo", status="2xx"
    )
    assert ok_answers >= ops.docs[0]["batches"]["total"] * 2  # a submit and at least one poll each
    assert value("coursesync_poll_delay_seconds_count") > 0
    assert value("coursesync_batches_ready", connection="it-kombo") == 0
    assert value("coursesync_remote_jobs_pending") == 0
    worker = host_format("worker@%h")
    assert value("coursesync_worker_last_task_age_seconds", worker=worker) < 60
    assert value("coursesync_beat_last_tick_age_seconds") < 30
    # Housekeeping, which Flower does not list, shows here: each tick task ran and succeeded
    for tick in ("coursesync.pump", "coursesync.poll_jobs", "coursesync.schedules"):
        assert value("coursesync_housekeeping_last_success_age_seconds", task=tick) < 30, tick


def test_json_logs_carry_batch_fields_and_no_secret_or_payload(ops: Ops) -> None:
    stack = ops.pipeline.stack
    logs = {name: stack.log_text(name) for name in ("worker", "beat", "flower", "metrics")}
    # No API key and no item content in any process's log
    for name, text in logs.items():
        assert API_KEY not in text, name
        assert MARKER_TITLE not in text, name
    # Every log line of the worker is JSON (Celery's banner aside), Celery's own records included
    lines = [json.loads(line) for line in logs["worker"].splitlines() if line.startswith("{")]
    assert any(line["logger"].startswith("celery") for line in lines)
    # And each batch event carries its fields as keys
    submitted = [line for line in lines if line.get("event") == "batch submitted"]
    assert {line["batch"] for line in submitted} >= ops.batches
    first = submitted[0]
    assert first["connection"] == "it-kombo" and first["run"] == ops.docs[0]["run_id"]
    assert first["attempt"] == 1 and 200 <= first["status"] < 300 and first["duration_ms"] >= 0
    settled = [line for line in lines if line.get("event") == "batch settled"]
    assert {line["batch"] for line in settled} >= ops.batches


def test_health_fails_for_a_worker_that_no_longer_consumes(ops: Ops) -> None:
    worker = host_format("worker@%h")
    # Given a healthy fleet: a ping is run, by the fleet and by this very worker; beat ticks
    for args in ([], ["--worker", "worker@%h"], ["--beat"]):
        done = ops.run_cli("health", *args)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("ok: ")
    # When the worker stops consuming the shared queue while staying alive
    ops.celery_control("cancel_consumer", keys.CELERY_QUEUE, "-d", worker)
    try:
        fleet = ops.run_cli("health", "--timeout-s", "3")
        one = ops.run_cli("health", "--worker", worker, "--timeout-s", "3")
    finally:
        ops.celery_control("add_consumer", keys.CELERY_QUEUE, "-d", worker)
    # Then both checks fail and say why
    assert fleet.returncode == 1, fleet.stdout
    assert f"answer control commands ({worker})" in fleet.stderr and "stopped consuming" in fleet.stderr
    assert one.returncode == 1, one.stdout
    assert "no longer consumes queue 'coursesync'" in one.stderr
    # When the worker's processes are frozen (alive, but nothing runs)
    pid = ops.pipeline.stack.processes["worker"].pid
    os.killpg(pid, signal.SIGSTOP)
    try:
        frozen = ops.run_cli("health", "--worker", worker, "--timeout-s", "3")
    finally:
        os.killpg(pid, signal.SIGCONT)
    assert frozen.returncode == 1 and "does not answer control commands" in frozen.stderr
    # And once it consumes again, it is healthy again
    healthy = ops.run_cli("health", "--worker", worker)
    assert healthy.returncode == 0, healthy.stderr
