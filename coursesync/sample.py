"""The sample catalog of the demo and the tests: varied, deterministic, with known outcomes.

Most items are valid. Some are invalid in the ways real catalogs go wrong (each records why),
and some are valid but rejected by the sandbox's "remote LMS": their URL host ends in
``.invalid``, which the sandbox refuses per item, as a real LMS refuses what it cannot use.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.course import CONTENT_TYPES, DIFFICULTIES

__all__ = ["SampleCounts", "sample_items", "write_sample"]

_TOPICS = [
    "Python", "Negotiation", "Data Privacy", "Kubernetes", "Leadership", "Excel", "Customer Success",
    "Cybersecurity", "Public Speaking", "SQL", "Project Management", "Design Thinking", "Accounting",
    "Machine Learning", "Onboarding", "Time Management", "Sales Techniques", "Cloud Costs",
]  # fmt: skip
_LEVELS = [
    "Introduction to",
    "Practical",
    "Advanced",
    "Mastering",
    "A Field Guide to",
    "Essentials of",
]
_LANGS = [
    ["en"],
    ["en", "de-CH"],
    ["fr"],
    ["de"],
    ["es"],
    ["en-GB"],
    ["pt-BR", "en"],
    ["it"],
    ["nl"],
    ["ja"],
]
_TYPES = list(CONTENT_TYPES)
_DIFF = list(DIFFICULTIES)

#: (how the item is broken, a function that breaks it). Each yields exactly one invalid item.
_BREAKS: list[tuple[str, Any]] = [
    ("missing title", lambda d: d.pop("title")),
    ("bad url", lambda d: d.update(url="javascript:alert(1)")),
    ("unknown field", lambda d: d.update(titel=d["title"])),
    ("bad language tag", lambda d: d.update(languages=["english"])),
    ("negative duration", lambda d: d.update(duration_minutes=-5)),
    ("wrong type", lambda d: d.update(tags="not-a-list")),
    ("control character", lambda d: d.update(title=d["title"] + "\x07")),
    ("bad content type", lambda d: d.update(content_type="hologram")),
]


@dataclass(frozen=True)
class SampleCounts:
    """What a sync of the sample must end with."""

    total: int
    invalid: int
    rejected: int

    @property
    def valid(self) -> int:
        return self.total - self.invalid

    @property
    def succeeded(self) -> int:
        return self.valid - self.rejected


def _item(i: int, rng: random.Random, prefix: str) -> dict[str, Any]:
    topic = rng.choice(_TOPICS)
    title = f"{rng.choice(_LEVELS)} {topic}"
    item: dict[str, Any] = {
        "id": f"{prefix}-{i:06d}",
        "title": f"{title} ({i})",
        "url": f"https://learn.acme.example/courses/{prefix}-{i}",
        "description": f"{title}: a hands-on course. " * rng.randint(1, 6),
        "duration_minutes": rng.choice([5, 15, 30, 45, 60, 90, 120, 480]),
        "languages": rng.choice(_LANGS),
        "content_type": rng.choice(_TYPES),
        "difficulty": rng.choice(_DIFF),
        "tags": rng.sample(
            ["new", "popular", "certified", "short", "deep-dive", "remote"], rng.randint(0, 3)
        ),
        "skills": [topic],
        "categories": [rng.choice(["Engineering", "Business", "Compliance", "People"])],
        "source": "Acme Academy",
        "thumbnail_url": f"https://cdn.acme.example/thumbs/{i}.png",
        "updated_at": f"2026-{rng.randint(1, 10):02d}-{rng.randint(1, 28):02d}T10:00:00Z",
    }
    if rng.random() < 0.15:
        item["translations"] = [
            {"language": "fr", "title": f"{title} (fr)", "description": "Cours pratique."}
        ]
    if rng.random() < 0.1:
        item["mobile_url"] = item["url"] + "?mobile=1"
    return item


def sample_items(
    n: int = 3000,
    *,
    seed: int = 7,
    invalid_every: int = 40,
    rejected_every: int = 50,
    prefix: str = "acme",
) -> tuple[list[Any], SampleCounts]:
    """``n`` records (dicts, or a raw string for a malformed JSON line) and the expected counts."""
    rng = random.Random(seed)
    records: list[Any] = []
    invalid = rejected = 0
    for i in range(n):
        item = _item(i, rng, prefix)
        if i % invalid_every == invalid_every - 1:
            kind = (i // invalid_every) % (len(_BREAKS) + 1)
            if kind == len(_BREAKS):
                records.append('{"id": "broken-json-' + str(i) + '", "title": ')  # malformed line
            else:
                _BREAKS[kind][1](item)
                records.append(item)
            invalid += 1
            continue
        if i % rejected_every == rejected_every - 1:
            item["url"] = f"https://gone-{i}.invalid/course"
            rejected += 1
        records.append(item)
    return records, SampleCounts(total=n, invalid=invalid, rejected=rejected)


def write_sample(path: Path, n: int = 3000, **kwargs: Any) -> SampleCounts:
    """Write the sample as JSON Lines and return its expected counts."""
    records, counts = sample_items(n, **kwargs)
    with path.open("w", encoding="utf-8") as fh:
        for rec in records:
            fh.write((rec if isinstance(rec, str) else json.dumps(rec, ensure_ascii=False)) + "\n")
    return counts


def iter_valid(n: int, *, seed: int = 7, prefix: str = "acme") -> Iterator[dict[str, Any]]:
    """Only valid items (for benchmarks and resync tests)."""
    rng = random.Random(seed)
    for i in range(n):
        yield _item(i, rng, prefix)
