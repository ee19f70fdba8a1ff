"""The vendored provider schemas in schemas/openapi/ (written by scripts/vendor_specs.py).

No network and no /work/shared: these read only the committed JSON files, plus the script itself
for its conversion helpers.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from jsonschema import Draft202012Validator

REPO = Path(__file__).resolve().parents[2]
SPECS = REPO / "schemas" / "openapi"
PROVIDERS = {
    "kombo": {
        "PostLmsCoursesBulkRequestBody",
        "PostLmsCoursesBulkPositiveResponse",
        "GetLmsCoursesBulkTaskIdPositiveResponse",
        "PostLmsCoursesCourseIdDeactivatePositiveResponse",
        "ErrorEnvelope",
    },
    "stackone": {
        "BatchUpsertContentRequest",
        "BatchResultApiModel",
        "LmsUpsertContentRequestDto",
        "ErrorResponse",
        "ContentPaginated",
    },
    "360learning": {
        "UpsertExternalCoursesRequest",
        "ArchiveExternalCoursesRequest",
        "BulkOperation",
        "BulkOperationResults",
        "TokenRequest",
        "TokenResponse",
        "CreateIntegrationRequest",
        "CreateIntegrationResponse",
        "Lang",
    },
}


@cache
def vendored(provider: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SPECS / f"{provider}.json").read_text(encoding="utf-8"))
    return data


@cache
def validator(provider: str, name: str) -> Draft202012Validator:
    return Draft202012Validator(vendored(provider)["schemas"][name])


def valid(provider: str, name: str, instance: Any) -> bool:
    return bool(validator(provider, name).is_valid(instance))


def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("vendor_specs", REPO / "scripts" / "vendor_specs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("vendor_specs", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


# --- every file ------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_file_has_source_and_expected_schemas(provider: str) -> None:
    data = vendored(provider)
    source = data["source"]
    assert source["extracted_by"] == "scripts/vendor_specs.py"
    assert source["file"].endswith(".json")
    assert re.fullmatch(r"[0-9a-f]{64}", source["sha256"])
    assert set(data["schemas"]) == PROVIDERS[provider]
    assert set(source["origins"]) == PROVIDERS[provider]


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_file_is_in_the_scripts_canonical_format(provider: str) -> None:
    text = (SPECS / f"{provider}.json").read_text(encoding="utf-8")
    assert script().dump(json.loads(text)) == text, "re-run scripts/vendor_specs.py instead of hand-editing"


@pytest.mark.parametrize(
    ("provider", "name"), [(p, n) for p, names in PROVIDERS.items() for n in sorted(names)]
)
def test_schema_is_valid_2020_12_and_self_contained(provider: str, name: str) -> None:
    schema = vendored(provider)["schemas"][name]
    Draft202012Validator.check_schema(schema)
    text = json.dumps(schema)
    assert "#/components/" not in text
    assert '"nullable"' not in text and '"discriminator"' not in text
    for example in schema.get("examples", []):  # the spec's documented examples
        assert validator(provider, name).is_valid(example)


# --- Kombo -----------------------------------------------------------------------------------


def kombo_example() -> dict[str, Any]:
    body: dict[str, Any] = copy.deepcopy(
        vendored("kombo")["schemas"]["PostLmsCoursesBulkRequestBody"]["examples"][0]
    )
    return body


def test_kombo_documented_example_validates() -> None:
    body = kombo_example()
    assert [i["origin_id"] for i in body["items"]] == ["course-1", "course-2"]
    assert valid("kombo", "PostLmsCoursesBulkRequestBody", body)


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda c: c.update(duration=-5), id="negative-duration"),
        pytest.param(lambda c: c.update(duration=0), id="zero-duration"),
        pytest.param(lambda c: c.update(languages=["english"]), id="language-not-bcp47"),
        pytest.param(lambda c: c.pop("course_url"), id="missing-course_url"),
        pytest.param(lambda c: c.update(type="SCORM"), id="unknown-type"),
    ],
)
def test_kombo_rejects_bad_course(mutate: Any) -> None:
    body = kombo_example()
    mutate(body["items"][0]["course"])
    assert not valid("kombo", "PostLmsCoursesBulkRequestBody", body)


def test_kombo_nullable_fields_and_responses() -> None:
    body = kombo_example()
    body["items"][0]["course"].update(duration=None, languages=None, description=None, thumbnail_url=None)
    assert valid("kombo", "PostLmsCoursesBulkRequestBody", body)
    assert valid(
        "kombo",
        "PostLmsCoursesBulkPositiveResponse",
        {"status": "success", "data": {"task_id": "t"}, "warnings": []},
    )
    completed: dict[str, Any] = {
        "status": "success",
        "data": {
            "task_id": "t",
            "created_at": "2026-01-01T00:00:00.000Z",
            "status": "COMPLETED",
            "completed_at": "2026-01-01T00:00:01.000Z",
            "data": [
                {"origin_id": "course-1", "status": "SUCCEEDED", "data": {"id": "k1"}},
                {
                    "origin_id": "course-2",
                    "status": "FAILED",
                    "error": {"code": None, "title": None, "message": "nope", "log_url": None},
                },
            ],
        },
    }
    assert valid("kombo", "GetLmsCoursesBulkTaskIdPositiveResponse", completed)
    completed["data"]["status"] = "DONE"
    assert not valid("kombo", "GetLmsCoursesBulkTaskIdPositiveResponse", completed)


def test_kombo_error_envelope() -> None:
    error = {"code": "PLATFORM.INPUT_INVALID", "title": None, "message": "bad", "log_url": None}
    assert valid("kombo", "ErrorEnvelope", {"status": "error", "error": error})
    # The spec's own "Minimal Error Response" example has code null (the enum gained null, see the script).
    assert valid("kombo", "ErrorEnvelope", {"status": "error", "error": {**error, "code": None}})
    assert not valid("kombo", "ErrorEnvelope", {"status": "error", "error": {"message": "bad"}})
    assert not valid("kombo", "ErrorEnvelope", {"status": "success", "error": error})


# --- StackOne --------------------------------------------------------------------------------


def test_stackone_external_reference_is_required() -> None:
    assert "external_reference" in vendored("stackone")["schemas"]["LmsUpsertContentRequestDto"]["required"]
    assert valid("stackone", "LmsUpsertContentRequestDto", {"external_reference": "c-1"})
    assert valid("stackone", "BatchUpsertContentRequest", {"items": [{"external_reference": "c-1"}]})
    assert not valid("stackone", "LmsUpsertContentRequestDto", {"title": "no reference"})
    assert not valid("stackone", "BatchUpsertContentRequest", {"items": [{"title": "no reference"}]})
    assert not valid("stackone", "BatchUpsertContentRequest", {})


STACKONE_ITEM = {
    "external_reference": "c-1",
    "title": "T",
    "content_url": "https://example.com/c-1",
    "duration": "PT45M",
    "active": True,
    "languages": [{"value": "en_GB"}],
    "content_type": {"value": "course"},
    "cover_url": None,
}


def test_stackone_item_shapes() -> None:
    item = copy.deepcopy(STACKONE_ITEM)
    assert valid("stackone", "LmsUpsertContentRequestDto", item)
    assert valid("stackone", "LmsUpsertContentRequestDto", {**item, "active": "false"})
    # languages are {value: <locale enum>} objects, not bare strings.
    assert not valid("stackone", "LmsUpsertContentRequestDto", {**item, "languages": ["en_GB"]})
    assert not valid("stackone", "LmsUpsertContentRequestDto", {**item, "languages": [{"value": "english"}]})
    assert not valid("stackone", "LmsUpsertContentRequestDto", {**item, "content_type": {"value": "podcast"}})


def test_stackone_responses() -> None:
    accepted = {"statusCode": 202, "message": "Batch operation accepted", "timestamp": "2026-01-01T00:00:00Z"}
    assert valid("stackone", "BatchResultApiModel", accepted)
    assert valid("stackone", "BatchResultApiModel", {**accepted, "errors": [["Missing field: name"], []]})
    assert valid(
        "stackone", "ErrorResponse", {**accepted, "statusCode": 422, "message": "Unprocessable Entity"}
    )
    assert not valid("stackone", "ErrorResponse", {"statusCode": 400, "message": "Bad Request"})
    # The read model's content_type enum is narrower than the write enum ("course" is write-only).
    listed = {
        "data": [{"id": "x", "external_reference": "c-1", "content_type": {"value": "video"}}],
        "next": None,
    }
    assert valid("stackone", "ContentPaginated", listed)
    listed["data"][0]["content_type"] = {"value": "course"}
    assert not valid("stackone", "ContentPaginated", listed)


# --- 360Learning -----------------------------------------------------------------------------


def course(**overrides: Any) -> dict[str, Any]:
    base = {
        "externalId": "c-1",
        "name": "Course",
        "defaultLang": "en",
        "launchUrl": "https://example.com/c-1",
        "sources": [{"name": "Acme"}],
        "subjects": ["x"],
    }
    return {**base, **overrides}


def test_360_minimal_external_course_validates() -> None:
    assert valid("360learning", "UpsertExternalCoursesRequest", {"input": [course()]})
    assert not valid("360learning", "UpsertExternalCoursesRequest", {"input": [course(sources=[{}])]})
    assert not valid("360learning", "UpsertExternalCoursesRequest", {"input": [course(subjects=[""])]})
    no_launch = course()
    del no_launch["launchUrl"]
    assert not valid("360learning", "UpsertExternalCoursesRequest", {"input": [no_launch]})


@pytest.mark.parametrize(
    ("lang", "ok"), [("en", True), ("en_GB", True), ("zh_tw", True), ("en-GB", False), ("en_US", False)]
)
def test_360_default_lang(lang: str, ok: bool) -> None:
    assert valid("360learning", "Lang", lang) is ok
    assert valid("360learning", "UpsertExternalCoursesRequest", {"input": [course(defaultLang=lang)]}) is ok


def test_360_lang_matches_the_course_enum() -> None:
    schemas = vendored("360learning")["schemas"]
    item = schemas["UpsertExternalCoursesRequest"]["properties"]["input"]["items"]
    assert schemas["Lang"]["enum"] == item["properties"]["defaultLang"]["enum"]
    assert len(set(schemas["Lang"]["enum"])) == len(schemas["Lang"]["enum"])


def test_360_max_items() -> None:
    upsert = vendored("360learning")["schemas"]["UpsertExternalCoursesRequest"]["properties"]["input"]
    archive = vendored("360learning")["schemas"]["ArchiveExternalCoursesRequest"]["properties"]["input"]
    assert (upsert["maxItems"], archive["maxItems"]) == (10_000, 1_000)
    errors = list(
        validator("360learning", "UpsertExternalCoursesRequest").iter_errors({"input": [course()] * 10_001})
    )
    assert [e.validator for e in errors] == ["maxItems"]
    ids = [{"externalId": "c-1"}]
    assert valid("360learning", "ArchiveExternalCoursesRequest", {"input": ids * 1_000})
    assert not valid("360learning", "ArchiveExternalCoursesRequest", {"input": ids * 1_001})
    assert not valid("360learning", "ArchiveExternalCoursesRequest", {"input": [{"externalId": ""}]})


def test_360_operations_token_and_integration() -> None:
    oid = "507f1f77bcf86cd799439011"
    pending = {
        "_id": oid,
        "type": "importExternalCourses",
        "createdAt": "2026-01-01T00:00:00.000Z",
        "status": "pending",
    }
    assert valid("360learning", "BulkOperation", pending)
    assert not valid(
        "360learning", "BulkOperation", {**pending, "status": "completed"}
    )  # needs progress etc.
    results = [
        {"input": {"externalId": "c-1"}, "status": "success", "resourceId": "r1"},
        {"input": {"externalId": "c-2"}, "status": "error", "errorMessage": "bad"},
    ]
    assert valid("360learning", "BulkOperationResults", results)
    token = {
        "grant_type": "client_credentials",
        "client_id": "id",
        "client_secret": "secret",
        "company_id": oid,
    }
    assert valid("360learning", "TokenRequest", token)
    assert not valid("360learning", "TokenRequest", {**token, "grant_type": "password"})
    assert valid(
        "360learning", "TokenResponse", {"token_type": "Bearer", "access_token": "a", "expires_in": 3600}
    )
    integration = {"externalPlatform": "coursesync", "authorId": oid, "groupId": oid}
    assert valid("360learning", "CreateIntegrationRequest", integration)
    assert not valid("360learning", "CreateIntegrationRequest", {**integration, "authorId": "not-an-id"})
    assert valid("360learning", "CreateIntegrationResponse", {**integration, "_id": oid})
    assert not valid("360learning", "CreateIntegrationResponse", integration)


# --- the script's conversion, on a synthetic document -----------------------------------------


def test_script_inlines_refs_keeps_cycles_in_defs_and_converts_openapi_isms() -> None:
    vendor = script()
    doc = {
        "components": {
            "schemas": {
                "Node": {
                    "type": "object",
                    "properties": {
                        "child": {"$ref": "#/components/schemas/Node"},
                        "kind": {"$ref": "#/components/schemas/Kind"},
                        "size": {"type": "integer", "minimum": 0, "exclusiveMinimum": True, "nullable": True},
                        "nullable": {"type": "string", "example": "a property named like a keyword"},
                    },
                    "discriminator": {"propertyName": "kind"},
                },
                "Kind": {"type": "string", "enum": ["a", "b", "a"], "nullable": True, "x-vendor": 1},
            }
        }
    }
    pick = vendor.Pick("main", ("component", "Node"))
    _, schema = vendor.extract(doc, "Node", pick, vendor.Stats())
    Draft202012Validator.check_schema(schema)
    assert schema["properties"]["child"] == {"$ref": "#"}
    assert "$defs" not in schema
    assert schema["properties"]["kind"] == {"type": ["string", "null"], "enum": ["a", "b", None]}
    assert schema["properties"]["size"] == {"type": ["integer", "null"], "exclusiveMinimum": 0}
    assert schema["properties"]["nullable"] == {"type": "string"}
    assert "discriminator" not in schema
    v = Draft202012Validator(schema)
    assert v.is_valid({"kind": None, "child": {"kind": "b", "child": {"size": 1}}})
    assert not v.is_valid({"child": {"child": {"size": 0}}})
    assert not v.is_valid({"child": {"kind": "c"}})


def test_script_keeps_an_inner_cycle_in_defs_and_wraps_nullable_refs() -> None:
    vendor = script()
    doc = {
        "components": {
            "schemas": {
                "Root": {"type": "object", "properties": {"b": {"$ref": "#/components/schemas/B"}}},
                "B": {
                    "type": "object",
                    "properties": {"c": {"nullable": True, "allOf": [{"$ref": "#/components/schemas/C"}]}},
                },
                "C": {"type": "object", "properties": {"b": {"$ref": "#/components/schemas/B"}}},
            }
        }
    }
    _, schema = vendor.extract(doc, "Root", vendor.Pick("main", ("component", "Root")), vendor.Stats())
    Draft202012Validator.check_schema(schema)
    assert schema["properties"]["b"] == {"$ref": "#/$defs/B"}
    assert set(schema["$defs"]) == {"B"}
    v = Draft202012Validator(schema)
    assert v.is_valid({"b": {"c": {"b": {"c": None}}}})
    assert not v.is_valid({"b": {"c": {"b": {"c": 1}}}})


# --- The quick check in front of jsonschema (schemas/vendored/__init__.py) ------------------------

_ODD_VALUES: list[Any] = [None, -1, 0, 1.5, True, "", "x" * 300, "javascript:alert(1)", "en_US", [], {}, [1]]


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*path, index))
    return found


def _mutated(example: Any, rng: Any) -> Any:
    doc = copy.deepcopy(example)
    path = rng.choice(_paths(doc)[1:])
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    action = rng.random()
    if action < 0.15 and isinstance(parent, dict):
        del parent[last]
    elif action < 0.25 and isinstance(parent, dict):
        parent["unexpected_field"] = rng.choice(_ODD_VALUES)
    else:
        parent[last] = copy.deepcopy(rng.choice(_ODD_VALUES))
    return doc


def _seeds() -> dict[tuple[str, str], list[Any]]:
    """Valid documents to mutate, for the schemas without examples that the sandbox checks."""
    oid = "507f1f77bcf86cd799439011"
    return {
        ("360learning", "UpsertExternalCoursesRequest"): [{"input": [course(), course(externalId="c-2")]}],
        ("360learning", "ArchiveExternalCoursesRequest"): [{"input": [{"externalId": "c-1"}]}],
        ("360learning", "TokenRequest"): [
            {"grant_type": "client_credentials", "client_id": "id", "client_secret": "s", "company_id": oid}
        ],
        ("360learning", "CreateIntegrationRequest"): [
            {"externalPlatform": "coursesync", "authorId": oid, "groupId": oid}
        ],
        ("stackone", "BatchUpsertContentRequest"): [{"items": [STACKONE_ITEM]}],
        ("stackone", "LmsUpsertContentRequestDto"): [STACKONE_ITEM],
    }


@pytest.mark.parametrize(
    ("provider", "name"), [(p, n) for p, names in sorted(PROVIDERS.items()) for n in sorted(names)]
)
def test_the_quick_check_is_never_looser_than_jsonschema(provider: str, name: str) -> None:
    import random

    from schemas.vendored import _quick_check, describe_errors

    assert _quick_check(provider, name) is not None, "fastjsonschema could not compile it"
    examples = [*vendored(provider)["schemas"][name].get("examples", []), *_seeds().get((provider, name), [])]
    rng = random.Random(f"{provider}/{name}")
    rejected = 0
    for example in examples:
        assert describe_errors(provider, name, example) == ([], 0)
        for _ in range(300):
            doc = _mutated(example, rng)
            reasons, count = describe_errors(provider, name, doc)
            assert (count == 0) == valid(provider, name, doc), (doc, reasons)
            rejected += count > 0
    assert rejected > 0 or not examples  # the mutations did reach invalid documents
