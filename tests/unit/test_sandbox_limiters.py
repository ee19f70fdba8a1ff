"""Every provider enforces its rate limits with the configured algorithm, counted by the key its
documentation names, with headers true to the algorithm (handlers called without a socket)."""

from __future__ import annotations

import argparse
import base64
import json
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sandbox import SandboxServer, SandboxSettings
from sandbox.cli import add_arguments, settings_from_args
from sandbox.http import Request, Response


class Clock:
    def __init__(self, now_s: float = 10_000.0) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(clock: Clock) -> Iterator[SandboxServer]:
    server = SandboxServer(SandboxSettings(l360_bulk_concurrency=100, l360_clients=("c1:s1", "c2:s2")))
    server.state.limits_clock = clock
    server.state.reset()
    try:
        yield server
    finally:
        server.stop()


def call(app: SandboxServer, method: str, path: str, headers: dict[str, str], body: Any = None) -> Response:
    raw = b"" if body is None else json.dumps(body).encode()
    return app.handle(Request(method, path, {}, {k.lower(): v for k, v in headers.items()}, raw))


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def l360_token(app: SandboxServer, client: str = "c1:s1") -> str:
    client_id, secret = client.split(":")
    body = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    doc = json.loads(call(app, "POST", "/360learning/api/v2/oauth2/token", {}, body).body)
    return str(doc["access_token"])


Ask = Callable[[SandboxServer, str], Response]  #: one request of a provider, as a sub-account


def kombo(app: SandboxServer, who: str) -> Response:
    headers = {"Authorization": "Bearer sandbox-kombo-key", "X-Integration-Id": who}
    return call(app, "GET", "/kombo/v1/lms/courses", headers)


def stackone(app: SandboxServer, who: str) -> Response:
    headers = {"Authorization": basic("sandbox-stackone-key"), "x-account-id": who}
    return call(app, "GET", "/stackone/unified/lms/content", headers)


def l360_read(app: SandboxServer, who: str) -> Response:
    headers = {"Authorization": f"Bearer {who}", "360-api-version": "v2.0"}
    return call(app, "GET", "/360learning/api/v2/integrations", headers)


def l360_write(app: SandboxServer, who: str) -> Response:
    headers = {"Authorization": f"Bearer {who}", "360-api-version": "v2.0"}
    return call(app, "POST", "/360learning/api/v2/integrations", headers, {})  # 400 once admitted


def ti_poll(app: SandboxServer, who: str) -> Response:
    return call(app, "GET", "/thoughtindustries/incoming/v2/jobs/x", {"Authorization": f"Bearer {who}"})


def ti_import(app: SandboxServer, who: str) -> Response:
    path = "/thoughtindustries/incoming/v2/content/courseGroup/webinar/bulk"
    return call(app, "POST", path, {"Authorization": f"Bearer {who}"}, {})  # 400 once admitted


#: (the knob of extra windows, one request, two sub-accounts under one limit key)
PROVIDERS: dict[str, tuple[str, Ask, tuple[str, str]]] = {
    "kombo": ("kombo_windows", kombo, ("sandbox:coursesync-demo", "other-integration")),
    "stackone": ("stackone_windows", stackone, ("sandbox-account", "sandbox-suspended-account")),
    "360learning-read": ("l360_read_windows", l360_read, ("token", "token")),
    "360learning-write": ("l360_write_windows", l360_write, ("token", "token")),
    "thoughtindustries": ("ti_windows", ti_poll, ("ti_test_sandbox", "ti_test_sandbox")),
}


def subjects(app: SandboxServer, provider: str) -> tuple[str, str]:
    """The two sub-accounts of ``provider``; two tokens of one 360Learning client (one company)."""
    first, second = PROVIDERS[provider][2]
    return (l360_token(app), l360_token(app)) if first == "token" else (first, second)


#: Two requests at once, a third refused; then 2.5 s, 6 s and 11 s after the first, across the
#: 10 s boundary at 10_010: each algorithm of "2/10" answers differently.
TIMES = [10_008.0, 10_008.0, 10_008.0, 10_010.5, 10_014.0, 10_019.0]
PASSES = {
    "token_bucket": [True, True, False, False, True, True],  # a token back every 5 s
    "fixed_window": [True, True, False, True, True, False],  # 2 again from 10_010 to 10_020
    "sliding_window": [True, True, False, False, False, True],  # 2 in any 10 s
}


@pytest.mark.parametrize("algorithm", list(PASSES))
@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_each_provider_uses_the_configured_algorithm(
    app: SandboxServer, clock: Clock, provider: str, algorithm: str
) -> None:
    knob, ask, _ = PROVIDERS[provider]
    app.state.update_settings({"limiter": algorithm, knob: ["2/10"]})
    whom = subjects(app, provider)
    passed = []
    for n, t in enumerate(TIMES):
        clock.now_s = t
        # Both sub-accounts draw on one budget: the limit is counted by key, not by account.
        passed.append(ask(app, whom[n % 2]).status != 429)
    assert passed == PASSES[algorithm]
    report = app.state.limits_report()["providers"][provider.partition("-")[0]]
    assert [doc["algorithm"] for doc in report.values()] == [algorithm]


def test_thought_industries_imports_pass_the_course_management_limit_and_the_plan(
    app: SandboxServer, clock: Clock
) -> None:
    # Given a plan of 4 per 10 s and 2 course-management requests per minute
    app.state.update_settings(
        {"limiter": "sliding_window", "ti_windows": ["4/10"], "ti_course_management_per_min": 2}
    )
    # When 3 imports come, the category refuses the third and the plan is charged for two
    imports = [ti_import(app, "ti_test_sandbox").status for _ in range(3)]
    assert imports == [400, 400, 429]
    assert [ti_poll(app, "ti_test_sandbox").status for _ in range(3)] == [404, 404, 429]
    # And the category limit is per API key, its 429 as documented
    clock.now_s += 30
    refused = ti_import(app, "ti_test_sandbox")
    body = json.loads(refused.body)
    assert body["error"] == "rate_limit_exceeded" and body["retryAfter"] == 30  # the first leaves at 60 s
    assert refused.headers["Retry-After"] == "30" and refused.headers["X-RateLimit-Limit"] == "2"
    app.state.update_settings({"ti_api_keys": ["ti_test_sandbox", "ti_test_other"]})
    assert ti_import(app, "ti_test_other").status == 400
    keys = app.state.limits_report()["providers"]["thoughtindustries"]
    assert set(keys) == {"ti_test_sandbox", "ti_test_sandbox:course_management", "ti_test_other",
                         "ti_test_other:course_management"}  # fmt: skip


def test_360learning_counts_by_company_so_each_client_has_its_own_budget(app: SandboxServer) -> None:
    app.state.update_settings({"l360_read_rate_per_s": 1, "limiter": "fixed_window"})
    first, second = l360_token(app, "c1:s1"), l360_token(app, "c2:s2")
    assert [l360_read(app, first).status, l360_read(app, first).status] == [200, 429]
    assert l360_read(app, second).status == 200
    assert sorted(app.state.limits_report()["providers"]["360learning"]) == ["c1:read", "c2:read"]


# --- headers true to the algorithm -------------------------------------------------------------


def test_kombo_reports_the_fixed_windows_boundary_as_its_reset(app: SandboxServer, clock: Clock) -> None:
    app.state.update_settings({"limiter": "fixed_window", "kombo_windows": ["2/10"]})
    clock.now_s = 10_004.2
    answers = [kombo(app, "sandbox:coursesync-demo") for _ in range(3)]
    assert [a.status for a in answers] == [200, 200, 429]
    headers = [(a.headers["ratelimit-remaining"], a.headers["ratelimit-reset"]) for a in answers]
    assert headers == [("1", "6"), ("0", "6"), ("0", "6")]  # 10_010 - 10_004.2, rounded up
    assert {a.headers["ratelimit-limit"] for a in answers} == {"2"}
    assert "Retry-After" not in answers[-1].headers


def test_stackone_says_when_the_sliding_window_frees_a_request(app: SandboxServer, clock: Clock) -> None:
    app.state.update_settings({"limiter": "sliding_window", "stackone_windows": ["2/10"]})
    for t in (10_000.0, 10_004.0, 10_007.5):
        clock.now_s = t
        last = stackone(app, "sandbox-account")
    assert last.status == 429 and last.headers["Retry-After"] == "3"  # the first leaves at 10_010
    clock.now_s = 10_010.0
    assert stackone(app, "sandbox-account").status == 200


def test_thought_industries_reset_is_the_unix_time_the_window_empties(
    app: SandboxServer, clock: Clock
) -> None:
    app.state.update_settings({"limiter": "sliding_window", "ti_windows": ["2/60"]})
    for t in (10_000.0, 10_030.0, 10_045.0):
        clock.now_s = t
        last = ti_poll(app, "ti_test_sandbox")
    assert last.status == 429 and last.headers["Retry-After"] == "15"
    reset = int(last.headers["X-RateLimit-Reset"])  # the newest leaves 45 s after the refusal
    assert math.ceil(time.time()) + 45 <= reset <= math.ceil(time.time()) + 46


# --- the knobs ---------------------------------------------------------------------------------


def test_the_limiter_knobs_are_flags_and_config_keys(app: SandboxServer) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    flags = "--limiter sliding_window --stackone-windows 20/1 600/60 --ti-course-management-per-min 60"
    settings = settings_from_args(parser.parse_args(flags.split()))
    assert (settings.limiter, settings.stackone_windows) == ("sliding_window", ("20/1", "600/60"))
    assert settings.ti_course_management_per_min == 60 and SandboxSettings().limiter == "token_bucket"
    with pytest.raises(SystemExit):
        parser.parse_args(["--limiter", "leaky_bucket"])
    changed = app.state.update_settings({"kombo_windows": ["5000/3600"], "l360_write_windows": ["1/0.5"]})
    assert (changed["kombo_windows"], changed["l360_write_windows"]) == (["5000/3600"], ["1/0.5"])
    assert app.state.update_settings({"kombo_windows": None})["kombo_windows"] is None


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({"limiter": "leaky_bucket"}, "limiter must be one of token_bucket, fixed_window, sliding_window"),
        ({"ti_windows": ["600/60", "600"]}, "ti_windows must be N/W (N requests per W seconds"),
        ({"stackone_windows": ["0/60"]}, "stackone_windows must be N/W"),
        ({"kombo_windows": "600/60"}, "kombo_windows must be null or a list of strings"),
        ({"kombo_windows": []}, "kombo_windows must not be empty"),
        ({"ti_course_management_per_min": 0}, "ti_course_management_per_min must be at least 1"),
    ],
)
def test_bad_limiter_settings_are_refused(app: SandboxServer, update: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        app.state.update_settings(update)
