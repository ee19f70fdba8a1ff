"""Every body the StackOne client sends validates against StackOne's own schema (vendored), the
mapping says what StackOne's enums can express, and the sandbox refuses what StackOne would."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import fakeredis
import httpx
import pytest

from coursesync.sample import sample_items
from sandbox import SandboxServer
from schemas.course import Course, validate_item
from schemas.vendored import validator
from workers.connections import Connection
from workers.errors import ProviderRejected
from workers.providers.base import OutboundItem
from workers.providers.installed import get_plugin
from workers.providers.mapping import MappingError, content_digest
from workers.providers.stackone.client import StackOneProvider
from workers.providers.stackone.mapping import (
    CONTENT_TYPES,
    DEFAULT_REGION,
    LOCALES,
    MAPPER,
    iso_duration,
    locale,
)


def course(**fields: Any) -> Course:
    raw = {"id": "c-1", "title": "Title", "url": "https://learn.example/c-1", **fields}
    found = validate_item(raw)
    assert isinstance(found, Course), found
    return found


def outbound(c: Course) -> OutboundItem:
    op, payload = MAPPER.prepare(c, {})
    return OutboundItem(c.id, content_digest(MAPPER, op, payload), payload)


def sent_bodies(batches: list[list[OutboundItem]], base_url: str = "http://stackone.test") -> list[Any]:
    """The request bodies the real client produces for ``batches``."""
    bodies: list[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies.append(body)
        return httpx.Response(202, json={"statusCode": 202, "errors": [[] for _ in body["items"]]})

    conn = Connection(
        "c", "stackone", base_url, {"api_key": "k", "account_id": "a"}, None, get_plugin("stackone").spec
    )
    client = StackOneProvider(
        conn, httpx.Client(transport=httpx.MockTransport(handler)), fakeredis.FakeRedis()
    )
    for batch in batches:
        client.submit("upsert", batch)
    return bodies


def schema_errors(body: Any) -> list[str]:
    return [
        f"{list(e.absolute_path)}: {e.message[:200]}"
        for e in validator("stackone", "BatchUpsertContentRequest").iter_errors(body)
    ]


EDGE_CASES = [
    course(),  # no optional field at all
    course(active=False, languages=["de-CH"]),
    course(
        description="Long",
        short_description="Short",
        mobile_url="https://m.learn.example/c-1",
        thumbnail_url="https://cdn.example/c-1.png",
        duration_minutes=100_000,
        languages=["en", "en-GB", "pt-BR", "bs-ME", "ja", "zh-TW"],
        content_type="other",
        tags=["a", "b"],
        skills=["SQL"],
        categories=["Engineering"],
        translations=[
            {"language": "fr", "title": "Titre", "description": "Desc"},
            {"language": "de-AT", "title": "Titel"},
            {"language": "es"},
        ],
        updated_at="2026-03-01T12:00:00+02:00",
        extra={
            "stackone": {
                "additional_data": [{"id": "level", "value": "L1"}, {"id": "paths", "value": ["a", "b"]}],
                "unified_custom_fields": {"cost_center": "42"},
                "authors": [{"name": "Ada"}],
                "order": 3,
            },
            "kombo": {"ignored": True},
        },
    ),
    *(course(content_type=t) for t in CONTENT_TYPES),
]


def test_every_body_from_500_sample_items_and_edge_cases_validates_against_stackones_schema() -> None:
    records, _ = sample_items(500, prefix="contract")
    courses = [c for c in map(validate_item, records) if isinstance(c, Course)]
    assert len(courses) > 450
    out = [outbound(c) for c in [*courses, *EDGE_CASES]]
    bodies = sent_bodies([out[i : i + 100] for i in range(0, len(out), 100)])
    assert sum(len(b["items"]) for b in bodies) == len(out)
    for body in bodies:
        assert schema_errors(body) == []


def test_the_full_edge_case_maps_every_field() -> None:
    payload = outbound(EDGE_CASES[2]).payload
    assert payload["external_reference"] == "c-1"
    assert payload["content_url"] == "https://learn.example/c-1"
    assert payload["mobile_launch_content_url"] == "https://m.learn.example/c-1"
    assert payload["cover_url"] == "https://cdn.example/c-1.png"
    assert payload["short_description"] == "Short"
    assert payload["duration"] == "PT1666H40M"
    assert payload["languages"] == [
        {"value": v} for v in ("en_US", "en_GB", "pt_BR", "bs-ME", "ja_JP", "zh_TW")
    ]
    assert payload["content_type"] == {"value": "unmapped_value", "source_value": "other"}
    assert payload["localizations"] == [
        {"title": "Titre", "description": "Desc", "language": {"value": "fr_FR"}},
        {"title": "Titel", "language": {"value": "de_AT"}},
        {"language": {"value": "es_ES"}},
    ]
    assert payload["skills"] == [{"name": "SQL"}] and payload["categories"] == [{"name": "Engineering"}]
    assert payload["tags"] == ["a", "b"]
    assert payload["updated_at"] == "2026-03-01T10:00:00.000Z"
    assert payload["unified_custom_fields"] == {"cost_center": "42"} and payload["order"] == 3
    assert payload["additional_data"][1] == {"id": "paths", "value": ["a", "b"]}
    assert payload["active"] is True and "ignored" not in payload


def test_an_inactive_course_is_an_upsert_with_active_false() -> None:
    # StackOne has no deactivate call; the item goes out whole, as no partial updates exist.
    op, payload = MAPPER.prepare(course(active=False, description="D"), {})
    assert op == "upsert" and payload["active"] is False and payload["description"] == "D"
    assert MAPPER.to_deactivation is None


@pytest.mark.parametrize(
    ("minutes", "expected"), [(1, "PT1M"), (45, "PT45M"), (60, "PT1H"), (90, "PT1H30M"), (480, "PT8H")]
)
def test_durations_are_iso_8601(minutes: int, expected: str) -> None:
    assert iso_duration(minutes) == expected


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ("course", "course"),
        ("video", "video"),
        ("podcast", "audio"),
        ("webinar", "event"),
        ("assessment", "quiz"),
    ],
)
def test_content_types_map_to_stackones_enum(ours: str, theirs: str) -> None:
    assert outbound(course(content_type=ours)).payload["content_type"] == {"value": theirs}


def test_bare_languages_get_a_likely_region_and_every_region_table_entry_exists() -> None:
    assert (locale("en", "f"), locale("pt", "f"), locale("zh", "f"), locale("fi", "f")) == (
        "en_US", "pt_BR", "zh_CN", "fi_FI",
    )  # fmt: skip
    assert all(f"{lang}_{region}" in LOCALES for lang, region in DEFAULT_REGION.items())
    # A language StackOne lists with several regions needs an explicit choice, never an
    # accidental alphabetical one.
    regions: dict[str, int] = {}
    for value in LOCALES:
        lang = re.split("[_-]", value)[0]
        regions[lang] = regions.get(lang, 0) + 1
    assert {lang for lang, n in regions.items() if n > 1} == set(DEFAULT_REGION)


@pytest.mark.parametrize(
    ("fields", "field", "fragment"),
    [
        ({"languages": ["en", "eu"]}, "languages[1]", "no locale for the language 'eu'"),
        ({"languages": ["en-DE"]}, "languages[0]", "no locale for 'en-DE'; use 'en' (sent as en_US)"),
        ({"translations": [{"language": "cy", "title": "T"}]}, "translations[0].language", "'cy'"),
        (
            {"extra": {"stackone": {"external_reference": "x"}}},
            "extra.stackone.external_reference",
            "upsert key",
        ),
        (
            {"extra": {"stackone": {"content_type": {"value": "podcast"}}}},
            "extra.stackone.content_type.value",
            "'podcast' is not one of",
        ),
        ({"extra": {"stackone": {"tags": "a"}}}, "extra.stackone.tags", "is not of type 'array'"),
    ],
)
def test_what_stackone_cannot_express_is_a_mapping_error_naming_the_field(
    fields: dict[str, Any], field: str, fragment: str
) -> None:
    with pytest.raises(MappingError) as info:
        MAPPER.prepare(course(**fields), {})
    assert info.value.field == field and fragment in info.value.message
    assert len(info.value.message) <= 200  # the 412-value locale enum is not quoted whole


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer() as server:
        yield server


@pytest.mark.parametrize(
    ("item", "path"),
    [
        ({"title": "no reference"}, "items[0]: 'external_reference' is a required property"),
        ({"external_reference": "a", "languages": ["en_GB"]}, "items[0].languages[0]"),
        (
            {"external_reference": "a", "languages": [{"value": "en"}]},
            "items[0].languages[0].value: 'en' is not one of",
        ),
        ({"external_reference": "a", "content_type": {"value": "podcast"}}, "items[0].content_type.value"),
        ({"external_reference": "a", "active": "no"}, "items[0].active"),
        ({"external_reference": 7}, "items[0].external_reference: 7 is not of type 'string'"),
    ],
)
def test_the_sandbox_refuses_bodies_stackone_would_refuse_and_the_client_says_where(
    sandbox: SandboxServer, item: dict[str, Any], path: str
) -> None:
    assert schema_errors({"items": [item]}) != []  # StackOne's own schema refuses it too
    conn = Connection(
        "c", "stackone", sandbox.url + "/stackone",
        {"api_key": "sandbox-stackone-key", "account_id": "sandbox-account"}, None, get_plugin("stackone").spec,
    )  # fmt: skip
    with httpx.Client(timeout=5) as http:
        client = StackOneProvider(conn, http, fakeredis.FakeRedis())
        with pytest.raises(ProviderRejected) as info:
            client.submit("upsert", [OutboundItem("a", "d", item)])
    assert info.value.status_code == 422 and path in info.value.message
