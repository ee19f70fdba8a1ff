"""StackOne: canonical course -> one ``LmsUpsertContentRequestDto`` of ``POST /unified/lms/content/batch``.

StackOne has no deactivate call: an item with ``active = false`` is an ordinary upsert carrying
``active: false`` (``to_deactivation`` is None). StackOne does not support partial updates, so
every upsert repeats every field, ``active`` included (an upsert after a deactivation re-activates).

Languages must be values of StackOne's unified ``LanguageEnum``, which lists only ``ll_CC``
locales (no bare ``en``). The enum is read from the vendored spec (``schemas/openapi/stackone.json``)
so there is one copy of it. A bare ``ll`` becomes the language's CLDR "likely" locale
(``en`` -> ``en_US``); a tag StackOne cannot express is a MappingError naming it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from schemas.course import Course, Translation
from schemas.vendored.stackone import LOCALES, problems
from workers.providers.mapping import Mapper, MappingError, Options, without_none

__all__ = [
    "CONTENT_TYPES",
    "DEFAULT_REGION",
    "LOCALES",
    "MAPPER",
    "iso_duration",
    "locale",
    "to_payload",
    "to_prune",
]

#: Region of a bare language tag where StackOne lists several: CLDR's likely subtags
#: (``en`` -> ``en_US``, ``pt`` -> ``pt_BR``). Languages with a single locale need no entry.
DEFAULT_REGION = {
    "af": "ZA", "ar": "EG", "ay": "BO", "az": "AZ", "bn": "BD", "bs": "BA", "ca": "ES", "de": "DE",
    "el": "GR", "en": "US", "es": "ES", "fa": "IR", "ff": "SN", "fr": "FR", "gn": "PY", "hr": "HR",
    "hy": "AM", "it": "IT", "ko": "KR", "ln": "CD", "ms": "MY", "nb": "NO", "nl": "NL", "nn": "NO",
    "no": "NO", "pa": "IN", "pt": "BR", "qu": "PE", "ro": "RO", "ru": "RU", "sm": "WS", "so": "SO",
    "sq": "AL", "sr": "RS", "ss": "ZA", "sv": "SE", "sw": "TZ", "ta": "IN", "ti": "ET", "tk": "TM",
    "tn": "ZA", "tr": "TR", "ur": "PK", "uz": "UZ", "zh": "CN",
}  # fmt: skip

#: Our content types -> StackOne's ``WriteContentTypeEnum``; others go as ``unmapped_value``.
CONTENT_TYPES = {
    "course": "course", "video": "video", "article": "article", "podcast": "audio", "book": "book",
    "webinar": "event", "event": "event", "assessment": "quiz",
}  # fmt: skip


def _bare_locales() -> dict[str, str]:
    by_language: dict[str, list[str]] = {}
    for value in sorted(LOCALES):
        by_language.setdefault(re.split("[_-]", value)[0], []).append(value)
    bare = {}
    for language, values in by_language.items():
        region = DEFAULT_REGION.get(language)
        wanted = f"{language}_{region}" if region else None
        bare[language] = wanted if wanted in values else values[0]
    return bare


_BARE = _bare_locales()


def locale(tag: str, field: str) -> str:
    """StackOne's locale for our BCP 47 ``tag`` (``en-GB`` -> ``en_GB``, ``en`` -> ``en_US``).

    Raises:
        MappingError: on ``field`` when StackOne has no locale for the tag.
    """
    language, _, region = tag.partition("-")
    if not region:
        if language not in _BARE:
            raise MappingError(field, f"StackOne has no locale for the language {tag!r}")
        return _BARE[language]
    for candidate in (f"{language}_{region}", tag):  # the enum spells bs-ME with a hyphen
        if candidate in LOCALES:
            return candidate
    hint = f"; use {language!r} (sent as {_BARE[language]})" if language in _BARE else ""
    raise MappingError(field, f"StackOne has no locale for {tag!r}{hint}")


def iso_duration(minutes: int) -> str:
    """ISO 8601 duration of ``minutes`` (> 0): 45 -> ``PT45M``, 90 -> ``PT1H30M``, 480 -> ``PT8H``."""
    hours, rest = divmod(minutes, 60)
    return "PT" + (f"{hours}H" if hours else "") + (f"{rest}M" if rest else "")


def _utc(value: str | None) -> str | None:
    """RFC 3339 UTC (``...Z``); a date-time without offset is taken as UTC."""
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return parsed.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _localization(t: Translation, i: int) -> dict[str, Any]:
    language = {"value": locale(t.language, f"translations[{i}].language")}
    return without_none({"title": t.title, "description": t.description, "language": language})


def to_payload(course: Course, options: Options) -> dict[str, Any]:
    """The content item; ``extra.stackone`` is merged in last and must keep it schema-valid."""
    languages = dict.fromkeys(locale(tag, f"languages[{i}]") for i, tag in enumerate(course.languages))
    kind = CONTENT_TYPES.get(course.content_type)
    body = without_none(
        {
            "external_reference": course.id,
            "title": course.title,
            "description": course.description,
            "short_description": course.short_description,
            "content_url": course.url,
            "mobile_launch_content_url": course.mobile_url,
            "cover_url": course.thumbnail_url,
            "content_type": {"value": kind}
            if kind
            else {"value": "unmapped_value", "source_value": course.content_type},
            "duration": iso_duration(course.duration_minutes) if course.duration_minutes else None,
            "languages": [{"value": v} for v in languages],
            "localizations": [_localization(t, i) for i, t in enumerate(course.translations)],
            "skills": [{"name": s} for s in course.skills],
            "categories": [{"name": c} for c in course.categories],
            "tags": list(course.tags),
            "updated_at": _utc(course.updated_at),
        }
    )
    body["active"] = course.active  # always sent: no partial updates, and false deactivates
    extra = course.extra.get("stackone")
    if extra:
        if "external_reference" in extra:
            raise MappingError(
                "extra.stackone.external_reference", "is the upsert key, always the item id; remove it"
            )
        body.update(extra)
        # A bad extra field would make StackOne refuse the whole batch (422); refuse the item.
        found, _ = problems("LmsUpsertContentRequestDto", body, limit=1)
        if found:
            path, _, reason = found[0].partition(": ")
            raise MappingError(f"extra.stackone.{path}", reason)
    return body


def to_prune(item_id: str, options: Options) -> tuple[str, dict[str, Any]]:
    """StackOne deactivates through an upsert with ``active: false``. Only the reference is
    known for an item gone from the catalog; StackOne has no partial updates, so the LMS may
    keep nothing but the reference and the inactive flag (fine for content that left)."""
    return "upsert", {"external_reference": item_id, "active": False}


MAPPER = Mapper(provider="stackone", version=1, to_payload=to_payload, to_prune=to_prune)
