"""Flower shows the work, not the housekeeping: a minute of a small sync, read through Flower's API.

Beat's ticks (the pump, the status sweep, the schedules, twice a second each) used to be most
of what Flower listed, so a failed submit scrolled away behind them. This runs a real worker,
beat and Flower for a minute while small runs come and go, and counts what Flower lists.
"""

from __future__ import annotations

import ast
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from coursesync.stack import free_port
from tests.integration.conftest import Pipeline, kombo_config
from workers import keys, ports

pytestmark = pytest.mark.integration

AUTH = ("flower-ops", "fl0wer-pw")
ROOT = Path(__file__).resolve().parents[2]
#: How long the fleet runs under Flower's eye, and how often a small run starts meanwhile.
WATCH_S = 60.0
RUN_EVERY_S = 10.0
#: coursesync's work: what ops opens Flower for (a run, its batches, its webhook).
WORK = {
    ports.SUBMIT_BATCH, ports.SYNC_CATALOG, ports.START_RUN, ports.START_FANOUT, ports.FANOUT_PART,
    ports.SCHEDULED_SYNC, ports.NOTIFY_RUN,
}  # fmt: skip


def _catalog(folder: Path, n: int, run: int) -> str:
    path = folder / f"catalog-{run}.jsonl"
    rows = (
        {"id": f"fl-{run}-{i}", "title": f"Course {run}.{i}", "url": f"https://a.example/{run}/{i}"}
        for i in range(n)
    )
    path.write_text("\n".join(json.dumps(row) for row in rows))
    return str(path)


def _tasks(flower: str, **params: str) -> dict[str, dict[str, Any]]:
    resp = httpx.get(f"{flower}/api/tasks", params=params, auth=AUTH, timeout=10)
    resp.raise_for_status()
    tasks: dict[str, dict[str, Any]] = resp.json()
    return tasks


def _is_work(task: dict[str, Any]) -> bool:
    if task.get("name") in WORK:
        return True
    # coursesync.flush_changes is work when it names a connection (without one: beat's sweep)
    kwargs = ast.literal_eval(task.get("kwargs") or "{}")
    return task.get("name") == ports.FLUSH_CHANGES and bool(kwargs.get("connection"))


def test_a_minute_of_small_syncs_lists_mostly_work_in_flower(
    start_pipeline: Callable[..., Pipeline], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given a worker, beat (ticking every 0.5 s) and Flower, started as the Procfile does
    pipeline = start_pipeline(config=lambda url: kombo_config(url, batch_size=20))
    stack = pipeline.stack
    port = free_port()
    env = {
        "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ.get('PATH', '')}",
        "PORT": str(port),
        "FLOWER_BASIC_AUTH": ":".join(AUTH),
    }
    stack.spawn("flower", ["sh", str(ROOT / "scripts" / "start"), "flower"], extra_env=env)
    flower = f"http://127.0.0.1:{port}"
    # (Flower keeps only the events it saw: it listens once it hears the worker's heartbeats)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if any(httpx.get(f"{flower}/api/workers?status=true", auth=AUTH, timeout=5).json().values()):
                break
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.25)
    else:
        raise AssertionError("Flower heard no worker within 30 s\n" + stack.log_text("flower")[-2000:])
    r = pipeline.use(monkeypatch)
    from workers.celery_app import app

    # When small runs (40 new items, two batches each) start through Celery every 10 s for a minute
    started = time.monotonic()
    runs: list[dict[str, Any]] = []
    while time.monotonic() - started < WATCH_S - RUN_EVERY_S:
        source = _catalog(tmp_path, 40, len(runs))
        run_id = app.send_task(ports.SYNC_CATALOG, args=("it-kombo", source)).get(timeout=60)
        runs.append(pipeline.wait_for_run(r, run_id, 60))
        time.sleep(max(0.0, started + len(runs) * RUN_EVERY_S - time.monotonic()))
    time.sleep(max(0.0, started + WATCH_S - time.monotonic()))
    assert all(doc["state"] == "completed" and doc["counts"]["succeeded"] == 40 for doc in runs), runs

    # Then coursesync's work is at least half of every task Flower lists
    listed = _tasks(flower)
    names = Counter(str(t.get("name")) for t in listed.values())
    work = sum(1 for t in listed.values() if _is_work(t))
    share = work / max(1, len(listed))
    print(f"\nFlower listed {len(listed)} tasks in {WATCH_S:.0f} s, {work} of them work ({share:.0%}): "
          f"{dict(names.most_common())}")  # fmt: skip
    submits = sum(doc["batches"]["total"] for doc in runs)
    assert names[ports.SUBMIT_BATCH] >= submits and names[ports.SYNC_CATALOG] == len(runs), names
    assert share >= 0.5, names

    # And the filters the README gives ops answer their questions: one connection's submits...
    mine = _tasks(flower, taskname=ports.SUBMIT_BATCH, search="kwargs:connection=it-kombo")
    assert len(mine) == names[ports.SUBMIT_BATCH]
    assert not _tasks(flower, taskname=ports.SUBMIT_BATCH, search="kwargs:connection=elsewhere")
    # ...those of them that failed (none here: the states and outcomes a failure would show)...
    assert not _tasks(flower, taskname=ports.SUBMIT_BATCH, state="FAILURE")
    assert not _tasks(flower, taskname=ports.SUBMIT_BATCH, search="result:failed")
    # ...and one batch's history by its id, or a whole run's by the run id its batch ids start with
    batch_id = str(r.lrange(keys.run_batches(runs[-1]["run_id"]), 0, 0)[0])
    history = _tasks(flower, search=f"kwargs:batch_id={batch_id}")
    assert history and all(batch_id in t["kwargs"] for t in history.values())
    run_tasks = _tasks(flower, taskname=ports.SUBMIT_BATCH, search=runs[-1]["run_id"])
    assert len(run_tasks) >= runs[-1]["batches"]["total"]
