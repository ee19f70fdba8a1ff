"""The Grafana dashboard of ``ops/grafana/`` is one Grafana imports (checked against a JSON schema
of what it needs: identity, schema version, a Prometheus datasource variable, a ``connection``
variable, panels on the grid with their queries), and its queries read only served metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import redis

from tests.unit.ops_metrics import exported_names, series_names

DASHBOARD = Path(__file__).resolve().parents[2] / "ops" / "grafana" / "coursesync.json"


def dashboard() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return doc


_GRID = {
    "type": "object",
    "required": ["h", "w", "x", "y"],
    "properties": {
        "h": {"type": "integer", "minimum": 1},
        "w": {"type": "integer", "minimum": 1, "maximum": 24},
        "x": {"type": "integer", "minimum": 0, "maximum": 23},
        "y": {"type": "integer", "minimum": 0},
    },
}
_DATASOURCE = {
    "type": "object",
    "required": ["type", "uid"],
    "properties": {"type": {"const": "prometheus"}, "uid": {"const": "${datasource}"}},
}
_PANEL = {
    "type": "object",
    "required": ["id", "type", "title", "gridPos"],
    "properties": {
        "id": {"type": "integer"},
        "title": {"type": "string", "minLength": 1},
        "gridPos": _GRID,
    },
    "if": {"properties": {"type": {"const": "row"}}},
    "then": {"properties": {"panels": {"type": "array", "maxItems": 0}}},
    "else": {
        "required": ["datasource", "targets"],
        "properties": {
            "type": {"enum": ["timeseries", "stat", "gauge", "bargauge", "table", "heatmap", "text"]},
            "datasource": _DATASOURCE,
            "targets": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["refId", "expr", "datasource"],
                    "properties": {
                        "refId": {"type": "string", "pattern": "^[A-Z]$"},
                        "expr": {"type": "string", "minLength": 1},
                        "datasource": _DATASOURCE,
                    },
                },
            },
        },
    },
}
#: What Grafana needs to import the dashboard: its identity, the schema it was written for, a
#: Prometheus datasource chosen at import, a `connection` variable, and panels placed on the grid.
DASHBOARD_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["title", "uid", "schemaVersion", "panels", "templating", "time"],
    "properties": {
        "title": {"type": "string", "minLength": 1},
        "uid": {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,40}$"},
        "schemaVersion": {"type": "integer", "minimum": 36},
        "id": {"type": "null"},
        "time": {"type": "object", "required": ["from", "to"]},
        "templating": {
            "type": "object",
            "required": ["list"],
            "properties": {
                "list": {
                    "type": "array",
                    "prefixItems": [
                        {
                            "type": "object",
                            "required": ["name", "type", "query"],
                            "properties": {
                                "name": {"const": "datasource"},
                                "type": {"const": "datasource"},
                                "query": {"const": "prometheus"},
                            },
                        },
                        {
                            "type": "object",
                            "required": ["name", "type", "query", "datasource"],
                            "properties": {
                                "name": {"const": "connection"},
                                "type": {"const": "query"},
                                "datasource": _DATASOURCE,
                                "query": {
                                    "type": "object",
                                    "required": ["query"],
                                    "properties": {
                                        "query": {"pattern": r"^label_values\(coursesync_\w+, ?connection\)$"}
                                    },
                                },
                            },
                        },
                    ],
                    "minItems": 2,
                }
            },
        },
        "panels": {"type": "array", "minItems": 1, "items": _PANEL},
    },
}


def panels() -> list[dict[str, Any]]:
    return list(dashboard()["panels"])


def test_the_dashboard_is_one_grafana_loads() -> None:
    jsonschema.validate(dashboard(), DASHBOARD_SCHEMA, cls=jsonschema.Draft202012Validator)


def test_the_schema_catches_what_grafana_would_refuse() -> None:
    broken = dashboard()
    del broken["panels"][-1]["gridPos"]["w"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, DASHBOARD_SCHEMA, cls=jsonschema.Draft202012Validator)


def test_panels_have_unique_ids_and_do_not_overlap() -> None:
    ids = [p["id"] for p in panels()]
    assert len(ids) == len(set(ids))
    taken: dict[tuple[int, int], str] = {}
    for panel in panels():
        g = panel["gridPos"]
        assert g["x"] + g["w"] <= 24, panel["title"]
        for cell in ((x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])):
            assert cell not in taken, f"{panel['title']!r} overlaps {taken.get(cell)!r}"
            taken[cell] = panel["title"]


def test_the_dashboard_reads_only_served_metrics(r: redis.Redis) -> None:
    # The dashboard must work without the recording rules, so raw metrics only.
    known = exported_names(r)
    variable = dashboard()["templating"]["list"][1]["query"]["query"]
    assert re.findall(r"\((coursesync_\w+)", variable)[0] in known
    for panel in panels():
        for target in panel.get("targets", []):
            names = series_names(target["expr"])
            assert names and names <= known, f"{panel['title']}: {names - known}"


def test_the_dashboard_shows_the_batch_wait_histogram() -> None:
    exprs = " ".join(t["expr"] for p in panels() for t in p.get("targets", []))
    assert "coursesync_batch_wait_seconds_bucket" in exprs
