"""Every body the 360Learning client sends validates against 360Learning's own vendored schemas,
and the sandbox refuses the bodies the real API refuses.

The bodies are captured at the HTTP boundary (``httpx.MockTransport``), so what is checked is
exactly what would go over the wire: mapping, client and serialisation together.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import fakeredis
import httpx
import pytest

from coursesync.sample import sample_items
from sandbox import SandboxServer, SandboxSettings
from schemas.course import Course, validate_item
from schemas.vendored import schema, validator
from workers.connections import Connection
from workers.providers.base import OutboundItem
from workers.providers.installed import get_plugin
from workers.providers.learning360.client import Learning360Provider
from workers.providers.learning360.mapping import LANGS, MAPPER, lang_360
from workers.providers.mapping import MappingError

OPTIONS: dict[str, Any] = {"client_id": "cid", "client_secret": "secret"}
GROUP, AUTHOR = "5f1a2b3c4d5e6f7a8b9c0d1e", "5f1a2b3c4d5e6f7a8b9c0d1f"
TABLE = {
    "external_platform": "coursesync",
    "group_id": GROUP,
    "author_id": AUTHOR,
    "default_completion": True,
    "default_progress": 0,
    "no_group_propagation": False,
    "external_platform_logo_url": "https://cdn.acme.example/logo.png",
}


def course(**fields: Any) -> Course:
    result = validate_item({"id": "c-1", "title": "T", "url": "https://learn.example/c-1", **fields})
    assert isinstance(result, Course), result
    return result


def errors(name: str, body: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator("360learning", name).iter_errors(body)]


class Capture:
    """A 360Learning that accepts everything and keeps each request body by path."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.bodies.append((request.method, request.url.path, body))
        if request.url.path.endswith("/oauth2/token"):
            return httpx.Response(200, json={"token_type": "Bearer", "access_token": "t", "expires_in": 3600})
        if request.url.path == "/api/v2/integrations":
            return httpx.Response(201, json={**body, "_id": "64a1b2c3d4e5f6a7b8c9d0e1"})
        return httpx.Response(202, headers={"Location": "/api/v2/bulk/operations/507f1f77bcf86cd799439011"})


def send(courses: list[Course], options: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """Map ``courses`` and submit them as the pipeline does (upserts, then archives)."""
    capture = Capture()
    conn = Connection("acme", "360learning", "https://app.360learning.com", {**OPTIONS, **options}, None,
                      get_plugin("360learning").spec)  # fmt: skip
    p = Learning360Provider(conn, httpx.Client(transport=httpx.MockTransport(capture)), fakeredis.FakeRedis())
    prepared = [(c.id, *MAPPER.prepare(c, conn.options)) for c in courses]
    for op in ("upsert", "deactivate"):
        items = [OutboundItem(i, "d", payload) for i, kind, payload in prepared if kind == op]
        for start in range(0, len(items), 1000):
            p.submit(op, items[start : start + 1000])  # type: ignore[arg-type]
    return capture.bodies


EDGE_CASES = [
    course(),  # no optional field at all: defaults fill defaultLang, sources and subjects
    course(
        id="c-2", description="", short_description="Short.", languages=["en-GB", "fr"], difficulty="expert",
        content_type="webinar", duration_minutes=100_000, mobile_url="https://m.learn.example/c-2",
        thumbnail_url="https://cdn.example/c-2.png", tags=["a", "b", "a"], categories=["b", "Data"],
        translations=[
            {"language": "fr", "title": "Titre", "description": "Desc."},
            {"language": "fr-FR", "title": "Doublon"},  # maps to fr as well: the first wins
            {"language": "en-GB", "title": "Same as the default language"},
            {"language": "zh-TW", "description": "Only a description"},
            {"language": "he", "title": "Only a title"},
        ],
    ),
    course(id="c-3", languages=["pt-BR"], content_type="event", skills=["Python"], source="Other Source",
           extra={"360learning": {"authorId": AUTHOR, "contentType": "mooc",
                                  "sources": [{"name": "Acme", "logoUrl": "https://cdn.example/l.png"}]}}),
    course(id="c-4", languages=["de-CH"], content_type="other", difficulty="beginner"),
    course(id="c-5", active=False),
    course(id="c-6", active=False, languages=["ja"]),
]  # fmt: skip


def test_every_body_of_a_varied_catalog_validates_against_360learnings_schemas() -> None:
    # Given 500 sample items (only valid ones) plus hand-made edge cases
    records, _ = sample_items(500, prefix="contract")
    courses = [c for c in map(validate_item, records) if isinstance(c, Course)]
    courses += EDGE_CASES
    options = {"integration": TABLE, "default_source": "Acme Academy", "default_subjects": ["General"]}
    # When they are mapped and sent as the pipeline would
    bodies = send(courses, options)
    # Then every body is one 360Learning accepts
    by_kind: dict[str, list[Any]] = {}
    for method, path, body in bodies:
        name = {
            ("POST", "/api/v2/oauth2/token"): "TokenRequest",
            ("POST", "/api/v2/integrations"): "CreateIntegrationRequest",
            (
                "PUT",
                "/api/v2/bulk/integrations/64a1b2c3d4e5f6a7b8c9d0e1/courses",
            ): "UpsertExternalCoursesRequest",
            (
                "DELETE",
                "/api/v2/bulk/integrations/64a1b2c3d4e5f6a7b8c9d0e1/courses",
            ): "ArchiveExternalCoursesRequest",
        }[(method, path)]
        assert errors(name, body) == [], (name, body)
        by_kind.setdefault(name, []).append(body)
    upserts = [item for body in by_kind["UpsertExternalCoursesRequest"] for item in body["input"]]
    archives = [item for body in by_kind["ArchiveExternalCoursesRequest"] for item in body["input"]]
    assert len(upserts) + len(archives) == len(courses)
    assert archives == [{"externalId": "c-5"}, {"externalId": "c-6"}]
    assert len(by_kind["TokenRequest"]) == len(by_kind["CreateIntegrationRequest"]) == 1


def upsert_item(c: Course, **options: Any) -> dict[str, Any]:
    op, payload = MAPPER.prepare(c, {"default_source": "Acme", "default_subjects": ["General"], **options})
    assert op == "upsert"
    return payload


def test_the_edge_cases_map_as_documented() -> None:
    minimal, rich, extra, swiss = (upsert_item(c) for c in EDGE_CASES[:4])
    assert minimal == {
        "externalId": "c-1", "name": "T", "defaultLang": "en", "launchUrl": "https://learn.example/c-1",
        "sources": [{"name": "Acme"}], "subjects": ["General"], "contentType": "course",
    }  # fmt: skip
    assert rich["defaultLang"] == "en_GB" and rich["difficultyLevel"] == "advanced"
    assert rich["contentType"] == "video" and rich["description"] == "Short."
    assert rich["subjects"] == ["b", "Data", "a"]  # categories then tags, each once
    assert rich["translations"] == [
        {"lang": "fr", "translatedFields": {"name": "Titre", "description": "Desc."}},
        {"lang": "zh_tw", "translatedFields": {"description": "Only a description"}},
        {"lang": "he_IL", "translatedFields": {"name": "Only a title"}},
    ]
    assert (
        extra["defaultLang"] == "pt_BR" and extra["subjects"] == ["Python"] and extra["contentType"] == "mooc"
    )
    assert extra["authorId"] == AUTHOR and extra["sources"][0]["logoUrl"] == "https://cdn.example/l.png"
    assert (
        swiss["defaultLang"] == "de" and "contentType" not in swiss and swiss["difficultyLevel"] == "beginner"
    )


@pytest.mark.parametrize(
    ("tag", "expected"),
    [("en", "en"), ("en-GB", "en_GB"), ("en-US", "en"), ("fr-CA", "fr_CA"), ("pt-BR", "pt_BR"),
     ("zh-TW", "zh_tw"), ("zh-HK", "zh_HANT"), ("zh", "zh"), ("he", "he_IL"), ("sw", "sw_KE"),
     ("nb", "no"), ("de-CH", "de"), ("ga", None), ("eo", None), ("xx-YY", None)],
)  # fmt: skip
def test_bcp47_tags_map_onto_360learnings_lang_enum(tag: str, expected: str | None) -> None:
    assert lang_360(tag) == expected


def test_lang_values_are_exactly_the_vendored_enum() -> None:
    assert sorted(LANGS) == sorted(schema("360learning", "Lang")["enum"])


@pytest.mark.parametrize(
    ("c", "options", "field", "says"),
    [
        (course(languages=["ga", "en"]), {}, "languages[0]", "does not accept the language 'ga'"),
        (course(translations=[{"language": "eo", "title": "Saluton"}]), {}, "translations[0].language", "'eo'"),
        (course(), {"default_language": "tlh"}, "default_language", "'tlh'"),
        (course(), {"default_subjects": []}, "subjects",
         "set default_subjects on the connection or give the item tags/categories"),
        (course(), {"default_source": None}, "source", "set default_source on the connection"),
        (course(extra={"360learning": {"externalId": "other"}}), {}, "extra.360learning.externalId", "item id"),
        # An extra that breaks ExternalCourse would make 360Learning refuse the whole request
        (course(extra={"360learning": {"duration": 0}}), {}, "extra.360learning.duration", "minimum of 1"),
        (course(extra={"360learning": {"sources": [{"logoUrl": "x"}]}}), {}, "extra.360learning.sources[0]",
         "'name' is a required property"),
        (course(extra={"360learning": {"contentType": "hologram"}}), {}, "extra.360learning.contentType",
         "'hologram' is not one of"),
    ],
)  # fmt: skip
def test_what_360learning_cannot_take_is_a_mapping_error_naming_field_and_fix(
    c: Course, options: dict[str, Any], field: str, says: str
) -> None:
    with pytest.raises(MappingError) as info:
        upsert_item(c, **options)
    assert info.value.field == field and says in info.value.message
    assert len(info.value.message) <= 200  # an enum of 19 content types is not quoted whole


# --- the sandbox refuses what 360Learning refuses ------------------------------------------------


@pytest.fixture(scope="module")
def api() -> Iterator[httpx.Client]:
    with (
        SandboxServer(SandboxSettings()) as server,
        httpx.Client(base_url=server.url + "/360learning") as client,
    ):
        body = {"grant_type": "client_credentials", "client_id": "sandbox-360-client",
                "client_secret": "sandbox-360-secret"}  # fmt: skip
        token = client.post("/api/v2/oauth2/token", json=body).json()["access_token"]
        client.headers.update({"Authorization": f"Bearer {token}", "360-api-version": "v2.0"})
        yield client


GOOD = upsert_item(course())
COURSES = "/api/v2/bulk/integrations/64a1b2c3d4e5f6a7b8c9d0e1/courses"


@pytest.mark.parametrize(
    ("method", "body", "code", "says"),
    [
        ("PUT", {"input": [{**GOOD, "defaultLang": "en-GB"}]}, "invalidInput", "input[0].defaultLang"),
        ("PUT", {"input": [{k: v for k, v in GOOD.items() if k != "subjects"}]}, "invalidInput", "'subjects'"),
        ("PUT", {"input": [{**GOOD, "duration": 0}]}, "invalidInput", "input[0].duration"),
        ("PUT", {"input": [{**GOOD, "sources": [{"logoUrl": "x"}]}]}, "invalidInput", "'name'"),
        ("PUT", {"input": {"externalId": "c-1"}}, "invalidInput", "must be an array"),
        ("PUT", {"input": [GOOD] * 10_001}, "inputTooLong", "10,000"),
        ("DELETE", {"input": [{"externalId": "c-1"}] * 1_001}, "inputTooLong", "1,000"),
        ("DELETE", {"input": [{"externalId": ""}]}, "invalidInput", "input[0].externalId"),
    ],
)  # fmt: skip
def test_the_sandbox_refuses_bodies_the_real_api_refuses(
    api: httpx.Client, method: str, body: Any, code: str, says: str
) -> None:
    assert errors(
        "UpsertExternalCoursesRequest" if method == "PUT" else "ArchiveExternalCoursesRequest", body
    )
    resp = api.request(method, COURSES, json=body)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == code and says in resp.json()["error"]["message"]
