"""The providers' real request/response schemas, vendored by scripts/vendor_specs.py."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

__all__ = ["describe_errors", "validator"]


@cache
def _schemas(provider: str) -> dict[str, Any]:
    text = resources.files("sandbox").joinpath(f"specs/{provider}.json").read_text(encoding="utf-8")
    return dict(json.loads(text)["schemas"])


@cache
def validator(provider: str, name: str) -> Draft202012Validator:
    """A compiled validator for schema ``name`` of ``provider`` (built once per process)."""
    return Draft202012Validator(_schemas(provider)[name])


def _path(parts: Any) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(body)"


def describe_errors(provider: str, name: str, doc: Any, limit: int = 5) -> list[str]:
    """Readable ``path: reason`` lines for the first ``limit`` violations, [] when valid."""
    errors = sorted(validator(provider, name).iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    return [_describe(e) for e in errors[:limit]]


def _describe(error: ValidationError) -> str:
    # A oneOf/anyOf failure says only "not valid under any schema"; its best sub-error says why.
    while error.context:
        error = best_match(error.context) or error.context[0]
    return f"{_path(error.absolute_path)}: {error.message}"
