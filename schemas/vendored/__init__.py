"""The providers' own request and response schemas, vendored by ``scripts/vendor_specs.py``.

``schemas/openapi/<provider>.json`` holds self-contained Draft 2020-12 schemas, so neither the
sandbox nor the tests need /work/shared or the network. Validators are built once per process.
Valid bodies pass a compiled fastjsonschema check; jsonschema explains the invalid ones.
``format`` stays an annotation (the jsonschema default): the providers' formats such as
``int64`` or ``uri`` are documentation, and checking them would only cost time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

__all__ = ["describe_errors", "json_path", "problems_text", "schema", "source", "validator"]


@cache
def _document(provider: str) -> dict[str, Any]:
    text = resources.files("schemas").joinpath("openapi", f"{provider}.json").read_text(encoding="utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


def source(provider: str) -> dict[str, Any]:
    """Where the schemas of ``provider`` come from (file, sha256, JSON pointers)."""
    return dict(_document(provider)["source"])


def schema(provider: str, name: str) -> dict[str, Any]:
    """The vendored schema ``name`` of ``provider``; KeyError names the known ones."""
    schemas: dict[str, Any] = _document(provider)["schemas"]
    if name not in schemas:
        raise KeyError(f"{provider} has no vendored schema {name!r}; known: {sorted(schemas)}")
    found: dict[str, Any] = schemas[name]
    return found


@cache
def validator(provider: str, name: str) -> Draft202012Validator:
    """A validator for schema ``name`` of ``provider``, built on first use."""
    return Draft202012Validator(schema(provider, name))


@cache
def _quick_check(provider: str, name: str) -> Callable[[Any], Any] | None:
    """fastjsonschema's compiled check of schema ``name``, or None where it cannot compile it."""
    found = _without_formats({k: v for k, v in schema(provider, name).items() if k != "$schema"})
    try:
        check: Callable[[Any], Any] = fastjsonschema.compile(found)
    except fastjsonschema.JsonSchemaDefinitionException:
        return None
    return check


def _without_formats(node: Any) -> Any:
    # "format" is an annotation here, as for jsonschema; fastjsonschema would check it. A key
    # "format" with a string value is the keyword; a property named format has a dict.
    if isinstance(node, dict):
        return {k: _without_formats(v) for k, v in node.items() if not (k == "format" and isinstance(v, str))}
    if isinstance(node, list):
        return [_without_formats(v) for v in node]
    return node


def describe_errors(
    provider: str,
    name: str,
    instance: Any,
    limit: int = 3,
    *,
    describe: Callable[[ValidationError], str] | None = None,
) -> tuple[list[str], int]:
    """``path: reason`` for the first ``limit`` violations in document order, and how many there are.

    Example line: ``items[3].course.duration: -5 is less than or equal to the minimum of 0``.
    A valid ``instance`` gives ``([], 0)``. ``describe`` words one error (default: the most
    relevant branch of a oneOf/anyOf, see ``_describe``).
    """
    # jsonschema finds every error but walks a 1,000-item body in ~90 ms; fastjsonschema's
    # compiled check takes ~4 ms and stops at the first. A body it passes is valid (it is never
    # looser on these schemas: tests/unit/test_vendored_specs.py); anything else, even what it
    # rejects only for a stricter "format", goes to jsonschema, which decides and explains.
    quick = _quick_check(provider, name)
    if quick is not None:
        try:
            quick(instance)
        except fastjsonschema.JsonSchemaValueException:
            pass
        else:
            return [], 0
    errors = sorted(validator(provider, name).iter_errors(instance), key=_order)
    return [(describe or _describe)(e) for e in errors[:limit]], len(errors)


def problems_text(problems: list[str], total: int) -> str:
    """``describe_errors``' answer as one sentence part: ``a: x; b: y (and 4 more)``."""
    more = f" (and {total - len(problems)} more)" if total > len(problems) else ""
    return "; ".join(problems) + more


def _order(error: ValidationError) -> list[tuple[int, int, str]]:
    # Array indexes compare as numbers, so items[10] comes after items[9].
    return [(0, p, "") if isinstance(p, int) else (1, 0, str(p)) for p in error.absolute_path]


def _describe(error: ValidationError) -> str:
    # A oneOf/anyOf failure only says "not valid under any of the given schemas"; the most
    # relevant error of its branches says why (Kombo's course is a oneOf with one branch).
    while error.context:
        error = best_match(error.context) or error.context[0]
    return f"{json_path(error.absolute_path)}: {error.message}"


def json_path(parts: Any) -> str:
    """``["items", 3, "course"]`` as ``items[3].course``; the whole body is ``(body)``."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(body)"
