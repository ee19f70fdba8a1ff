"""``extra.<provider>`` is checked against the provider's own schema: one bad value makes one
item invalid, never a whole bulk request the provider would refuse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis

from producers.sync import SyncOptions, start_run
from schemas.course import Course, validate_item
from schemas.vendored import describe_errors
from tests.unit.helpers import capture_submissions, make_deps
from tests.unit.test_pipeline_inprocess import CONFIG, drain
from workers import keys
from workers.ledger import item_errors, load_items
from workers.providers.fake import FakeProvider
from workers.providers.kombo import mapping as kombo
from workers.providers.mapping import MappingError


def course(**fields: Any) -> Course:
    result = validate_item({"id": "c-1", "title": "T", "url": "https://learn.example/c-1", **fields})
    assert isinstance(result, Course), result
    return result


@pytest.mark.parametrize(
    ("extra", "field", "says"),
    [
        ({"duration": -5}, "extra.kombo.duration", "-5 is less than or equal to the minimum of 0"),
        ({"duration": "90"}, "extra.kombo.duration", "'90' is not of type 'integer', 'null'"),
        ({"type": "INTERNAL"}, "extra.kombo.type", "'EXTERNAL' was expected"),
        ({"languages": ["english"]}, "extra.kombo.languages[0]", "does not match"),
        ({"title": None}, "extra.kombo.title", "None is not of type 'string'"),
    ],
)
def test_an_extra_kombo_value_kombo_would_refuse_is_a_mapping_error_naming_the_field(
    extra: dict[str, Any], field: str, says: str
) -> None:
    with pytest.raises(MappingError) as info:
        kombo.MAPPER.prepare(course(extra={"kombo": extra}), {})
    assert info.value.field == field and says in info.value.message


def test_a_valid_extra_kombo_is_merged_into_the_course() -> None:
    op, payload = kombo.MAPPER.prepare(course(extra={"kombo": {"duration": 45, "vendor_field": "x"}}), {})
    assert op == "upsert" and payload["course"]["duration"] == 45 and payload["course"]["vendor_field"] == "x"


def test_one_bad_extra_kombo_is_one_invalid_item_and_its_batch_is_one_kombo_takes(
    r: redis.Redis, raw_r: redis.Redis, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "coursesync.toml"
    path.write_text(CONFIG)
    monkeypatch.setenv("COURSESYNC_CONFIG", str(path))
    monkeypatch.setenv("ACME_KEY", "secret")
    sent = capture_submissions(monkeypatch)
    # Given 50 items, one of which gives Kombo a negative duration through extra.kombo
    items: list[dict[str, Any]] = [
        {"id": f"c{i}", "title": f"T{i}", "url": "https://a.example", "extra": {"kombo": {"duration": 30}}}
        for i in range(50)
    ]
    items[7]["extra"] = {"kombo": {"duration": -5}}
    deps = make_deps(r, raw_r, FakeProvider())
    run_id = start_run("acme", items, SyncOptions(), r=r, settings=deps.settings)
    # Then the batch holds the 49 others and is a request Kombo's schema accepts
    (batch_id,) = r.lrange(keys.run_batches(run_id), 0, -1)
    queued = load_items(raw_r, batch_id)
    assert queued is not None and len(queued) == 49
    assert describe_errors(
        "kombo", "PostLmsCoursesBulkRequestBody", {"items": [i.payload for i in queued]}
    ) == ([], 0)
    # And the run ends with that one item invalid, naming the field and the reason
    doc = drain(deps, sent, run_id)
    assert doc["counts"]["invalid"] == 1 and doc["counts"]["succeeded"] == 49
    (error,) = item_errors(r, run_id)
    assert error["item_id"] == "c7" and error["field"] == "extra.kombo.duration"
    assert error["message"] == "extra.kombo.duration: -5 is less than or equal to the minimum of 0"
