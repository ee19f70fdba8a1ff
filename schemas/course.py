"""The canonical course item of product.md, as a marshmallow schema.

``validate_item`` turns one raw catalog record into a ``Course`` or into the complete list of
reasons it is invalid, each naming the field. It never raises for bad data: one bad item must
never stop the others.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate

from schemas.providers import provider_names

__all__ = [
    "CONTENT_TYPES",
    "DIFFICULTIES",
    "Course",
    "FieldError",
    "Translation",
    "validate_item",
]

CONTENT_TYPES = (
    "course",
    "video",
    "article",
    "podcast",
    "book",
    "webinar",
    "event",
    "assessment",
    "other",
)
DIFFICULTIES = ("beginner", "intermediate", "advanced", "expert")

#: BCP 47 as the providers accept it: ``ll`` or ``ll-CC`` (Kombo's pattern, product.md).
LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}(-[A-Z]{2})?$")
#: C0 controls other than tab, newline and carriage return; they break LMS UIs and CSV exports.
#: Also unpaired UTF-16 surrogates (a JSON "\ud83d" cut from its pair): no UTF-8 can carry them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
#: 360Learning accepts 1..100000 minutes; nothing real is longer than 69 days.
MAX_DURATION_MINUTES = 100_000
#: Descriptions beyond this are almost always a data error (an embedded file, a runaway join).
MAX_DESCRIPTION_CHARS = 100_000
#: Ids, sources, tags, skills and categories: what every provider's id and label fields take.
MAX_LABEL_CHARS = 255
MAX_TITLE_CHARS = 500
MAX_SHORT_DESCRIPTION_CHARS = 2000


def _provider_name(value: str) -> None:
    """An ``extra`` key must name an installed provider (``schemas.providers`` says how it knows)."""
    names = provider_names()
    if value not in names:
        raise ValidationError(f"{value!r} is not a provider; use one of: {', '.join(names)}")


@dataclass(frozen=True, slots=True)
class FieldError:
    """One reason an item is invalid."""

    field: str
    message: str


# Course and Translation are not frozen: a frozen dataclass sets each field through
# object.__setattr__, which made building a Course (19 fields) 7x slower on the producer's hot
# path. Treat them as immutable all the same.
@dataclass(slots=True)
class Translation:
    language: str
    title: str | None = None
    description: str | None = None


@dataclass(slots=True)
class Course:
    """A validated canonical course item (product.md, "The catalog")."""

    id: str
    title: str
    url: str
    description: str | None = None
    short_description: str | None = None
    mobile_url: str | None = None
    thumbnail_url: str | None = None
    duration_minutes: int | None = None
    languages: tuple[str, ...] = ()
    content_type: str = "course"
    difficulty: str | None = None
    tags: tuple[str, ...] = ()
    skills: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    translations: tuple[Translation, ...] = ()
    source: str | None = None
    active: bool = True
    updated_at: str | None = None
    extra: dict[str, dict[str, Any]] = field(default_factory=dict)


def _no_controls(value: str) -> None:
    m = _CONTROL.search(value)
    if m:
        code = ord(m.group())
        if 0xD800 <= code <= 0xDFFF:
            raise ValidationError(f"contains an unpaired surrogate U+{code:04X} (not valid Unicode)")
        raise ValidationError(f"contains control character U+{code:04X}")


def _not_blank(value: str) -> None:
    # An id or title of spaces is a missing one in disguise: LMSs show or match it as empty.
    if value and not value.strip():
        raise ValidationError("must not be blank")


def _http_url(value: str) -> None:
    _no_controls(value)
    try:
        parts = urlsplit(value)
    except ValueError:  # "http://[::1" and other malformed hosts
        raise ValidationError("must be an absolute http(s) URL") from None
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in value:
        raise ValidationError("must be an absolute http(s) URL")


def _iso_datetime(value: str) -> None:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError("must be an ISO 8601 date-time such as 2026-01-31T12:00:00Z") from None


def _text(*, min_len: int = 1, max_len: int, required: bool = False, not_blank: bool = False) -> fields.Str:
    checks: list[Callable[[Any], Any]] = [
        validate.Length(min=min_len, max=max_len, error="must be {min} to {max} characters long"),
        _no_controls,
    ]
    return fields.Str(required=required, validate=[*checks, _not_blank] if not_blank else checks)


def _strings(max_len: int = MAX_LABEL_CHARS) -> fields.List[str]:
    return fields.List(
        fields.Str(
            validate=[
                validate.Length(min=1, max=max_len, error="must be {min} to {max} characters long"),
                _no_controls,
            ]
        )
    )


class _TranslationSchema(Schema):
    class Meta:
        unknown = RAISE

    language = fields.Str(
        required=True,
        validate=validate.Regexp(LANGUAGE_TAG, error="is not a BCP 47 tag like en or en-GB"),
    )
    title = _text(max_len=MAX_TITLE_CHARS)
    description = _text(max_len=MAX_DESCRIPTION_CHARS)


class CourseSchema(Schema):
    class Meta:
        unknown = RAISE

    id = _text(max_len=MAX_LABEL_CHARS, required=True, not_blank=True)
    title = _text(max_len=MAX_TITLE_CHARS, required=True, not_blank=True)
    url = fields.Str(required=True, validate=_http_url)
    description = _text(min_len=0, max_len=MAX_DESCRIPTION_CHARS)
    short_description = _text(min_len=0, max_len=MAX_SHORT_DESCRIPTION_CHARS)
    mobile_url = fields.Str(validate=_http_url)
    thumbnail_url = fields.Str(validate=_http_url)
    duration_minutes = fields.Int(
        strict=True,
        validate=validate.Range(
            min=1,
            max=MAX_DURATION_MINUTES,
            error=f"must be between 1 and {MAX_DURATION_MINUTES} minutes",
        ),
    )
    languages = fields.List(
        fields.Str(validate=validate.Regexp(LANGUAGE_TAG, error="is not a BCP 47 tag like en or en-GB"))
    )
    content_type = fields.Str(validate=validate.OneOf(CONTENT_TYPES))
    difficulty = fields.Str(validate=validate.OneOf(DIFFICULTIES))
    tags = _strings()
    skills = _strings()
    categories = _strings()
    translations = fields.List(fields.Nested(_TranslationSchema))
    source = _text(max_len=MAX_LABEL_CHARS)
    active = fields.Bool(truthy={True}, falsy={False})
    updated_at = fields.Str(validate=_iso_datetime)
    extra = fields.Dict(keys=fields.Str(validate=_provider_name), values=fields.Dict(keys=fields.Str()))

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Course:
        for key in ("languages", "tags", "skills", "categories"):
            if key in data:
                data[key] = tuple(data[key])
        if "translations" in data:
            data["translations"] = tuple(Translation(**t) for t in data["translations"])
        return Course(**data)


_SCHEMA = CourseSchema()


def validate_item(raw: Any) -> Course | list[FieldError]:
    """A ``Course`` when ``raw`` is valid, else every reason it is not (never raises)."""
    if not isinstance(raw, dict):
        return [FieldError("(item)", f"must be an object, not {type(raw).__name__}")]
    try:
        course: Course = _SCHEMA.load(raw)
    except ValidationError as exc:
        return _flatten(exc.messages)
    except Exception as exc:
        return [FieldError("(item)", f"could not be validated ({type(exc).__name__}: {exc})")]
    return course


def _flatten(messages: Any, prefix: str = "") -> list[FieldError]:
    out: list[FieldError] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = key if key != "_schema" else "(item)"
            if isinstance(key, int):
                path = f"{prefix}[{key}]"
            elif key in ("key", "value") and prefix.startswith("extra."):
                path = prefix  # marshmallow's Dict nests key/value errors one level deeper
            else:
                path = f"{prefix}.{name}" if prefix else str(name)
            out.extend(_flatten(value, path))
    elif isinstance(messages, list):
        for m in messages:
            out.extend(
                _flatten(m, prefix) if isinstance(m, dict | list) else [FieldError(prefix, _sentence(str(m)))]
            )
    else:
        out.append(FieldError(prefix, _sentence(str(messages))))
    return out


def _sentence(message: str) -> str:
    return message[:-1] if message.endswith(".") else message
