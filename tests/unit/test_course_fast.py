"""The fast path never accepts what marshmallow rejects, and builds the very same Course."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from coursesync.sample import iter_valid, sample_items
from schemas.course import Course, validate_item
from schemas.course_fast import fast_course, validate_fast

#: Values that are wrong, odd or on a boundary somewhere; each is tried in every field.
ODD_VALUES: list[Any] = [
    None, True, False, 0, -1, 1, 100_000, 100_001, 45.0, "", " ", "x", "x" * 255, "x" * 256,
    "x" * 500, "x" * 501, "   ", " \t", "a\x07b", "tab\there", "line\nbreak", "del\x7f", "é", "45",
    "en", "en-GB", "en_GB", "english", "EN", "zh-Hant", "course", "expert", "hologram",
    "https://a.example/x", "http://a.example", "HTTP://A.EXAMPLE", "https://a.example:8080/p?q#f",
    "http://[::1", "http://[::1]/x", "https://user@a.example/", "https://a b.example", "ftp://a.example",
    "javascript:alert(1)", "//a.example/x", "https://", "2026-01-31T12:00:00Z", "2026-13-01", "yesterday",
    [], ["en"], ["en", "xx-YY"], ["a", ""], ["a", 1], [None], {}, {"kombo": {}}, {"moodle": {}},
    {"kombo": {"a": 1}}, {"kombo": []}, [{"language": "fr", "title": "T"}], [{"language": "fr", "x": 1}],
    [{"title": "no language"}], [{"language": "fr", "title": ""}], ("tuple",), b"bytes",
]  # fmt: skip

FIELDS = [
    "id", "title", "url", "description", "short_description", "mobile_url", "thumbnail_url",
    "duration_minutes", "languages", "content_type", "difficulty", "tags", "skills", "categories",
    "translations", "source", "active", "updated_at", "extra",
]  # fmt: skip


def agree(raw: Any) -> None:
    fast = fast_course(raw)
    slow = validate_item(copy.deepcopy(raw))
    if fast is not None:
        assert isinstance(slow, Course), f"fast path accepted what marshmallow rejects: {raw!r} -> {slow}"
        assert fast == slow, f"different Course for {raw!r}"
    assert validate_fast(raw) == slow


def test_every_valid_sample_item_takes_the_fast_path_with_the_same_result() -> None:
    for raw in iter_valid(2000, seed=3):
        assert fast_course(raw) is not None, raw
        agree(raw)


@pytest.mark.parametrize("field", FIELDS)
def test_no_odd_value_in_any_field_makes_the_two_disagree(field: str) -> None:
    base = next(iter_valid(1))
    for value in ODD_VALUES:
        agree({**base, field: value})
    without = dict(base)
    without.pop(field, None)
    agree(without)


def test_the_sample_with_its_broken_items_agrees_everywhere() -> None:
    records, _ = sample_items(2000, seed=11)
    for raw in records:
        agree(raw)
    agree({**next(iter_valid(1)), "unknown": 1})
    agree(["not", "a", "dict"])
