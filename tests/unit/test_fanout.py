"""Fan-outs in one process: entitlements, naming connections, the snapshot and the diff by
bucket fingerprints (the integration tests run them on real workers)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import redis

from producers.fanout import part, start_fanout
from producers.fanout.plan import resolve_connections
from producers.fanout.snapshot import fanout_dir
from producers.sync import end_unstarted
from schemas.course import Course
from tests.unit.helpers import configure_and_capture, make_deps
from tests.unit.test_pipeline_inprocess import CONFIG as ONE_CONNECTION
from tests.unit.test_pipeline_inprocess import drain
from workers import keys, ports
from workers.catalog_files import sweep_fanout_snapshots
from workers.config import get_settings
from workers.control import cancel_run
from workers.entitlements import parse_filter
from workers.errors import ConfigError
from workers.ledger import fanout_document, run_document
from workers.ledger.fanouts import parts_done
from workers.providers.fake import FakeProvider
from workers.providers.installed import get_mapper, provider_names

CONFIG = (
    ONE_CONNECTION
    + """
[connections.acme-licensed]
provider = "kombo"
base_url = "http://127.0.0.1:9/kombo/v1"
api_key = "env:ACME_KEY"
integration_id = "sandbox:y"
batch_size = 100
requests_per_minute = 600000

[connections.acme-licensed.filter]
tags = ["even"]

[groups]
all = ["acme*"]
"""
)


@pytest.fixture
def setup(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[list[str], list[dict[str, str]]]:
    sent = configure_and_capture(monkeypatch, tmp_path, CONFIG, {"ACME_KEY": "secret"})
    monkeypatch.setenv("COURSESYNC_CATALOG_DIR", str(tmp_path / "catalogs"))
    get_settings.cache_clear()
    parts: list[dict[str, str]] = []
    submit = ports.installed()

    def send(name: str, kwargs: dict[str, Any], options: dict[str, Any]) -> None:
        if name == ports.FANOUT_PART:
            parts.append(kwargs)
        else:
            submit(name, kwargs, options)

    monkeypatch.setattr(ports, "_installed", [send])
    return sent, parts


def catalog(n: int, changed: frozenset[int] = frozenset()) -> list[dict[str, Any]]:
    return [{"id": f"c{i}", "title": f"T{i}" + ("!" if i in changed else ""), "url": "https://a.example/x",
             "tags": ["even" if i % 2 == 0 else "odd"]} for i in range(n)] + [{"id": "bad", "title": ""}]  # fmt: skip


def run_fanout(
    r: redis.Redis, raw_r: redis.Redis, setup: Any, items: list[dict[str, Any]], **kw: Any
) -> dict[str, Any]:
    sent, parts = setup
    fanout_id = start_fanout("@all", items, r=r)
    deps = make_deps(r, raw_r, FakeProvider())
    for kwargs in parts:
        part.send_part(kwargs["fanout_id"], kwargs["run_id"], r=r)
    parts.clear()
    doc = fanout_document(r, fanout_id)
    assert doc is not None
    for run in doc["runs"]:
        drain(deps, sent, run["run_id"])
    final = fanout_document(r, fanout_id)
    assert final is not None
    return final


def counts(doc: dict[str, Any], connection: str) -> tuple[int, ...]:
    c = next(run for run in doc["runs"] if run["connection"] == connection)["counts"]
    return c["total"], c["invalid"], c["excluded"], c["unchanged"], c["succeeded"], c["failed"], c["pending"]


def test_a_fanout_diffs_each_connection_by_fingerprints_and_reads_only_changed_buckets(
    r: redis.Redis, raw_r: redis.Redis, setup: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = run_fanout(r, raw_r, setup, catalog(300))
    assert counts(first, "acme") == (301, 1, 0, 0, 300, 0, 0)
    assert counts(first, "acme-licensed") == (301, 1, 150, 0, 150, 0, 0)
    assert not fanout_dir(get_settings().catalog_dir, first["fanout_id"]).exists()  # the last part removed it
    read: list[int] = []
    real = part._held_digests

    def spy(producer: Any, buckets: list[int], entries: Any, *, full: bool) -> Any:
        read.extend(buckets)
        return real(producer, buckets, entries, full=full)

    monkeypatch.setattr(part, "_held_digests", spy)
    # An unchanged resync reads no digest at all
    again = run_fanout(r, raw_r, setup, catalog(300))
    assert counts(again, "acme") == (301, 1, 0, 300, 0, 0, 0) and read == []
    # Two changed items: only their buckets are read, only they are sent (one licensed)
    changed = run_fanout(r, raw_r, setup, catalog(300, frozenset({4, 7})))
    assert counts(changed, "acme") == (301, 1, 0, 298, 2, 0, 0)
    assert counts(changed, "acme-licensed") == (301, 1, 150, 149, 1, 0, 0)
    assert sorted(read) == sorted([keys.item_bucket("c4"), keys.item_bucket("c7"), keys.item_bucket("c4")])
    # A target whose fingerprints were lost (or never kept) is rebuilt and diffs the same
    for run in changed["runs"]:
        doc = run_document(r, run["run_id"])
        assert doc is not None
        r.delete(keys.bucket_fingerprints(doc["target"]))
    assert counts(run_fanout(r, raw_r, setup, catalog(300, frozenset({4, 7}))), "acme") == (
        301,
        1,
        0,
        300,
        0,
        0,
        0,
    )


def test_connections_are_named_by_list_glob_and_group(setup: Any) -> None:
    assert resolve_connections("acme,acme-licensed,acme") == ["acme", "acme-licensed"]
    assert resolve_connections("acme-*") == ["acme-licensed"]
    assert resolve_connections("@all") == ["acme", "acme-licensed"]
    with pytest.raises(ConfigError, match="unknown group '@none'"):
        resolve_connections("@none")
    with pytest.raises(ConfigError, match="'zz-\\*' matches no connection"):
        resolve_connections("zz-*")
    with pytest.raises(ConfigError, match="unknown connection 'nope'"):
        resolve_connections(["acme", "nope"])


def test_an_entitlement_filter_matches_every_key_it_names_and_any_value_within() -> None:
    f = parse_filter("connections.x", {"tags": ["a", "b"], "languages": ["en", "de-DE"]})
    assert f.allows(Course("1", "t", "https://a.example", tags=("b",), languages=("en-GB",)))
    assert not f.allows(Course("1", "t", "https://a.example", tags=("b",), languages=("de-AT",)))
    assert not f.allows(Course("1", "t", "https://a.example", tags=("c",), languages=("en",)))
    assert parse_filter("c", {"content_types": ["video"]}).allows(Course("1", "t", "u", content_type="video"))
    assert not parse_filter("c", {"ids": ["2"]}).allows(Course("1", "t", "u"))
    for table, message in [
        ({"tag": ["a"]}, r"connections.x.filter: unknown key\(s\) \['tag'\]"),
        ({"tags": "a"}, "connections.x.filter.tags must be a non-empty list of strings"),
        ({"languages": ["english"]}, "'english' is not a language tag"),
        ({"content_types": ["movie"]}, "'movie' is not one of"),
        ({}, "names nothing to filter by"),
    ]:
        with pytest.raises(ConfigError, match=message):
            parse_filter("connections.x", table)


def test_every_option_a_mapping_reads_is_declared_so_fanouts_map_once_per_distinct_value() -> None:
    # A mapping that read an undeclared option would give two connections the one payload of the
    # first: the declaration is what a fan-out groups connections by.
    for provider in provider_names():
        mapper = get_mapper(provider)
        source = Path(__import__(mapper.to_payload.__module__, fromlist=["_"]).__file__ or "").read_text()
        read = set(re.findall(r"options(?:\.get\(|\[)\"([a-z_]+)\"", source))
        assert read <= set(mapper.reads_options), (provider, read - set(mapper.reads_options))


def test_a_run_cancelled_before_its_part_and_a_part_delivered_twice_still_let_the_snapshot_go(
    r: redis.Redis, setup: Any
) -> None:
    _, parts = setup
    fanout_id = start_fanout("@all", catalog(20), r=r)
    directory = fanout_dir(get_settings().catalog_dir, fanout_id)
    first, second = parts
    # Given the first run cancelled before any worker took its part
    cancel_run(r, first["run_id"], get_settings())
    part.send_part(first["fanout_id"], first["run_id"], r=r)
    assert directory.exists()
    # When the second part is delivered twice
    part.send_part(second["fanout_id"], second["run_id"], r=r)
    part.send_part(second["fanout_id"], second["run_id"], r=r)
    # Then both runs count once, and the last removed the snapshot
    assert parts_done(r, fanout_id) == 2 and not directory.exists()
    doc = fanout_document(r, fanout_id)
    assert doc is not None and {run["state"] for run in doc["runs"]} == {"cancelled", "queued"}


def test_the_cleanup_removes_snapshots_of_ended_or_forgotten_fanouts_and_keeps_running_ones(
    r: redis.Redis, setup: Any
) -> None:
    catalog_dir = get_settings().catalog_dir
    fanout_id = start_fanout("@all", catalog(20), r=r)
    directory = fanout_dir(catalog_dir, fanout_id)
    forgotten = fanout_dir(catalog_dir, "f_20200101T000000_abcdef")
    forgotten.mkdir(parents=True)
    other = Path(catalog_dir) / "fanouts" / "notes"
    other.mkdir()
    # Given parts that never ran (their worker died): the fan-out is running, its snapshot stays
    assert sweep_fanout_snapshots(r, catalog_dir, min_age_s=0) == ["f_20200101T000000_abcdef"]
    assert directory.exists() and not forgotten.exists() and other.exists()
    # When its runs end without their parts (as the doctor ends those of a dead reader)
    doc = fanout_document(r, fanout_id)
    assert doc is not None
    for run in doc["runs"]:
        end_unstarted(r, get_settings(), run["run_id"], run["connection"], "the reader died")
    # Then a recent snapshot is left alone, an older one goes
    assert sweep_fanout_snapshots(r, catalog_dir) == []
    assert sweep_fanout_snapshots(r, catalog_dir, min_age_s=0) == [fanout_id]
    assert not directory.exists() and other.exists()
