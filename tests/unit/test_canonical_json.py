"""The canonical JSON of a payload (what its digest and size are taken from) is byte for byte
what orjson wrote before msgspec took over the common case: no stored digest may change."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workers.providers.mapping import canonical_json

# JSON values as extras can carry them: any text, floats of every magnitude, integers past 64 bits.
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def _orjson(payload: dict[str, Any]) -> bytes | None:
    try:
        return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # an integer outside 64 bits
        return None


def _check(payload: dict[str, Any]) -> None:
    expected = _orjson(payload)
    if expected is None:
        with pytest.raises(TypeError):
            canonical_json(payload)
    else:
        assert canonical_json(payload) == expected


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(st.text(), _VALUES, max_size=6))
def test_canonical_json_is_what_orjson_writes_or_refuses(payload: dict[str, Any]) -> None:
    _check(payload)


@pytest.mark.parametrize(
    "value", [1e16, 1.7976931348623157e308, 8.474337369372326e17, 2**64, -(2**63) - 1, 2**64 - 1, -(2**63)]
)
def test_the_values_msgspec_writes_otherwise_go_through_orjson(value: Any) -> None:
    _check({"b": [value], "a": "x"})
