"""Hypothesis strategies for provider answers: from the vendored response schemas, then broken.

``from_schema`` covers the JSON Schema subset the vendored response schemas use (type, const,
enum, properties, required, items, anyOf/oneOf); ``by_name`` replaces the strategy of a named
property anywhere (so ids come from a small set that meets the batch's items). ``broken`` then
applies a few structural mutations: keys dropped or added, types changed, lists wrapped,
unwrapped, emptied, duplicated or reordered, null.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

__all__ = ["GARBAGE_HEADERS", "broken", "from_schema", "json_values"]

#: Scalars of every JSON type; ints far from any batch position (1..10), so a changed type never
#: names a row by accident.
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=1000, max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
json_values = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)

#: Header values a provider (or a proxy) might get wrong.
GARBAGE_HEADERS = st.dictionaries(
    st.sampled_from(
        [
            "retry-after",
            "retry-after-ms",
            "ratelimit-reset",
            "x-ratelimit-reset",
            "ratelimit-remaining",
            "concurrency-limit",
        ]
    ),
    st.sampled_from(
        [
            "abc",
            "inf",
            "nan",
            "-5",
            "1e400",
            "",
            "99999999999999999999999",
            "1764460800000",
            "Wed, 99 Foo 2026",
            "0",
        ]
    ),
    max_size=3,
)


def from_schema(
    schema: dict[str, Any], by_name: dict[str, st.SearchStrategy[Any]] | None = None
) -> st.SearchStrategy[Any]:
    by_name = by_name or {}
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return st.one_of([from_schema(s, by_name) for s in schema[key]])
    types = schema.get("type", ["object"] if "properties" in schema else list(_SIMPLE))
    types = [types] if isinstance(types, str) else types
    return st.one_of([_typed(t, schema, by_name) for t in types])


_SIMPLE = {
    "string": st.text(max_size=10),
    "number": st.floats(allow_nan=False, allow_infinity=False),
    "integer": st.integers(min_value=1000, max_value=10**6),
    "boolean": st.booleans(),
    "null": st.none(),
}


def _typed(
    kind: str, schema: dict[str, Any], by_name: dict[str, st.SearchStrategy[Any]]
) -> st.SearchStrategy[Any]:
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {}), by_name), max_size=5)
    if kind != "object":
        return _SIMPLE[kind]
    props = schema.get("properties", {})
    required = set(schema.get("required", ()))
    fields = {k: by_name[k] if k in by_name else from_schema(v, by_name) for k, v in props.items()}
    return st.fixed_dictionaries(
        {k: v for k, v in fields.items() if k in required},
        optional={k: v for k, v in fields.items() if k not in required},
    )


def _places(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    children = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for key, value in children:
        found += _places(value, (*path, key))
    return found


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def _put(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    _get(doc, path[:-1])[path[-1]] = value
    return doc


@st.composite
def broken(draw: st.DrawFn, docs: st.SearchStrategy[Any], max_changes: int = 3) -> Any:
    """A document of ``docs`` with up to ``max_changes`` structural mutations."""
    doc = copy.deepcopy(draw(docs))
    for _ in range(draw(st.integers(0, max_changes))):
        path = draw(st.sampled_from(_places(doc)))
        value = _get(doc, path)
        kind = draw(
            st.sampled_from(
                ["retype", "null", "wrap", "unwrap", "drop", "add", "duplicate", "reorder", "empty"]
            )
        )
        if kind == "retype":
            old_type = type(value)
            doc = _put(doc, path, draw(json_values.filter(lambda v, t=old_type: type(v) is not t)))
        elif kind == "null":
            doc = _put(doc, path, None)
        elif kind == "wrap":
            doc = _put(doc, path, [value])
        elif kind == "unwrap" and isinstance(value, list) and value:
            doc = _put(doc, path, value[0])
        elif kind == "drop" and path:
            del _get(doc, path[:-1])[path[-1]]
        elif kind == "add" and isinstance(value, dict):
            value[draw(st.text(max_size=6))] = draw(json_values)
        elif kind == "duplicate" and isinstance(value, list) and value:
            value.append(copy.deepcopy(draw(st.sampled_from(value))))
        elif kind == "reorder" and isinstance(value, list):
            value.reverse()
        elif kind == "empty" and isinstance(value, list | dict):
            value.clear()
    return doc
