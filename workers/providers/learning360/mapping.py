"""360Learning: canonical course -> one ``ExternalCourse`` of ``PUT /api/v2/bulk/integrations/{id}/courses``.

360Learning requires ``sources`` and ``subjects`` on every course and knows only the languages
of its ``Lang`` enum (``en``, ``en_GB``, ``zh_tw``...), so an item that cannot satisfy them is a
``MappingError`` naming the field and the fix, never a request the API would refuse.

Choices where the two vocabularies differ (each is lossy on purpose and documented here):

- language: ``ll-CC`` becomes ``ll_CC`` when 360Learning has it, else ``ll`` (``de-CH`` -> ``de``),
  else the one regional form it has for ``ll`` (``he`` -> ``he_IL``); see ``lang_360``.
- difficulty: ``expert`` becomes ``advanced``, 360Learning's highest level.
- content type: ``webinar`` becomes ``video`` (what a learner opens is a recording to watch);
  ``event`` and ``other`` have no counterpart and are omitted, which 360Learning reads as ``course``.
- description: ``description``, else ``short_description`` (360Learning has one field).
- subjects: categories then tags (deduplicated), else skills, else ``default_subjects``.
"""

from __future__ import annotations

from typing import Any

from schemas.course import Course
from workers.providers.extras import merge_checked
from workers.providers.mapping import Mapper, MappingError, Options, without_none

__all__ = ["LANGS", "MAPPER", "lang_360", "to_deactivation", "to_payload", "to_prune"]

#: 360Learning's ``Lang`` enum (schemas/openapi/360learning.json), spellings as the API wants them.
LANGS = frozenset((
    "bg", "cs", "da", "de", "el", "en", "es", "fi", "fr", "hr", "ht_HT", "hu", "id", "it", "ja",
    "kar_MM", "ko", "lt", "mh_MH", "nl", "nl_BE", "no", "pl", "pt", "ro", "ru", "rw_RW", "sk",
    "sl", "so_SO", "sv", "sw_KE", "th", "ti_ET", "tr", "uk", "zh", "am_ET", "bn", "bs", "ca", "cy",
    "en_CA", "en_GB", "es_AR", "es_MX", "et", "fr_CA", "gu", "he_IL", "hy", "kk", "km", "lo", "lv",
    "mi", "mn_MN", "mr", "ms", "my_MM", "nn_NO", "or", "pa", "pt_BR", "pt_MZ", "rn_BI", "si", "ta",
    "te", "tl_PH", "ur", "uz", "yo_NG", "zh_tw", "hi", "sr", "ar", "vi", "zh_HANT"
))  # fmt: skip
#: Tags whose 360Learning value the general rule cannot find (odd casing, other codes).
_ALIASES = {"zh-TW": "zh_tw", "zh-HK": "zh_HANT", "zh-MO": "zh_HANT", "nb": "no", "nb-NO": "no"}
_DIFFICULTY = {"beginner": "beginner", "intermediate": "intermediate", "advanced": "advanced",
               "expert": "advanced"}  # fmt: skip
_CONTENT_TYPE = {"course": "course", "video": "video", "article": "article", "podcast": "podcast",
                 "book": "book", "assessment": "assessment", "webinar": "video"}  # fmt: skip
#: Used when an item has no ``languages`` and the connection sets no ``default_language``.
DEFAULT_LANGUAGE = "en"


def lang_360(tag: str) -> str | None:
    """360Learning's ``Lang`` value for BCP 47 ``tag`` (``ll`` or ``ll-CC``), or None."""
    if tag in _ALIASES:
        return _ALIASES[tag]
    language, _, region = tag.partition("-")
    if region and f"{language}_{region}" in LANGS:
        return f"{language}_{region}"
    if language in LANGS:
        return language
    regional = [lang for lang in LANGS if lang.startswith(language + "_")]
    return regional[0] if len(regional) == 1 else None


def _lang(tag: str, field: str) -> str:
    found = lang_360(tag)
    if found is None:
        raise MappingError(field, f"360Learning does not accept the language {tag!r}")
    return found


def _subjects(course: Course, options: Options) -> list[str]:
    subjects = list(dict.fromkeys((*course.categories, *course.tags))) or list(dict.fromkeys(course.skills))
    if not subjects:
        default = options.get("default_subjects") or []
        subjects = [s for s in default if isinstance(s, str) and s]
    if not subjects:
        raise MappingError(
            "subjects",
            "360Learning requires at least one subject: set default_subjects on the connection "
            "or give the item tags/categories",
        )
    return subjects


def _translations(course: Course) -> list[dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for i, t in enumerate(course.translations):
        fields = without_none({"name": t.title, "description": t.description or None})
        lang = _lang(t.language, f"translations[{i}].language")
        if fields and lang not in out:  # the first of two tags that map alike wins
            out[lang] = {"lang": lang, "translatedFields": fields}
    return list(out.values())


def to_payload(course: Course, options: Options) -> dict[str, Any]:
    """One ``ExternalCourse``; ``extra["360learning"]`` merges in last (it may not set externalId,
    and the course must stay schema-valid: else a MappingError names the field)."""
    default_tag = (
        course.languages[0] if course.languages else options.get("default_language", DEFAULT_LANGUAGE)
    )
    default_lang = _lang(default_tag, "languages[0]" if course.languages else "default_language")
    source = course.source or options.get("default_source")
    if not source:
        raise MappingError(
            "source",
            "360Learning requires a source: give the item a source or set default_source on the connection",
        )
    translations = [t for t in _translations(course) if t["lang"] != default_lang]
    body = without_none(
        {
            "externalId": course.id,
            "name": course.title,
            "defaultLang": default_lang,
            "launchUrl": course.url,
            "mobileLaunchUrl": course.mobile_url,
            "imageUrl": course.thumbnail_url,
            "description": course.description or course.short_description or None,
            # 360Learning's duration is whole minutes, 1..100000, like ours.
            "duration": course.duration_minutes,
            "difficultyLevel": _DIFFICULTY.get(course.difficulty or ""),
            "contentType": _CONTENT_TYPE.get(course.content_type),
            "sources": [{"name": source}],
            "subjects": _subjects(course, options),
            "translations": translations,
        }
    )
    extra = course.extra.get("360learning", {})
    if "externalId" in extra and extra["externalId"] != course.id:
        raise MappingError("extra.360learning.externalId", "may not differ from the item id (the upsert key)")
    if extra:  # tested first: every item of a catalog comes through here
        # 360Learning refuses the whole bulk request for one bad course: refuse this item alone.
        request, schema = {"input": [body]}, "UpsertExternalCoursesRequest"
        merge_checked("360learning", body, extra, schema=schema, request=request, at="input[0]")
    return body


def to_deactivation(course: Course, options: Options) -> dict[str, Any]:
    """One item of ``DELETE /api/v2/bulk/integrations/{id}/courses`` (archive)."""
    return {"externalId": course.id}


def to_prune(item_id: str, options: Options) -> tuple[str, dict[str, Any]]:
    """An item gone from the catalog is archived like an inactive one."""
    return "deactivate", {"externalId": item_id}


MAPPER = Mapper(
    provider="360learning",
    version=1,
    to_payload=to_payload,
    to_deactivation=to_deactivation,
    to_prune=to_prune,
    reads_options=("default_language", "default_source", "default_subjects"),
)
