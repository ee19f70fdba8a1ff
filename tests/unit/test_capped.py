"""The catalog caps: settings, bounded lines, and the ids an oversized line may be named by."""

from __future__ import annotations

import io

import pytest

from producers import capped
from producers.capped import CatalogCaps, Oversized, bounded_lines, sniff_id
from workers.config import Settings
from workers.errors import ConfigError


def test_each_cap_is_a_setting_read_from_the_variable_its_messages_name() -> None:
    # Given the variables the cap messages tell an operator to raise
    names = (capped.LINE_SETTING, capped._SIZE_SETTING, capped._RATIO_SETTING)
    # When they are set, then the caps follow them
    settings = Settings.from_env(dict(zip(names, ("2048", "10000000", "50"), strict=True)))
    assert CatalogCaps.from_settings(settings) == CatalogCaps(2048, 10_000_000, 50)
    # And the defaults are those the README states
    assert CatalogCaps.from_settings(Settings()) == CatalogCaps(1 << 20, 16 << 30, 400)
    # And a malformed value is refused at start-up
    with pytest.raises(ConfigError, match="COURSESYNC_CATALOG_MAX_LINE_BYTES='1MB' is not a valid int"):
        Settings.from_env({"COURSESYNC_CATALOG_MAX_LINE_BYTES": "1MB"})


def test_bounded_lines_keep_lines_up_to_the_cap_and_skip_the_rest_of_longer_ones() -> None:
    # A line of the cap is kept; a longer one keeps what was read to find it too long (the cap
    # and one byte, at most HEAD_BYTES), then the rest is read past
    data = b"1234\n12345\n123456\n" + b"x" * 200_000 + b"\nlast"
    got = list(bounded_lines(io.BytesIO(data), 5))
    assert got == [b"1234\n", b"12345\n", Oversized(b"123456"), Oversized(b"x" * 6), b"last"]


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b'{"id": "c-1", "title": "x', "c-1"),
        (b'\xef\xbb\xbf  {\n "id" :"caf\\u00e9\\"s"', 'caf\u00e9"s'),
        (b'{"title": "x", "id": "c-1"', None),  # not the first key: it could be a nested one
        (b'{"id": 7}', None),
        (b'{"id": "   "}', None),
        (b'{"id": "\\ud800"}', None),  # a lone surrogate: no id can carry it
        (b'{"id": "\xff"}', None),
        (b'{"id": "' + b"a" * 5000, None),  # cut before its end
        (b"[1, 2]", None),
    ],
)
def test_an_oversized_line_is_named_only_by_an_id_that_is_its_first_key(
    head: bytes, expected: str | None
) -> None:
    assert sniff_id(head) == expected
