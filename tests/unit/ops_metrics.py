"""What the metrics endpoint serves and what a PromQL expression reads: the files of ``ops/``
(rules, rule tests, dashboards) may name only metrics the first holds, so a renamed metric fails
their tests instead of leaving a silent alert or an empty panel."""

from __future__ import annotations

import re
import time

import redis

from workers import keys
from workers.metrics.server import metrics_registry

#: Prometheus' own series a rule may name besides ours.
PROMETHEUS_SERIES = {"up"}


def exported_families(r: redis.Redis) -> dict[str, str]:
    """Every metric family the metrics endpoint serves, from its own collectors: name -> type."""
    r.set(keys.BEAT_TICK, int(time.time() * 1000))  # beat's age is served once beat ticked
    return {family.name: family.type for family in metrics_registry(r, lambda: []).collect()}


def exported_names(r: redis.Redis) -> set[str]:
    """Every sample name the metrics endpoint can serve."""
    names = set()
    for name, kind in exported_families(r).items():
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}.get(kind, [""])
        names |= {name + suffix for suffix in suffixes}
    return names


#: PromQL words that are not series: keywords, and aggregations written before their `by (...)`.
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan", "by", "without", "on", "ignoring",
             "group_left", "group_right", "sum", "min", "max", "avg", "count", "group", "stddev",
             "stdvar", "topk", "bottomk", "quantile", "count_values"}  # fmt: skip


def series_names(expr: str) -> set[str]:
    """The metric names a PromQL expression (or a Grafana target, with its $variables) reads."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings: label values, regexes
    expr = re.sub(r"\$\{?\w+(?::\w+)?\}?", "1", expr)  # Grafana variables
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges and subqueries
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    words = re.finditer(r"(?<![\w:.])([a-zA-Z_:][\w:]*)(\s*\()?", expr)
    return {m[1] for m in words if not m[2] and m[1].lower() not in _KEYWORDS}
