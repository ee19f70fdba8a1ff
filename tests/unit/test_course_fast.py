"""The fast path never accepts what marshmallow rejects, and builds the very same Course.

Both of its ways in are checked: parsed items (``fast_course``: CSV rows, JSON arrays) and JSON
lines decoded straight from their bytes (``decode_course``), against marshmallow on the value
the dict path parses from the same bytes.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coursesync.sample import iter_valid, sample_items
from producers.prepare import validate_record
from producers.records import Record, parse_json_line
from schemas.course import Course, _http_url, validate_item
from schemas.course_fast import _DATE_TIME, _URL, decode_course, fast_course, validate_fast

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
    for line in lines_of(raw):
        agree_line(line)


def lines_of(raw: Any) -> list[bytes]:
    """The JSON texts of ``raw``: compact UTF-8, and ASCII with ``\\uXXXX`` escapes."""
    try:
        return [orjson.dumps(raw), json.dumps(raw).encode()]
    except (TypeError, ValueError):  # bytes and the like: no JSON text
        return []


def agree_line(line: bytes) -> None:
    fast = decode_course(line)
    data, error = parse_json_line(line)
    if fast is not None:
        assert error is None, f"fast path accepted a line the parser refuses: {line!r}"
        slow = validate_item(data)
        assert isinstance(slow, Course), f"fast path accepted what marshmallow rejects: {line!r} -> {slow}"
        assert fast == slow, f"different Course for {line!r}"
    # The seam the producer uses: the same Course, or the same errors, either way in.
    assert validate_record(Record(7, line=line)) == validate_record(Record(7, data, error))


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


def with_title(title: bytes) -> bytes:
    return b'{"id":"a","url":"https://a.example","title":' + title + b"}"


@pytest.mark.parametrize(
    "line",
    [
        with_title(b'"x\\u0007y"'),  # an escaped control character
        with_title(b'"x\\by"'),
        with_title(b'"x\\fy"'),
        with_title(b'"x\x7fy"'),  # DEL is a valid byte in a JSON string
        with_title(b'"\\ud83d"'),  # an unpaired surrogate
        with_title(b'"\\ud83d\\ude00"'),  # a pair: an emoji
        with_title(b'"\\u00e9t\\u00e9"'),
        with_title(b'"\\\\u0007"'),  # an escaped backslash, then text
        with_title(b'"\xff"'),  # not UTF-8
        with_title(b'"\xed\xa0\xbd"'),  # UTF-8 of a surrogate
        with_title(b'"   "'),
        with_title(b'"\\u00a0\\u2003"'),  # Unicode spaces only
        with_title(b'"\\u001c"'),  # a control character Python counts as whitespace
        with_title(b'"T", "title": "   "'),  # duplicate keys: the last one wins, as in orjson
        with_title(b'"   ", "title": "T"'),
        with_title(b'"T"').replace(b"}", b',"duration_minutes": 123456789012345678901234567890}'),
        with_title(b'"T"').replace(b"}", b',"duration_minutes": 90.0}'),
        with_title(b'"T"').replace(b"}", b',"duration_minutes": true}'),
        with_title(b'"T"').replace(b"}", b',"extra": {"kombo": {"n": 123456789012345678901234567890}}}'),
        with_title(b'"T"').replace(b"}", b',"extra": {"kombo": {"n": 1e400}}}'),
        with_title(b'"T"').replace(b"}", b',"extra": {"kombo": {"n": 1, "n": 2}}}'),
        with_title(b'"T"').replace(b"}", b',"extra": {"kombo": {"a": [1, {"b": null}]}, "stackone": {}}}'),
        with_title(b'"T"').replace(b"}", b',"extra": {"moodle": {}}}'),
        with_title(b'"T"').replace(b"}", b',"updated_at": "2024-02-29T10:00:00Z"}'),
        with_title(b'"T"').replace(b"}", b',"updated_at": "2025-02-29T10:00:00Z"}'),
        with_title(b'"T"').replace(b"}", b',"updated_at": "2026-04-31"}'),
        with_title(b'"T"').replace(b"}", b',"active": 1}'),
        with_title(b'"T"').replace(b"}", b',"description": null}'),
        with_title(b'"T"').replace(b"}", b',"url": "https://a.example\\n"}'),
        with_title(b'"T"').replace(b"}", b',"languages": ["en\\n"]}'),
        with_title(b'"T"') + b" trailing",
        b"\xef\xbb\xbf" + with_title(b'"T"'),  # a BOM (the reader strips it from line 1 only)
        b'[{"id": "a"}]',
        b'"text"',
        b"NaN",
        b'{"id": "a", "title": "T", "url": "https://a.example", "tags": ["x", NaN]}',
    ],
)
def test_odd_json_texts_decode_as_the_dict_path_decides(line: bytes) -> None:
    agree_line(line)


@settings(max_examples=300, deadline=None)
@given(st.from_regex(_DATE_TIME))
def test_every_date_time_the_fast_path_takes_is_one_fromisoformat_takes(text: str) -> None:
    datetime.fromisoformat(text)


@settings(max_examples=300, deadline=None)
@given(st.from_regex(_URL))
def test_every_url_the_fast_path_takes_is_one_marshmallow_takes(url: str) -> None:
    _http_url(url)


ODD_TEXT = st.one_of(
    st.text(max_size=12),
    st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=6),
    st.sampled_from(["", " ", "\u00a0", "\x7f", "\x0b", "\x1c", "\ud800", "en", "course", "2026-01-31"]),
)


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(FIELDS), text=ODD_TEXT, wrap=st.booleans())
def test_any_text_in_any_field_makes_neither_way_in_disagree(field: str, text: str, wrap: bool) -> None:
    base = next(iter_valid(1))
    value: Any = [text] if wrap else text
    if field == "url" and not wrap:
        value = "https://a.example/" + text
    agree({**base, field: value})


def test_the_struct_keeps_every_field_of_course_in_its_order() -> None:
    # A Course is built from the Struct's values by position.
    from schemas.course_fast import _DICT_COURSE

    assert _DICT_COURSE.__struct_fields__ == tuple(Course.__dataclass_fields__)
    assert re.compile(_DATE_TIME).pattern.startswith("\\A")
