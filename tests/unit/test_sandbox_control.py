"""Steering and observing the sandbox: /_sandbox/*, settings, the CLI and the public surface."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest

import sandbox
import sandbox.state as sandbox_state
from sandbox import SandboxServer, SandboxSettings
from sandbox.cli import add_arguments, settings_from_args
from sandbox.http import Request
from sandbox.providers import api_classes
from sandbox.providers.kombo.api import KomboApi

REPO = Path(__file__).resolve().parents[2]
HEADERS = {"Authorization": "Bearer sandbox-kombo-key", "X-Integration-Id": "sandbox:coursesync-demo"}


def course(origin: str) -> dict[str, Any]:
    return {
        "origin_id": origin,
        "course": {"type": "EXTERNAL", "title": "T", "course_url": "https://a.example/"},
    }


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxSettings(kombo_pending_s=0.1)) as running:
        yield running


@pytest.fixture
def control(server: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url + "/_sandbox", timeout=5) as client:
        yield client


def test_the_public_surface_is_declared() -> None:
    assert sorted(sandbox.__all__) == ["SandboxServer", "SandboxSettings", "main"]
    assert all(hasattr(sandbox, name) for name in sandbox.__all__)


def test_health_names_the_mounted_providers(control: httpx.Client) -> None:
    doc = control.get("/health").json()
    assert doc["status"] == "ok" and doc["providers"]["kombo"] == "/kombo/v1"
    assert len(doc["providers"]) == len(api_classes())  # one entry per mounted provider


def test_stats_count_routes_statuses_429s_tasks_items_and_replays(
    server: SandboxServer, control: httpx.Client
) -> None:
    # Given two tasks (one sent twice), a poll, a refused request and a few control requests
    with httpx.Client(base_url=server.url + "/kombo/v1", headers=HEADERS) as kombo:
        kombo.post("/lms/courses/bulk", json={"items": [course("a"), course("b")]})
        kombo.post("/lms/courses/bulk", json={"items": [course("a"), course("b")]})
        task_id = kombo.post("/lms/courses/bulk", json={"items": [course("b"), course("c")]}).json()["data"][
            "task_id"
        ]
        kombo.get(f"/lms/courses/bulk/{task_id}")
        server.settings.fail_rate_429 = 1.0
        kombo.get(f"/lms/courses/bulk/{task_id}")
    control.get("/health")
    # Then the statistics count exactly the provider requests
    stats = control.get("/stats").json()
    assert stats["requests"] == 5
    assert stats["by_route"] == {
        "kombo POST /lms/courses/bulk": 3,
        "kombo GET /lms/courses/bulk/{task_id}": 2,
    }
    assert stats["by_status"] == {"200": 4, "429": 1} and stats["rate_limited"] == 1
    assert stats["kombo"] == {
        "tasks_created": 2,
        "tasks_failed": 0,
        "items_received": 4,
        "idempotent_replays": 1,
        "deactivations": 0,
        "distinct_ids": 3,
    }


def test_the_request_log_lists_requests_since_a_time(server: SandboxServer, control: httpx.Client) -> None:
    with httpx.Client(base_url=server.url + "/kombo/v1", headers=HEADERS) as kombo:
        kombo.get("/lms/courses")
        middle = time.time()
        kombo.post("/lms/courses/bulk", json={"items": [course("a")]})
        kombo.get("/lms/courses", headers={"Authorization": "Bearer wrong"})
    everything = control.get("/requests").json()
    later = control.get("/requests", params={"since": middle}).json()
    assert [entry[1:] for entry in everything] == [
        ["kombo", "GET", "/lms/courses", 200],
        ["kombo", "POST", "/lms/courses/bulk", 200],
        ["kombo", "GET", "/lms/courses", 401],
    ]
    assert later == everything[1:] and all(middle <= entry[0] <= time.time() for entry in later)
    assert control.get("/requests", params={"since": "yesterday"}).status_code == 400


def test_the_request_log_can_name_each_requests_path(server: SandboxServer, control: httpx.Client) -> None:
    # Given two polls of one task
    with httpx.Client(base_url=server.url + "/kombo/v1", headers=HEADERS) as kombo:
        task_id = kombo.post("/lms/courses/bulk", json={"items": [course("a")]}).json()["data"]["task_id"]
        kombo.get(f"/lms/courses/bulk/{task_id}")
        kombo.get(f"/lms/courses/bulk/{task_id}")
    # When the log is asked for paths, each entry ends with the path (which task was polled)
    entries = control.get("/requests", params={"paths": "1"}).json()
    assert [entry[1:] for entry in entries] == [
        ["kombo", "POST", "/lms/courses/bulk", 200, "/kombo/v1/lms/courses/bulk"],
        ["kombo", "GET", "/lms/courses/bulk/{task_id}", 200, f"/kombo/v1/lms/courses/bulk/{task_id}"],
        ["kombo", "GET", "/lms/courses/bulk/{task_id}", 200, f"/kombo/v1/lms/courses/bulk/{task_id}"],
    ]
    # And without it, the entries keep their five fields
    assert [len(entry) for entry in control.get("/requests").json()] == [5, 5, 5]


def test_config_changes_settings_at_run_time(server: SandboxServer, control: httpx.Client) -> None:
    resp = control.post(
        "/config", json={"kombo_pending_s": 0, "kombo_api_keys": ["k2"], "kombo_rate_per_s": 5}
    )
    assert resp.status_code == 200
    assert resp.json() == control.get("/config").json() == server.settings.as_dict()
    assert (server.settings.kombo_pending_s, server.settings.kombo_api_keys) == (0.0, ("k2",))
    headers = {**HEADERS, "Authorization": "Bearer k2"}
    with httpx.Client(base_url=server.url + "/kombo/v1", headers=headers) as kombo:
        task_id = kombo.post("/lms/courses/bulk", json={"items": [course("a")]}).json()["data"]["task_id"]
        done = kombo.get(f"/lms/courses/bulk/{task_id}")
    assert done.json()["data"]["status"] == "COMPLETED" and done.headers["ratelimit-limit"] == "5"


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({"no_such_setting": 1}, "unknown setting 'no_such_setting'"),
        ({"latency_s": "fast"}, "latency_s must be a number, not 'fast'"),
        ({"latency_s": True}, "latency_s must be a number"),
        ({"kombo_max_items": 2.5}, "kombo_max_items must be an integer"),
        ({"kombo_api_keys": "k"}, "kombo_api_keys must be a list of strings"),
        ({"kombo_concurrency_limit": None}, "kombo_concurrency_limit must be an integer, not None"),
        ({"fail_rate_5xx": 1.5}, "fail_rate_5xx must be between 0 and 1"),
        ({"timeout_sleep_s": -1}, "timeout_sleep_s must not be negative"),
        ({"kombo_rate_per_s": 0}, "kombo_rate_per_s must be positive"),
        ([1, 2], "send a JSON object"),
    ],
)
def test_a_bad_config_update_is_refused_whole_with_a_clear_400(
    server: SandboxServer, control: httpx.Client, update: Any, message: str
) -> None:
    before = server.settings.as_dict()
    payload = {"latency_s": 0.5, **update} if isinstance(update, dict) else update
    resp = control.post("/config", json=payload)
    assert resp.status_code == 400 and message in resp.json()["error"]
    assert server.settings.as_dict() == before  # not even the valid latency_s was applied


def test_reset_forgets_state_and_statistics_but_keeps_settings(
    server: SandboxServer, control: httpx.Client
) -> None:
    control.post("/config", json={"kombo_max_items": 7})
    with httpx.Client(base_url=server.url + "/kombo/v1", headers=HEADERS) as kombo:
        task_id = kombo.post("/lms/courses/bulk", json={"items": [course("a")]}).json()["data"]["task_id"]
        assert control.post("/reset").json() == {"status": "reset"}
        assert kombo.get(f"/lms/courses/bulk/{task_id}").status_code == 404
    stats = control.get("/stats").json()
    assert stats["kombo"]["tasks_created"] == 0 and stats["requests"] == 1  # the 404 poll since
    assert server.settings.kombo_max_items == 7
    assert control.get("/nothing").status_code == 404


def test_the_request_log_is_a_bounded_ring(monkeypatch: pytest.MonkeyPatch) -> None:
    assert sandbox_state.REQUEST_LOG_SIZE >= 200_000  # minutes of history at benchmark rates
    monkeypatch.setattr(sandbox_state, "REQUEST_LOG_SIZE", 3)
    state = sandbox_state.State(SandboxSettings())
    for status in (200, 201, 202, 203, 204):
        state.record("kombo", "GET", "/r", status)
    assert [entry[4] for entry in state.requests_since(0)] == [202, 203, 204]
    assert state.stats()["requests"] == 5 and state.stats()["request_log"] == {"size": 3, "capacity": 3}


def test_a_failing_handler_answers_500_in_the_providers_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: KomboApi, req: Request, integration: str) -> NoReturn:
        raise RuntimeError("sandbox bug")

    monkeypatch.setattr(KomboApi, "list_courses", broken)
    with SandboxServer() as server, httpx.Client(base_url=server.url, headers=HEADERS) as client:
        resp = client.get("/kombo/v1/lms/courses")
        assert resp.status_code == 500 and resp.json()["status"] == "error"
        assert client.get("/_sandbox/health").status_code == 200  # the server lives on


def test_requests_outside_every_prefix_get_a_plain_404(server: SandboxServer) -> None:
    resp = httpx.get(server.url + "/nowhere/unified/lms/content")
    assert resp.status_code == 404 and "/kombo/v1" in resp.json()["error"]


def test_handle_answers_a_request_without_a_socket() -> None:
    # The server's dispatch is a plain function: Request in, Response out.
    app = SandboxServer()
    try:
        req = Request("GET", "/kombo/v1/lms/courses", {}, {k.lower(): v for k, v in HEADERS.items()}, b"")
        resp = app.handle(req)
        assert resp.status == 200 and resp.headers["Content-Type"] == "application/json"
        assert app.state.stats()["by_route"] == {"kombo GET /lms/courses": 1}
    finally:
        app.stop()


def test_settings_validate_on_construction() -> None:
    with pytest.raises(ValueError, match="fail_rate_429 must be between 0 and 1"):
        SandboxSettings(fail_rate_429=3)


def test_cli_flags_map_to_settings() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    flags = "--port 0 --kombo-pending-s 0.5 --kombo-rate-per-s 20 --seed 4 --kombo-api-keys a b"
    ns = parser.parse_args([*flags.split(), "--kombo-concurrency-limit", "3"])
    settings = settings_from_args(ns)
    assert (ns.host, ns.port) == ("127.0.0.1", 0)
    expected = SandboxSettings(
        seed=4,
        kombo_pending_s=0.5,
        kombo_rate_per_s=20.0,
        kombo_api_keys=("a", "b"),
        kombo_concurrency_limit=3,
    )
    assert settings == expected
    assert "seconds a Kombo bulk task stays PENDING" in parser.format_help()


def test_python_m_sandbox_serves_until_sigterm() -> None:
    command = [sys.executable, "-m", "sandbox", "--port", "0", "--kombo-pending-s", "0"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env, cwd=REPO) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
            assert line.startswith("sandbox listening on http://127.0.0.1:")
            url = line.rsplit(" ", 1)[1]
            assert httpx.get(url + "/_sandbox/health", timeout=5).json()["status"] == "ok"
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()


def test_the_new_fault_knobs_are_flags_and_config_keys(server: SandboxServer, control: httpx.Client) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    flags = (
        "--kombo-task-fail-rate 0.25 --kombo-task-fail-marker #x --kombo-task-fail-code INTEGRATION.INACTIVE "
        "--kombo-unknown-fields ignore --ti-invalid-rows-shape row_number --mutate-rate 0.1"
    )
    settings = settings_from_args(parser.parse_args(flags.split()))
    assert (settings.kombo_task_fail_rate, settings.kombo_task_fail_marker) == (0.25, "#x")
    assert (
        settings.kombo_task_fail_code == "INTEGRATION.INACTIVE" and settings.kombo_unknown_fields == "ignore"
    )
    assert (settings.ti_invalid_rows_shape, settings.mutate_rate) == ("row_number", 0.1)
    with pytest.raises(SystemExit):
        parser.parse_args(["--ti-invalid-rows-shape", "sideways"])
    # Through the control API, with the same checks
    changed = control.post("/config", json={"ti_invalid_rows_shape": "nested", "mutate_rate": 0.5}).json()
    assert (changed["ti_invalid_rows_shape"], changed["mutate_rate"]) == ("nested", 0.5)
    refused = control.post("/config", json={"ti_invalid_rows_shape": "sideways", "mutate_rate": 2})
    assert refused.status_code == 400
    assert "ti_invalid_rows_shape must be one of flat" in refused.json()["error"]
    assert "mutate_rate must be between 0 and 1" in refused.json()["error"]
    assert control.get("/stats").json()["mutated_answers"] == 0


def test_limits_report_each_keys_usage_by_sub_account_with_window_peaks(
    server: SandboxServer, control: httpx.Client
) -> None:
    # Given Kombo limited to 3 per minute and 2 per second per API key, shared by two integrations
    control.post(
        "/config",
        json={
            "limiter": "sliding_window",
            "kombo_rate_per_s": 2,
            "kombo_windows": ["3/60"],
            "kombo_integrations": ["int-a", "int-b"],
        },
    )
    started = time.time()
    with httpx.Client(base_url=server.url + "/kombo/v1", headers=HEADERS) as kombo:
        statuses = [
            kombo.get("/lms/courses", headers={"X-Integration-Id": who}).status_code
            for who in ("int-a", "int-b", "int-a", "int-b")
        ]
    # When the limits are asked for
    doc = control.get("/limits").json()
    # Then the key's counts, each integration's share and the windows' peaks are there
    assert statuses == [200, 200, 429, 429]
    assert (doc["limiter"], doc["times_kept_per_key"], doc["since_epoch_s"]) == (
        "sliding_window",
        100_000,
        server.state.reset_epoch_s,
    )
    assert doc["providers"]["stackone"] == {}  # no limit set there
    key = doc["providers"]["kombo"]["sandbox-kombo-key"]
    assert (key["algorithm"], key["accepted"], key["rate_limited"], key["times_dropped"]) == (
        "sliding_window",
        2,
        2,
        0,
    )
    assert [(w["window"], w["limit"], w["window_s"], w["max_accepted"]) for w in key["windows"]] == [
        ("2/1", 2, 1.0, 2),
        ("3/60", 3, 60.0, 2),
    ]
    subs = key["sub_accounts"]
    assert {who: (s["accepted"], s["rate_limited"]) for who, s in subs.items()} == {
        "int-a": (1, 1),
        "int-b": (1, 1),
    }
    times = subs["int-a"]["accepted_at_s"] + subs["int-b"]["accepted_at_s"]
    assert len(times) == 2 and all(started <= t <= time.time() for t in times)
    # And ?since= keeps only later times, a bad one is refused, a reset forgets all
    later = control.get("/limits", params={"since": time.time() + 1}).json()
    assert later["providers"]["kombo"]["sandbox-kombo-key"]["sub_accounts"]["int-a"]["accepted_at_s"] == []
    assert control.get("/limits", params={"since": "soon"}).status_code == 400
    control.post("/reset")
    assert control.get("/limits").json()["providers"]["kombo"] == {}
