"""Vendor self-contained JSON Schemas (Draft 2020-12) from the providers' real OpenAPI documents.

CI cannot read /work/shared, so the sandbox and the contract tests validate bodies against the
files this script writes to ``schemas/openapi/<provider>.json``::

    {"source": {"file": ..., "sha256": ..., "extracted_by": "scripts/vendor_specs.py", ...},
     "schemas": {name: schema}}

Each schema is self-contained: every ``$ref`` is inlined; a reference cycle (none of the current
selections has one) is kept as ``{"$ref": "#"}`` when it leads back to the extracted schema,
else as ``#/$defs/<name>`` at the schema's root. OpenAPI-isms are
converted to JSON Schema 2020-12: ``nullable`` (3.0 style, which StackOne still uses inside a
3.1 document) becomes a ``"null"`` type or an ``anyOf`` branch; boolean ``exclusiveMinimum`` /
``exclusiveMaximum`` become numbers; ``discriminator``, ``example``, ``xml``, ``externalDocs``
and ``x-*`` extensions are dropped. Two normalisations go beyond a pure format change (see
``_fix_enum``): duplicate enum values are removed, and ``null`` is added to an ``enum`` whose
``type`` explicitly allows ``"null"`` (Kombo's error ``code`` is ``["string", "null"]`` and its own
examples send ``null``, but the enum omits it). The examples documented on an operation's media
type are kept as the schema's ``examples`` (a 2020-12 annotation) so tests can replay them.

Run: ``.venv/bin/python scripts/vendor_specs.py [--specs-dir /work/shared/specs] [--out-dir ...]``
(stdlib only).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXTRACTED_BY = "scripts/vendor_specs.py"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPECS_DIR = Path("/work/shared/specs")
DEFAULT_OUT_DIR = REPO_ROOT / "schemas" / "openapi"

# Keywords whose value is one subschema, a list of subschemas, or a {name: subschema} map.
_SCHEMA_KEYS = {
    "items",
    "additionalProperties",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
    "additionalItems",
}
_SCHEMA_LIST_KEYS = {"allOf", "anyOf", "oneOf", "prefixItems"}
_SCHEMA_MAP_KEYS = {"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"}
_COMBINATORS = ("allOf", "anyOf", "oneOf", "not", "$ref")
# Dropped: OpenAPI-only or vendor annotations that are noise (or, for ``example``, not a
# JSON Schema keyword at all) in a 2020-12 schema.
_DROP_KEYS = {"discriminator", "example", "xml", "externalDocs"}
# Annotations that may sit next to a ``$ref`` and be merged into the inlined target.
_ANNOTATIONS = {"description", "title", "deprecated", "readOnly", "writeOnly", "default", "examples"}

# --- what to extract -------------------------------------------------------------------------


@dataclass(frozen=True)
class Pick:
    """One schema to vendor: ``file`` (key of Provider.files) and where to find it.

    ``where`` is one of:
      ("component", name)                   -> #/components/schemas/<name>
      ("request", path, method)             -> requestBody application/json schema
      ("response", path, method, status)    -> response application/json schema
      ("pointer", "#/json/pointer")         -> any schema by JSON pointer
    """

    file: str
    where: tuple[str, ...]
    expect_component: str | None = None  # the operation's schema must be this component
    operation_id: str | None = None  # the operation (request/response picks) must have this id
    strip: tuple[str, ...] = ()  # root keywords to drop (e.g. a context-specific description)


@dataclass(frozen=True)
class Provider:
    files: dict[str, str]  # key -> path relative to the specs dir; the first is the primary
    picks: dict[str, Pick] = field(default_factory=dict)


KOMBO_BULK = "/lms/courses/bulk"
STACKONE_BATCH = "/unified/lms/content/batch"
L360_COURSES = "/api/v2/bulk/integrations/{integrationId}/courses"
L360_OPERATION = "/api/v2/bulk/operations/{bulkOperationId}"

PROVIDERS: dict[str, Provider] = {
    "kombo": Provider(
        files={"main": "kombo/kombo-openapi.json"},
        picks={
            "PostLmsCoursesBulkRequestBody": Pick(
                "main", ("request", KOMBO_BULK, "post"), expect_component="PostLmsCoursesBulkRequestBody"
            ),
            "PostLmsCoursesBulkPositiveResponse": Pick(
                "main",
                ("response", KOMBO_BULK, "post", "200"),
                expect_component="PostLmsCoursesBulkPositiveResponse",
            ),
            "GetLmsCoursesBulkTaskIdPositiveResponse": Pick(
                "main",
                ("response", KOMBO_BULK + "/{task_id}", "get", "200"),
                expect_component="GetLmsCoursesBulkTaskIdPositiveResponse",
            ),
            "PostLmsCoursesCourseIdDeactivatePositiveResponse": Pick(
                "main",
                ("response", "/lms/courses/{course_id}/deactivate", "post", "200"),
                expect_component="PostLmsCoursesCourseIdDeactivatePositiveResponse",
            ),
            # The bulk endpoint's ``default`` response is #/components/responses/ErrorResponseGeneral.
            "ErrorEnvelope": Pick("main", ("response", KOMBO_BULK, "post", "default")),
        },
    ),
    "stackone": Provider(
        files={"main": "stackone/lms.2025-12-03.converted-from-ts.json"},
        picks={
            "BatchUpsertContentRequest": Pick(
                "main",
                ("request", STACKONE_BATCH, "post"),
                expect_component="LmsBatchUpsertContentRequestDto",
                operation_id="lms_batch_upsert_content",
            ),
            "BatchResultApiModel": Pick(
                "main",
                ("response", STACKONE_BATCH, "post", "202"),
                expect_component="BatchResultApiModel",
                operation_id="lms_batch_upsert_content",
            ),
            "LmsUpsertContentRequestDto": Pick("main", ("component", "LmsUpsertContentRequestDto")),
            # 400's BadRequestResponse covers every error of the operation: the 401, 403, 404, 408,
            # 409, 412, 422, 429 and 5xx schemas have the same required statusCode, message and
            # timestamp, and only 400 adds the optional data and provider_errors.
            "ErrorResponse": Pick(
                "main",
                ("response", STACKONE_BATCH, "post", "400"),
                expect_component="BadRequestResponse",
                operation_id="lms_batch_upsert_content",
            ),
            # The read model of GET /unified/lms/content: the sandbox lists what batches stored.
            "ContentPaginated": Pick(
                "main",
                ("response", "/unified/lms/content", "get", "200"),
                expect_component="ContentPaginated",
                operation_id="lms_list_content",
            ),
        },
    ),
    "360learning": Provider(
        files={
            "bulk": "360learning/360learning-bulk-api.json",
            "core": "360learning/360learning-core-api.json",
        },
        picks={
            "UpsertExternalCoursesRequest": Pick(
                "bulk", ("request", L360_COURSES, "put"), expect_component="ImportExternalCoursesBody"
            ),
            "ArchiveExternalCoursesRequest": Pick(
                "bulk", ("request", L360_COURSES, "delete"), expect_component="ArchiveExternalCoursesBody"
            ),
            "BulkOperation": Pick("bulk", ("response", L360_OPERATION, "get", "200")),
            "BulkOperationResults": Pick("bulk", ("response", L360_OPERATION + "/results", "get", "200")),
            "TokenRequest": Pick(
                "core", ("request", "/api/v2/oauth2/token", "post"), expect_component="GenerateTokenBody"
            ),
            "TokenResponse": Pick(
                "core",
                ("response", "/api/v2/oauth2/token", "post", "200"),
                expect_component="GenerateTokenResponse",
            ),
            "CreateIntegrationRequest": Pick(
                "core", ("request", "/api/v2/integrations", "post"), expect_component="BaseIntegrationDTO"
            ),
            "CreateIntegrationResponse": Pick(
                "core",
                ("response", "/api/v2/integrations", "post", "201"),
                expect_component="IntegrationDTO",
            ),
            "Lang": Pick(
                "bulk",
                ("pointer", "#/components/schemas/ExternalCourseDTO/properties/defaultLang"),
                strip=("description",),
            ),
        },
    ),
}

# --- JSON pointers and $ref resolution -------------------------------------------------------


class VendorError(Exception):
    pass


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def pointer(*tokens: str) -> str:
    return "#/" + "/".join(_escape(t) for t in tokens)


def resolve_pointer(doc: Any, ref: str) -> Any:
    if not ref.startswith("#"):
        raise VendorError(f"external $ref not supported: {ref}")
    node = doc
    for raw in ref[1:].split("/")[1:] if ref != "#" else []:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            node = node[int(token)]
        elif isinstance(node, dict) and token in node:
            node = node[token]
        else:
            raise VendorError(f"unresolvable $ref {ref!r} (at {token!r})")
    return node


def _follow(doc: dict[str, Any], node: Any) -> Any:
    """Follow a chain of ``$ref`` on non-schema objects (responses, request bodies)."""
    seen: set[str] = set()
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if ref in seen:
            raise VendorError(f"$ref loop at {ref}")
        seen.add(ref)
        node = resolve_pointer(doc, ref)
    return node


def _def_name(ref: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", ref.rsplit("/", 1)[-1].replace("~1", "/")) or "root"


class Inliner:
    """Inline every ``$ref`` of one root schema; cycles become ``#/$defs/<name>``."""

    def __init__(self, doc: dict[str, Any], root: str | None = None) -> None:
        self.doc = doc
        self.root = root  # pointer of the schema being extracted: a cycle back to it is "#"
        self.defs: dict[str, Any] = {}
        self.def_names: dict[str, str] = {}
        self.recursive: set[str] = set()

    def _name_for(self, ref: str) -> str:
        if ref not in self.def_names:
            base = name = _def_name(ref)
            n = 2
            while name in self.def_names.values():
                name, n = f"{base}_{n}", n + 1
            self.def_names[ref] = name
        return self.def_names[ref]

    def inline(self, node: Any, stack: tuple[str, ...] = ()) -> Any:
        if isinstance(node, list):
            return [self.inline(v, stack) for v in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node and isinstance(node["$ref"], str):
            ref = node["$ref"]
            siblings = {k: self.inline(v, stack) for k, v in node.items() if k != "$ref"}
            if ref == self.root:
                target: Any = {"$ref": "#"}
            elif ref in stack:
                self.recursive.add(ref)
                target = {"$ref": "#/$defs/" + self._name_for(ref)}
            else:
                target = self.inline(resolve_pointer(self.doc, ref), (*stack, ref))
                if ref in self.recursive:
                    self.defs[self._name_for(ref)] = target
                    target = {"$ref": "#/$defs/" + self._name_for(ref)}
            if not siblings:
                return copy.deepcopy(target)
            if isinstance(target, dict) and "$ref" not in target and set(siblings) <= _ANNOTATIONS:
                return {**copy.deepcopy(target), **siblings}
            return {"allOf": [copy.deepcopy(target)], **siblings}
        return {k: self.inline(v, stack) for k, v in node.items()}


# --- OpenAPI -> JSON Schema 2020-12 ----------------------------------------------------------


@dataclass
class Stats:
    nullable: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    enum_null_added: list[str] = field(default_factory=list)
    enum_dupes: list[str] = field(default_factory=list)


def _fix_enum(schema: dict[str, Any], where: str, stats: Stats) -> None:
    enum = schema.get("enum")
    if not isinstance(enum, list):
        return
    unique: list[Any] = []
    for value in enum:
        if value not in unique:
            unique.append(value)
    if len(unique) != len(enum):
        stats.enum_dupes.append(where)
        schema["enum"] = enum = unique
    types = schema.get("type")
    allows_null = types == "null" or (isinstance(types, list) and "null" in types)
    if allows_null and None not in enum:
        enum.append(None)
        stats.enum_null_added.append(where)


def _convert_keyword(key: str, value: Any, stats: Stats, where: str) -> Any:
    if key in _SCHEMA_KEYS:
        return convert(value, stats, f"{where}/{key}")
    if key in _SCHEMA_LIST_KEYS:
        return [convert(v, stats, f"{where}/{key}/{i}") for i, v in enumerate(value)]
    if key in _SCHEMA_MAP_KEYS:
        return {k: convert(v, stats, f"{where}/{key}/{_escape(k)}") for k, v in value.items()}
    return copy.deepcopy(value)  # a value (enum, const, default, ...), never a schema


def _fix_exclusive_bounds(schema: dict[str, Any]) -> None:
    """OpenAPI 3.0's ``exclusiveMinimum: true`` + ``minimum: n`` is 2020-12's ``exclusiveMinimum: n``."""
    for bound, plain in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(schema.get(bound), bool) and schema.pop(bound) and plain in schema:
            schema[bound] = schema.pop(plain)


def _apply_nullable(schema: dict[str, Any], stats: Stats) -> dict[str, Any]:
    if schema.pop("nullable", False) is not True:
        return schema
    stats.nullable += 1
    if any(k in schema for k in _COMBINATORS):
        # A ``null`` type next to allOf/oneOf/$ref would still be rejected by the branches: keep
        # the annotations outside and offer null as an alternative.
        annotations = {k: schema.pop(k) for k in list(schema) if k in _ANNOTATIONS}
        return {"anyOf": [schema, {"type": "null"}], **annotations}
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        schema["type"] = types if "null" in types else [*types, "null"]
    elif "const" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    # No type and no combinator: the schema already accepts null.
    return schema


def convert(node: Any, stats: Stats, where: str = "#") -> Any:
    """Return a 2020-12 copy of one schema node (schema-aware: property names are never touched)."""
    if isinstance(node, bool) or not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        dropped = "x-*" if key.startswith("x-") else key if key in _DROP_KEYS else None
        if dropped is None and key == "examples" and not isinstance(value, list):
            dropped = "examples(non-list)"
        if dropped is not None:
            stats.dropped[dropped] = stats.dropped.get(dropped, 0) + 1
            continue
        out[key] = _convert_keyword(key, value, stats, where)
    _fix_exclusive_bounds(out)
    out = _apply_nullable(out, stats)
    _fix_enum(out, where, stats)
    return out


# --- extraction ------------------------------------------------------------------------------


def _media_json(obj: dict[str, Any], what: str) -> dict[str, Any]:
    content = obj.get("content") or {}
    for media_type in ("application/json", *sorted(content)):
        if media_type in content and "schema" in content[media_type]:
            return dict(content[media_type])
    raise VendorError(f"{what}: no JSON schema in content {sorted(content)}")


def locate(doc: dict[str, Any], where: tuple[str, ...]) -> tuple[str, Any, list[Any]]:
    """Return (JSON pointer for provenance, the raw schema node, documented examples)."""
    kind = where[0]
    if kind == "component":
        ptr = pointer("components", "schemas", where[1])
        return ptr, resolve_pointer(doc, ptr), []
    if kind == "pointer":
        return where[1], resolve_pointer(doc, where[1]), []
    path, method = where[1], where[2]
    try:
        op = doc["paths"][path][method]
    except KeyError as exc:
        raise VendorError(f"operation {method.upper()} {path} not in the spec") from exc
    if kind == "request":
        ptr = pointer("paths", path, method, "requestBody")
        holder = op.get("requestBody")
        if holder is None:
            raise VendorError(f"{method.upper()} {path} has no requestBody")
    elif kind == "response":
        status = where[3]
        ptr = pointer("paths", path, method, "responses", status)
        holder = op.get("responses", {}).get(status)
        if holder is None:
            raise VendorError(f"{method.upper()} {path} has no {status} response: {sorted(op['responses'])}")
    else:
        raise VendorError(f"unknown locator {where!r}")
    if isinstance(holder, dict) and "$ref" in holder:
        ptr = holder["$ref"]
    media = _media_json(_follow(doc, holder), f"{method.upper()} {path}")
    examples: list[Any] = []
    # Only request and 2xx examples are kept: Kombo's ErrorResponseGeneral example uses an
    # INTEGRATION.* code that its own "platform error codes" enum does not list.
    if kind == "request" or where[3].startswith("2"):
        examples = [_follow(doc, e).get("value") for e in (media.get("examples") or {}).values()]
        if "example" in media:
            examples.insert(0, media["example"])
    schema = media["schema"]
    return ptr + "/content/application~1json/schema", schema, [e for e in examples if e is not None]


def extract(doc: dict[str, Any], name: str, pick: Pick, stats: Stats) -> tuple[str, dict[str, Any]]:
    if pick.operation_id is not None:
        actual_id = doc["paths"][pick.where[1]][pick.where[2]].get("operationId")
        if actual_id != pick.operation_id:
            raise VendorError(
                f"{pick.where}: expected operation {pick.operation_id}, the spec has {actual_id}"
            )
    ptr, raw, examples = locate(doc, pick.where)
    if pick.expect_component is not None:
        actual = raw.get("$ref") if isinstance(raw, dict) else None
        wanted = pointer("components", "schemas", pick.expect_component)
        if actual != wanted:
            raise VendorError(f"{pick.where}: expected {wanted}, the spec has {actual or 'an inline schema'}")
    if isinstance(raw, dict) and isinstance(raw.get("$ref"), str) and len(raw) == 1:
        ptr = raw["$ref"]
        raw = resolve_pointer(doc, ptr)
    inliner = Inliner(doc, root=ptr)
    inlined = inliner.inline(raw, (ptr,))
    schema = convert(inlined, stats, f"{name}#")
    if inliner.defs:
        schema["$defs"] = {
            def_name: convert(s, stats, f"{name}#/$defs/{def_name}") for def_name, s in inliner.defs.items()
        }
    for key in pick.strip:
        schema.pop(key, None)
    if examples:
        schema["examples"] = copy.deepcopy(examples)
    return ptr, {"$schema": DIALECT, **schema}


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check_source_md(folder: Path, file_name: str, digest: str) -> None:
    source_md = folder / "SOURCE.md"
    if not source_md.is_file():
        print(f"warning: {folder}/SOURCE.md is missing; sha256 computed only", file=sys.stderr)
        return
    if digest not in source_md.read_text(encoding="utf-8"):
        print(f"warning: sha256 of {file_name} ({digest}) is not the one in {source_md}", file=sys.stderr)


def build(name: str, provider: Provider, specs_dir: Path) -> tuple[dict[str, Any], Stats]:
    docs: dict[str, dict[str, Any]] = {}
    files: list[dict[str, str]] = []
    file_names: dict[str, str] = {}
    for key, rel in provider.files.items():
        path = specs_dir / rel
        digest = sha256_of(path)
        _check_source_md(path.parent, path.name, digest)
        docs[key] = json.loads(path.read_text(encoding="utf-8"))
        files.append({"file": path.name, "sha256": digest})
        file_names[key] = path.name
    stats = Stats()
    schemas: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for schema_name, pick in provider.picks.items():
        try:
            ptr, schema = extract(docs[pick.file], schema_name, pick, stats)
        except VendorError as exc:
            raise VendorError(f"{name}.{schema_name}: {exc}") from exc
        schemas[schema_name] = schema
        origins[schema_name] = file_names[pick.file] + ptr
    source: dict[str, Any] = {**files[0], "extracted_by": EXTRACTED_BY, "origins": origins}
    if len(files) > 1:
        source["additional_files"] = files[1:]
    return {"source": source, "schemas": schemas}, stats


def dump(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs-dir", type=Path, default=DEFAULT_SPECS_DIR)
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR)
    parser.add_argument("--only", action="append", choices=sorted(PROVIDERS), help="repeatable")
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name in args.only or PROVIDERS:
        try:
            data, stats = build(name, PROVIDERS[name], args.specs_dir)
        except (OSError, ValueError, VendorError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        out = args.out_dir / f"{name}.json"
        text = dump(data)
        out.write_text(text, encoding="utf-8")
        print(
            f"{out}: {len(data['schemas'])} schemas, {len(text.encode()):,} bytes; "
            f"nullable converted: {stats.nullable}; dropped: {stats.dropped or '-'}"
        )
        for where in stats.enum_null_added:
            print(f"  note: null added to enum (type allows null): {where}")
        for where in stats.enum_dupes:
            print(f"  note: duplicate enum values removed: {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
