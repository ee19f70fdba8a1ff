"""The canonical course schema: valid items load, every kind of bad item says where and why."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.course import Course, FieldError, validate_item


def valid(**over: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": "c-1",
        "title": "Intro to SQL",
        "url": "https://learn.example/c/1",
        "description": "Line one.\nLine two.",
        "duration_minutes": 45,
        "languages": ["en", "de-CH"],
        "content_type": "video",
        "difficulty": "beginner",
        "tags": ["sql"],
        "translations": [{"language": "fr", "title": "Intro SQL"}],
        "active": True,
        "updated_at": "2026-01-31T12:00:00Z",
        "extra": {"kombo": {"description": "x"}},
    }
    item.update(over)
    return item


def errors_of(item: Any) -> dict[str, str]:
    result = validate_item(item)
    assert isinstance(result, list), f"expected errors, got {result!r}"
    assert all(isinstance(e, FieldError) for e in result)
    return {e.field: e.message for e in result}


def test_a_complete_valid_item_loads_into_a_course() -> None:
    course = validate_item(valid())
    assert isinstance(course, Course)
    assert course.languages == ("en", "de-CH")
    assert course.translations[0].language == "fr"
    assert course.extra == {"kombo": {"description": "x"}}


def test_only_id_title_and_url_are_required() -> None:
    course = validate_item({"id": "x", "title": "T", "url": "http://a.example"})
    assert isinstance(course, Course)
    assert course.content_type == "course" and course.active is True


@pytest.mark.parametrize(
    ("change", "field", "fragment"),
    [
        ({"title": ""}, "title", "1 to 500"),
        ({"title": "x" * 501}, "title", "1 to 500"),
        ({"url": "javascript:alert(1)"}, "url", "absolute http(s) URL"),
        ({"url": "/relative/path"}, "url", "absolute http(s) URL"),
        ({"thumbnail_url": "ftp://a.example/x.png"}, "thumbnail_url", "http(s)"),
        ({"duration_minutes": -5}, "duration_minutes", "between 1 and 100000"),
        ({"duration_minutes": 10**9}, "duration_minutes", "between 1 and 100000"),
        ({"duration_minutes": "45"}, "duration_minutes", "integer"),
        ({"languages": ["english"]}, "languages[0]", "BCP 47"),
        ({"languages": ["en_GB"]}, "languages[0]", "BCP 47"),
        ({"content_type": "hologram"}, "content_type", "one of"),
        ({"difficulty": "easy"}, "difficulty", "one of"),
        ({"tags": "a;b"}, "tags", "list"),
        ({"active": "yes"}, "active", "boolean"),
        ({"updated_at": "yesterday"}, "updated_at", "ISO 8601"),
        ({"title": "bell\x07"}, "title", "U+0007"),
        ({"title": "cut \ud83d emoji"}, "title", "unpaired surrogate U+D83D"),
        ({"description": "d" * 100_001}, "description", "0 to 100000"),
        ({"titel": "typo"}, "titel", "Unknown field"),
        ({"extra": {"moodle": {}}}, "extra", "moodle"),
        (
            {"translations": [{"language": "fr", "name": "x"}]},
            "translations[0].name",
            "Unknown field",
        ),
        ({"id": ""}, "id", "1 to 255"),
        ({"id": "   "}, "id", "blank"),
        ({"title": " \t "}, "title", "blank"),
        ({"id": 42}, "id", "string"),
    ],
)
def test_each_bad_field_is_reported_with_its_name_and_reason(
    change: dict[str, Any], field: str, fragment: str
) -> None:
    errs = errors_of(valid(**change))
    matching = {f: m for f, m in errs.items() if f.startswith(field)}
    assert matching, f"no error for {field}: {errs}"
    assert any(fragment.lower() in m.lower() for m in matching.values()), matching


def test_every_reason_is_reported_not_just_the_first() -> None:
    errs = errors_of({"id": "x", "url": "nope", "duration_minutes": 0, "foo": 1})
    assert {"title", "url", "duration_minutes", "foo"} <= set(errs)


def test_a_non_object_is_invalid_with_a_clear_reason() -> None:
    assert errors_of(["not", "an", "object"]) == {"(item)": "must be an object, not list"}
