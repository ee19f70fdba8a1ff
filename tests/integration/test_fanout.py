"""Fan-out: one catalog read once for connections of all four providers, one run each."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from producers.fanout import start_fanout
from producers.sync import SyncOptions, start_run
from tests.integration.conftest import Pipeline
from tests.integration.test_answers import SECRETS, four_providers
from tests.integration.test_resync import kombo_courses
from workers.config import get_settings
from workers.control import cancel_run
from workers.ledger import fanout_document, run_document

pytestmark = pytest.mark.integration

KOMBO_FILTERED = "it-kombo-licensed"


def config(url: str) -> str:
    # A fifth connection, Kombo again but another integration, licensed only the "even" tag.
    return (
        four_providers(url)
        + f"""
[connections.{KOMBO_FILTERED}]
provider = "kombo"
base_url = "{url}/kombo/v1"
api_key = "env:IT_KOMBO_KEY"
integration_id = "sandbox:licensed"
batch_size = 25
requests_per_minute = 60000

[connections.{KOMBO_FILTERED}.filter]
tags = ["even"]

[groups]
everyone = ["it-*"]
"""
    )


@pytest.fixture(scope="module")
def pipeline(
    start_pipeline: Callable[..., Pipeline], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pipeline]:
    with pytest.MonkeyPatch.context() as mp:
        for name, value in SECRETS.items():
            mp.setenv(name, value)
        catalogs = str(tmp_path_factory.mktemp("catalogs"))
        yield start_pipeline(
            config=config,
            sandbox_args=["--kombo-pending-s", "0.3", "--l360-pending-s", "0.3", "--ti-pending-s", "0.3",
                          "--kombo-integrations", "sandbox:coursesync-demo", "sandbox:licensed"],
            workers=2,
            env={"COURSESYNC_CATALOG_DIR": catalogs},
        )  # fmt: skip


def catalog(n: int, prefix: str = "fo", *, changed: frozenset[int] = frozenset()) -> list[dict[str, Any]]:
    return [
        {
            "id": f"{prefix}-{i}",
            "title": f"Course {i}" + (" (new edition)" if i in changed else ""),
            "url": f"https://learn.example/{prefix}/{i}",
            "languages": ["en"],
            "tags": ["even" if i % 2 == 0 else "odd"],
        }
        for i in range(n)
    ]


BROKEN = [{"id": "bad-1", "title": "", "url": "https://learn.example/x"}, {"id": "bad-2", "url": "nope"}]


def wait_fanout(r: redis.Redis, fanout_id: str, timeout_s: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        doc = fanout_document(r, fanout_id)
        assert doc is not None
        if doc["state"] not in ("reading", "running"):
            return doc
        time.sleep(0.3)
    raise AssertionError(f"fan-out {fanout_id} did not end: {fanout_document(r, fanout_id)}")


def write(path: Path, items: list[dict[str, Any]]) -> str:
    path.write_text("".join(json.dumps(item) + "\n" for item in items))
    return str(path)


def test_a_fanout_to_all_four_providers_ends_with_one_run_each_and_exact_counts(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    r = pipeline.use(monkeypatch)
    path = tmp_path / "catalog.jsonl"  # a file: its next fan-out reads the fan-out memory
    # When one catalog is synced to every connection of the group
    fanout_id = start_fanout("@everyone", write(path, catalog(120) + BROKEN), r=r)
    doc = wait_fanout(r, fanout_id)
    # Then each connection has its own run, tied to the fan-out, each with exact counts
    assert sorted(run["connection"] for run in doc["runs"]) == sorted(
        ["it-kombo", "it-stackone", "it-360", "it-ti", KOMBO_FILTERED]
    )
    assert doc["state"] == "completed_with_errors" and doc["items"] == 122
    for run in doc["runs"]:
        full = run_document(r, run["run_id"])
        assert full is not None and full["parent"] == fanout_id
        c = full["counts"]
        excluded = 60 if run["connection"] == KOMBO_FILTERED else 0
        assert (c["total"], c["invalid"], c["excluded"], c["succeeded"], c["failed"], c["pending"]) == (
            122,
            2,
            excluded,
            120 - excluded,
            0,
            0,
        ), run
        assert full["state"] == "completed_with_errors"  # the two invalid items
    # And the providers hold what the runs say; the licensed connection only the even items
    held = pipeline.sandbox("/_sandbox/held")
    for provider in ("stackone", "360learning", "thoughtindustries"):
        assert {f"fo-{i}" for i in range(120)} <= set(held[provider])
    assert set(kombo_courses(pipeline, "sandbox:licensed")) == {f"fo-{i}" for i in range(0, 120, 2)}
    assert set(kombo_courses(pipeline, "sandbox:coursesync-demo")) >= {f"fo-{i}" for i in range(120)}

    # When the same catalog is synced again with three items changed
    changed = catalog(120, changed=frozenset({4, 5, 7})) + BROKEN
    again = wait_fanout(r, start_fanout("it-*", write(path, changed), r=r))
    # Then each run sends only the changed items it is licensed for; the rest are unchanged
    for run in again["runs"]:
        c = run["counts"]
        sent = 1 if run["connection"] == KOMBO_FILTERED else 3  # only fo-4 is "even"
        excluded = 60 if run["connection"] == KOMBO_FILTERED else 0
        assert (c["succeeded"], c["unchanged"], c["excluded"], c["invalid"]) == (
            sent,
            120 - excluded - sent,
            excluded,
            2,
        ), run

    # When StackOne's target loses every digest and the unchanged file is synced again
    stackone = next(run for run in again["runs"] if run["connection"] == "it-stackone")
    target = (run_document(r, stackone["run_id"]) or {})["target"]
    r.delete(*r.keys(f"*{target}*"))
    third = wait_fanout(r, start_fanout("it-*", str(path), r=r))
    # Then every item goes to StackOne again, mapped from its catalog line (the fan-out memory
    # knew every digest), as StackOne's schema takes it; the others are unchanged
    for run in third["runs"]:
        c = run["counts"]
        licensed = 60 if run["connection"] == KOMBO_FILTERED else 120
        expected = (120, 0) if run["connection"] == "it-stackone" else (0, licensed)
        assert (c["succeeded"], c["unchanged"], c["failed"]) == (*expected, 0), run


def test_pruning_with_a_filter_deactivates_only_the_excluded_items_held_before(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = pipeline.use(monkeypatch)
    # Given a Kombo connection that holds items 0..39 of a catalog (before its filter existed)
    text = pipeline.config.read_text()
    pipeline.config.write_text(text.replace('[connections.it-kombo-licensed.filter]\ntags = ["even"]', ""))
    first = pipeline.wait_for_run(r, start_run(KOMBO_FILTERED, catalog(40, "pf"), r=r))
    assert first["counts"]["succeeded"] == 40
    # When its filter says it licenses the even items only, and a fan-out of 80 items prunes
    # (forced: half of what it held goes, far above the 10 % guard, as a narrowed licence does)
    pipeline.config.write_text(text)
    active_before = {k for k, v in kombo_courses(pipeline, "sandbox:licensed").items() if v == "ACTIVE"}
    licensed_now = {f"pf-{i}" for i in range(0, 80, 2)}
    options = SyncOptions(prune=True, force_prune=True, trigger="fanout")
    doc = wait_fanout(r, start_fanout(f"{KOMBO_FILTERED},it-stackone", catalog(80, "pf"), options, r=r))
    licensed = next(run for run in doc["runs"] if run["connection"] == KOMBO_FILTERED)
    full = run_document(r, licensed["run_id"])
    assert full is not None
    # Then what it held and no longer licenses is deactivated (the odd items of 0..39, and what
    # earlier tests left there), and the odd items it never held are not sent at all
    assert full["counts"]["excluded"] == 40
    assert full["prune"]["succeeded"] == len(active_before - licensed_now)
    courses = kombo_courses(pipeline, "sandbox:licensed")
    pf = {k: v for k, v in courses.items() if k.startswith("pf-")}
    assert {k for k, v in pf.items() if v == "INACTIVE"} == {f"pf-{i}" for i in range(1, 40, 2)}
    assert {k for k, v in pf.items() if v == "ACTIVE"} == licensed_now
    assert {k for k, v in courses.items() if v == "ACTIVE"} == licensed_now
    # And the unfiltered connection of the same fan-out got every item
    stackone = next(run for run in doc["runs"] if run["connection"] == "it-stackone")
    assert stackone["counts"]["succeeded"] + stackone["counts"]["unchanged"] == 80


def test_cancelling_one_run_of_a_fanout_leaves_the_others_going(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = pipeline.use(monkeypatch)
    # Given a fan-out whose Kombo connection is throttled to 2 requests a second
    text = pipeline.config.read_text()
    fast = 'integration_id = "sandbox:coursesync-demo"\nbatch_size = 25\nrequests_per_minute = 60000'
    assert fast in text
    pipeline.config.write_text(text.replace(fast, fast.replace("25", "10").replace("60000", "120")))
    try:
        fanout_id = start_fanout("it-kombo,it-stackone,it-360", catalog(300, "cx"), r=r)
        kombo = next(run for run in fanout_document(r, fanout_id)["runs"] if run["connection"] == "it-kombo")  # type: ignore[index]
        # When its Kombo run is cancelled while it sends
        deadline = time.monotonic() + 60
        while run_document(r, kombo["run_id"])["counts"]["succeeded"] == 0:  # type: ignore[index]
            assert time.monotonic() < deadline
            time.sleep(0.2)
        cancel_run(r, kombo["run_id"], get_settings())
        doc = wait_fanout(r, fanout_id)
    finally:
        pipeline.config.write_text(text)
    # Then that run ends cancelled with exact counts, and the other two complete
    states = {run["connection"]: run["state"] for run in doc["runs"]}
    assert states == {"it-kombo": "cancelled", "it-stackone": "completed", "it-360": "completed"}
    c = next(run for run in doc["runs"] if run["connection"] == "it-kombo")["counts"]
    assert c["succeeded"] + c["failed"] == 300 and c["failed"] > 0 and c["pending"] == 0


def test_the_cli_syncs_a_glob_as_a_fanout_and_shows_it(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pipeline.use(monkeypatch)
    path = tmp_path / "catalog.jsonl"
    path.write_text("".join(json.dumps(item) + "\n" for item in catalog(50, "cli") + BROKEN))
    env = {**pipeline.env, **SECRETS, "PATH": "/usr/bin:/bin"}
    # When `coursesync sync` is given a glob
    proc = subprocess.run([sys.executable, "-m", "coursesync.cli", "sync", "it-360,it-st*", str(path), "--json",
                           "--timeout", "120"], env=env, capture_output=True, text=True, timeout=180)  # fmt: skip
    # Then it prints the fan-out document once every run ended, exit 1 for the two invalid items
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["fanout_id"].startswith("f_") and doc["items"] == 52
    assert sorted(run["connection"] for run in doc["runs"]) == ["it-360", "it-stackone"]
    assert (doc["counts"]["succeeded"], doc["counts"]["invalid"]) == (100, 4)
    # And `coursesync status` shows it, run by run
    status = subprocess.run([sys.executable, "-m", "coursesync.cli", "status", doc["fanout_id"]],
                            env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert (
        f"fan-out {doc['fanout_id']}: completed_with_errors  (2 runs: 2 completed_with_errors)"
        in status.stdout
    )
    assert all(run["run_id"] in status.stdout for run in doc["runs"])
