"""The Prometheus rules of ``ops/prometheus/`` pass ``promtool check rules`` and their unit tests
(``promtool test rules``), every alert has a test that fires it and one that does not, and every
metric they name is one the endpoint serves (and the README lists).

promtool is Debian's (package ``prometheus``), installed by the first test when it is missing.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

from tests.debian import debian_tool
from tests.unit.ops_metrics import PROMETHEUS_SERIES, exported_families, exported_names, series_names

#: The first test may install Debian's prometheus package before it starts (a minute or two).
pytestmark = pytest.mark.timeout(900)

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "ops" / "prometheus" / "coursesync.rules.yml"
RULE_TESTS = sorted((ROOT / "ops" / "prometheus" / "tests").glob("*.yml"))


@pytest.fixture(scope="module")
def promtool() -> str:
    return debian_tool("promtool", "prometheus")


def run_promtool(promtool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_promtool_checks_the_rules(promtool: str) -> None:
    done = run_promtool(promtool, "check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_the_rules_pass_their_unit_tests(promtool: str) -> None:
    assert RULE_TESTS
    done = run_promtool(promtool, "test", "rules", *map(str, RULE_TESTS))
    assert done.returncode == 0, done.stdout + done.stderr


def rule_groups() -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = yaml.safe_load(RULES.read_text())["groups"]
    return groups


def alerts() -> list[dict[str, Any]]:
    return [rule for group in rule_groups() for rule in group["rules"] if "alert" in rule]


def recorded() -> set[str]:
    return {rule["record"] for group in rule_groups() for rule in group["rules"] if "record" in rule}


def rule_tests() -> Iterator[dict[str, Any]]:
    for path in RULE_TESTS:
        yield from yaml.safe_load(path.read_text())["tests"]


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    fired, quiet = set(), set()
    for test in rule_tests():
        for case in test.get("alert_rule_test", []):
            (fired if case.get("exp_alerts") else quiet).add(case["alertname"])
    names = {rule["alert"] for rule in alerts()}
    assert names - fired == set(), "alerts no test fires"
    assert names - quiet == set(), "alerts no test checks to stay quiet"


def test_every_recording_rule_is_tested() -> None:
    tested = set().union(
        *(series_names(case["expr"]) for test in rule_tests() for case in test.get("promql_expr_test", []))
    )
    assert recorded() - tested == set()


def test_every_alert_says_how_bad_and_what_to_do() -> None:
    for rule in alerts():
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]
        assert len(rule["annotations"]["description"]) > 60, f"{rule['alert']}: say what to do"


# ---------------------------------------------------------------- metric names
def test_series_names_are_read_from_promql() -> None:
    expr = (
        'histogram_quantile(0.95, max by (connection, le) (rate(coursesync_x_bucket{connection=~"$connection"}'
        "[$__rate_interval]))) > 0 and on () a:b:c unless sum(up) offset 5m"
    )
    assert series_names(expr) == {"coursesync_x_bucket", "a:b:c", "up"}


def test_the_rules_name_only_served_metrics_and_their_own_records(r: redis.Redis) -> None:
    known = exported_names(r) | recorded() | PROMETHEUS_SERIES
    for group in rule_groups():
        for rule in group["rules"]:
            assert series_names(rule["expr"]) <= known, rule.get("alert") or rule.get("record")


def test_the_rule_tests_feed_only_served_metrics(r: redis.Redis) -> None:
    known = exported_names(r) | PROMETHEUS_SERIES
    fed = {s["series"].partition("{")[0] for test in rule_tests() for s in test["input_series"]}
    assert fed <= known


def test_every_served_metric_is_in_the_readme(r: redis.Redis) -> None:
    documented = set(re.findall(r"`(coursesync_\w+)`", (ROOT / "README.md").read_text()))
    for name, kind in exported_families(r).items():
        assert (name + "_total" if kind == "counter" else name) in documented, name
