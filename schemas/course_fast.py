"""A fast path for the common case: an item that is plainly valid.

Marshmallow (``schemas.course``) is the authority on what is valid and says every reason an
item is not; it costs about 45 µs an item. Here msgspec Structs declare the same rules, built
from the same constants, and msgspec decodes and validates a JSON line in one pass in C, several
times faster than ``json.loads`` alone. The Structs may only *accept* what marshmallow accepts
(where a rule cannot be said exactly, such as a URL or a date-time, they say a stricter one):
whatever msgspec refuses returns None, and marshmallow decides, with its messages.
``tests/unit/test_course_fast.py`` checks both agree on thousands of valid and broken items.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import msgspec
import orjson
from msgspec import Meta

from schemas.course import (
    _CONTROL,
    CONTENT_TYPES,
    DIFFICULTIES,
    LANGUAGE_TAG,
    MAX_DESCRIPTION_CHARS,
    MAX_DURATION_MINUTES,
    MAX_LABEL_CHARS,
    MAX_SHORT_DESCRIPTION_CHARS,
    MAX_TITLE_CHARS,
    Course,
    FieldError,
    Translation,
    validate_item,
)
from schemas.providers import provider_names

__all__ = ["decode_course", "fast_course", "validate_fast"]

#: The body of ``_CONTROL``'s character class: the characters no text may hold.
_CONTROLS = _CONTROL.pattern.removeprefix("[").removesuffix("]")
#: Text without control characters (``_no_controls``).
_CLEAN = rf"\A[^{_CONTROLS}]*\Z"
#: ...and not blank (``_not_blank``): whitespace, one character that is not, then anything.
#: Written so that a long run of spaces is read once, never backtracked over.
_CLEAN_NOT_BLANK = rf"\A[^\S{_CONTROLS}]*[^\s{_CONTROLS}][^{_CONTROLS}]*\Z"
#: Not blank, in a text known to hold no control character.
_NOT_BLANK = r"\S"
#: Stricter than marshmallow's ``_http_url`` (urlsplit): a lower-case http(s) scheme, a host of
#: ASCII letters, digits and the few marks hosts and ports use (no brackets, no ``@``, nothing
#: urlsplit could refuse), then no whitespace (``{rest}``: and no control character).
_URL_FORM = r"\Ahttps?://[A-Za-z0-9.:_~%!$&'()*+,;=-]+(?:[/?#]{rest}*)?\Z"
_URL = _URL_FORM.format(rest=rf"[^\s{_CONTROLS}]")
#: A strict subset of what ``datetime.fromisoformat`` takes (``_iso_datetime``): a real date
#: (February 29 is left to marshmallow), then optionally a time and a UTC offset.
_DATE = (
    r"(?!0000)[0-9]{4}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
    r"|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)"
)
_TIME = (
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?"
)
_DATE_TIME = rf"\A{_DATE}(?:{_TIME})?\Z"
#: The escapes that can put a control character in a decoded JSON string: ``\b``, ``\f`` and
#: ``\uXXXX`` (``\\u`` matches too: it only costs a line the slower decoder).
_CONTROL_ESCAPE = re.compile(rb"\\[bfu]")


def _may_hold_controls(line: bytes) -> bool:
    """Whether a decoded string of this JSON text could hold a control character: JSON forbids
    raw bytes below 0x20 in strings and msgspec refuses UTF-8 that encodes a surrogate, so only
    a DEL byte or an escape can. A line with neither skips the control checks."""
    return b"\x7f" in line or (b"\\" in line and _CONTROL_ESCAPE.search(line) is not None)


Language = Annotated[str, Meta(pattern=LANGUAGE_TAG.pattern)]
Minutes = Annotated[int, Meta(ge=1, le=MAX_DURATION_MINUTES)]
DateTime = Annotated[str, Meta(pattern=_DATE_TIME)]
#: The default of a field that is optional but never null: marshmallow refuses an explicit
#: null, so the type stays ``str`` and only a missing field takes None (as in ``Course``).
_ABSENT: Any = None


def _struct(*, controls: bool, extra: Any) -> Any:
    """The Struct of a course, its fields in the order of ``Course`` (a Course is built from
    its values as they are). ``controls``: check that no text holds a control character.
    ``extra``: the type of the values of an ``extra``."""
    clean, not_blank = (_CLEAN, _CLEAN_NOT_BLANK) if controls else (None, _NOT_BLANK)
    url = Annotated[str, Meta(pattern=_URL if controls else _URL_FORM.format(rest=r"\S"))]

    def text(low: int, high: int, pattern: str | None = clean) -> Any:
        return Annotated[str, Meta(min_length=low, max_length=high, pattern=pattern)]

    label = text(1, MAX_LABEL_CHARS)
    translation = msgspec.defstruct(
        "Translation",
        [
            ("language", Language),
            ("title", text(1, MAX_TITLE_CHARS), _ABSENT),
            ("description", text(1, MAX_DESCRIPTION_CHARS), _ABSENT),
        ],
        forbid_unknown_fields=True,
        gc=False,
    )
    # Types made at run time, which mypy cannot follow (hence the ignores). The provider names
    # are read once, at import (schemas.providers caches them).
    providers = Literal[provider_names()]  # type: ignore[valid-type]
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = [
        ("id", text(1, MAX_LABEL_CHARS, not_blank)),
        ("title", text(1, MAX_TITLE_CHARS, not_blank)),
        ("url", url),
        ("description", text(0, MAX_DESCRIPTION_CHARS), _ABSENT),
        ("short_description", text(0, MAX_SHORT_DESCRIPTION_CHARS), _ABSENT),
        ("mobile_url", url, _ABSENT),
        ("thumbnail_url", url, _ABSENT),
        ("duration_minutes", Minutes, _ABSENT),
        ("languages", tuple[Language, ...], ()),
        ("content_type", Literal[CONTENT_TYPES], "course"),
        ("difficulty", Literal[DIFFICULTIES], _ABSENT),
        ("tags", tuple[label, ...], ()),  # type: ignore[valid-type]
        ("skills", tuple[label, ...], ()),  # type: ignore[valid-type]
        ("categories", tuple[label, ...], ()),  # type: ignore[valid-type]
        ("translations", tuple[translation, ...], ()),  # type: ignore[valid-type]
        ("source", label, _ABSENT),
        ("active", bool, True),
        ("updated_at", DateTime, _ABSENT),
        ("extra", dict[providers, dict[str, extra]], msgspec.field(default_factory=dict)),  # type: ignore[valid-type]
    ]
    return msgspec.defstruct("Course", fields, forbid_unknown_fields=True, gc=False)


# The values of an ``extra`` are left as JSON text for orjson, the parser of the dict path:
# msgspec reads an integer beyond 64 bits exactly, orjson as a float, and both paths must
# build the same Course.
_DECODE_PLAIN = msgspec.json.Decoder(_struct(controls=False, extra=msgspec.Raw)).decode
_DECODE_CHECKED = msgspec.json.Decoder(_struct(controls=True, extra=msgspec.Raw)).decode
_DICT_COURSE = _struct(controls=True, extra=Any)


def _course(values: Any) -> Course:
    course = Course(*msgspec.structs.astuple(values))
    if course.translations:  # tested first: most items have none
        course.translations = tuple(
            Translation(t.language, t.title, t.description) for t in values.translations
        )
    return course


def decode_course(line: bytes) -> Course | None:
    """The ``Course`` marshmallow would build from one JSON text, when it is plainly valid;
    else None (not valid JSON, not UTF-8, or not plainly valid)."""
    decode = _DECODE_CHECKED if _may_hold_controls(line) else _DECODE_PLAIN
    try:
        values = decode(line)
        course = _course(values)
        if values.extra:
            course.extra = {
                name: {key: orjson.loads(value) for key, value in inner.items()}
                for name, inner in values.extra.items()
            }
    except (msgspec.DecodeError, orjson.JSONDecodeError):  # msgspec.ValidationError is a DecodeError
        return None
    return course


def fast_course(raw: Any) -> Course | None:
    """The ``Course`` marshmallow would build from a parsed item, when it is plainly valid; else None."""
    try:
        return _course(msgspec.convert(raw, _DICT_COURSE))
    except (msgspec.ValidationError, UnicodeEncodeError):  # the latter: a surrogate in a choice
        return None


def validate_fast(raw: Any) -> Course | list[FieldError]:
    """Like ``schemas.course.validate_item`` (same result), but fast for plainly valid items."""
    return fast_course(raw) or validate_item(raw)
