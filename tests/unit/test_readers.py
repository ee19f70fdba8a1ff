"""Streaming readers: one bad record never hides the others; whole-file problems are named."""

from __future__ import annotations

import io
import json

import pytest

import producers.readers as readers
from producers.readers import read_csv, read_json_array, read_jsonl
from producers.sources import detect_format
from workers.errors import CatalogError


def test_jsonl_reports_a_malformed_line_and_keeps_reading() -> None:
    data = b'{"id":"a"}\n{"id": "b",\n\n{"id":"c"}\n'
    recs = list(read_jsonl(io.BytesIO(data)))
    assert [r.position for r in recs] == [1, 2, 4]
    assert recs[0].data == {"id": "a"} and recs[2].data == {"id": "c"}
    assert recs[1].error is not None and "malformed JSON" in recs[1].error


def test_jsonl_strips_a_byte_order_mark_and_flags_non_utf8_lines() -> None:
    data = b'\xef\xbb\xbf{"id":"a"}\n{"id":"\xff"}\n{"id":"c"}\n'
    recs = list(read_jsonl(io.BytesIO(data)))
    assert recs[0].data == {"id": "a"}
    assert recs[1].error is not None and "UTF-8" in recs[1].error and "0xff" in recs[1].error
    assert recs[2].data == {"id": "c"}


def test_json_array_is_streamed_across_chunk_boundaries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readers, "_CHUNK_BYTES", 7)
    items = [{"id": f"i{n}", "title": "ü" * n} for n in range(50)]
    recs = list(read_json_array(io.BytesIO(("\ufeff" + json.dumps(items, indent=1)).encode())))
    assert [r.data for r in recs] == items
    assert recs[-1].position == 50


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('{"id": 1}', "JSON array"),
        ('[{"id": 1}, {"id": 2}', "missing ']'"),
        ('[{"id": 1} {"id": 2}]', "expected ','"),
        ('[{"id": 1}, {"id": "tw', "item 2: the file ends inside it"),
        ('[{"id": 1}, ' + "[" * 100_000, "item 2: malformed JSON: nested too deeply"),
        (
            '[{"id": 1}, {"n": ' + "9" * 5000 + "}]",
            "item 2: malformed JSON: a number has more than 4300 digits",
        ),
    ],
)
def test_json_array_problems_name_the_place(text: str, fragment: str) -> None:
    with pytest.raises(CatalogError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        list(read_json_array(io.BytesIO(text.encode())))


def test_csv_converts_lists_numbers_booleans_and_json_cells() -> None:
    data = (
        "id,title,url,languages,duration_minutes,active,extra\n"
        'c1,T,https://a.example,en;de-CH,45,false,"{""kombo"": {}}"\n'
        "c2,T2,https://b.example,,,,\n"
    )
    recs = list(read_csv(io.BytesIO(data.encode())))
    assert recs[0].data == {
        "id": "c1", "title": "T", "url": "https://a.example", "languages": ["en", "de-CH"],
        "duration_minutes": 45, "active": False, "extra": {"kombo": {}},
    }  # fmt: skip
    assert recs[1].data == {"id": "c2", "title": "T2", "url": "https://b.example"}


def test_csv_with_an_unknown_or_missing_column_is_a_catalog_error() -> None:
    with pytest.raises(CatalogError, match="unknown column"):
        list(read_csv(io.BytesIO(b"id,titel,url\n1,x,https://a.example\n")))
    with pytest.raises(CatalogError, match="lacks required"):
        list(read_csv(io.BytesIO(b"id,url\n1,https://a.example\n")))


def test_csv_row_with_wrong_cell_count_or_bad_bytes_is_one_invalid_record() -> None:
    data = b"id,title,url\na,T,https://a.example,extra\nb,T\xff,https://b.example\nc,T,https://c.example\n"
    recs = list(read_csv(io.BytesIO(data)))
    assert recs[0].error is not None and "4 cells" in recs[0].error
    assert recs[1].error == "title: not valid UTF-8" and recs[1].data == {"id": "b"}
    assert recs[2].data == {"id": "c", "title": "T", "url": "https://c.example"}


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.jsonl", "jsonl"),
        ("a.NDJSON", "jsonl"),
        ("a.json", "json"),
        ("x/a.csv.gz", "csv"),
        ("https://h.example/c.jsonl?x=1", "jsonl"),
    ],
)
def test_format_follows_the_extension(name: str, fmt: str) -> None:
    assert detect_format(name) == fmt


def test_unknown_extension_asks_for_format() -> None:
    with pytest.raises(CatalogError, match="--format"):
        detect_format("catalog.txt")


def test_jsonl_lines_python_cannot_parse_are_invalid_records_not_crashes() -> None:
    # Given lines nested deeper than Python's parser recurses, and a number of 5000 digits
    data = b"[" * 100_000 + b'\n{"id": "n", "duration_minutes": ' + b"9" * 5000 + b'}\n{"id": "ok"}\n'
    recs = list(read_jsonl(io.BytesIO(data)))
    # Then each is one invalid record with its reason, and the next line is read
    assert [r.error for r in recs] == [
        "malformed JSON: nested too deeply",
        "malformed JSON: a number has more than 4300 digits",
        None,
    ]
    assert recs[2].data == {"id": "ok"}


def test_a_json_array_with_bad_bytes_names_their_offset() -> None:
    with pytest.raises(CatalogError, match=r"not valid UTF-8 \(byte 0xe9 at offset 23\)"):
        list(read_json_array(io.BytesIO(b'[{"id": 1}, {"title": "\xe9"}]')))


def test_csv_durations_int_cannot_read_stay_text_for_validation_to_refuse() -> None:
    data = "id,title,url,duration_minutes\na,T,https://a.example,\u00b2\nb,T,https://b.example,90\n"
    recs = list(read_csv(io.BytesIO(data.encode())))
    assert recs[0].data["duration_minutes"] == "\u00b2" and recs[1].data["duration_minutes"] == 90


def test_a_csv_without_a_header_row_says_so() -> None:
    with pytest.raises(CatalogError, match="has no header row"):
        list(read_csv(io.BytesIO(b"c1,A course,https://a.example/1\n")))
