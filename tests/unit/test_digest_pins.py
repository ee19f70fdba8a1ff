"""Content digests and payload bytes are pinned: the same item must keep its digest forever.

Digests are stored in Redis as what each provider holds; a change in how they are computed
would resend every customer's whole catalog once. Payload bytes are pinned with them (as a
fingerprint of the whole sample), so a faster mapping or serialisation cannot drift either.
The values were computed before the producer's hot path was optimised.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import pytest

from coursesync.sample import iter_valid
from producers.prepare import Prepared, map_course, validate_record
from producers.records import Record
from schemas.course import Course
from workers.providers.installed import get_mapper

PROVIDERS = ("kombo", "stackone", "360learning", "thoughtindustries")

#: (provider, item id) -> (op, digest, size in bytes)
PINNED = {
    ("kombo", "acme-000000"): ("upsert", "7177a273a9835657", 412),
    ("kombo", "acme-000001"): ("upsert", "8991a3a2e6ee5fc1", 571),
    ("kombo", "acme-000003"): ("deactivate", "x1f0597aa76ffd6e8", 27),
    ("kombo", "acme-000004"): ("upsert", "02fe85c55caa257c", 436),
    ("stackone", "acme-000001"): ("upsert", "969e518fa3661fd9", 891),
    ("stackone", "acme-000003"): ("upsert", "xd2ef0e98cce98feb", 449),
    ("360learning", "acme-000000"): ("upsert", "569d9e909fe4e67c", 498),
    ("360learning", "acme-000003"): ("deactivate", "xb27c3f1fefa768c7", 28),
    ("thoughtindustries", "acme-000004"): ("upsert", "366f2e52442d718d", 490),
}
#: sha256 of every (provider, id, op, digest, size, sha256(payload)[:16]) of the sample below.
FINGERPRINT = "cf236083aaa24c599598105df4685b981e0f6e4a7a324911a4042e059664f480"


def sample() -> list[dict[str, Any]]:
    items = list(iter_valid(40, seed=5))
    items[3] = {**items[3], "active": False}
    items[4] = {**items[4], "extra": {"kombo": {"remote_created_at": "2026-01-01T00:00:00Z"}}}
    return items


def prepared_sample() -> list[tuple[str, Prepared]]:
    out = []
    for provider in PROVIDERS:
        mapper = get_mapper(provider)
        for position, raw in enumerate(sample(), start=1):
            course = validate_record(Record(position, raw))
            assert isinstance(course, Course)
            result = map_course(course, position, mapper, {})
            if isinstance(result, Prepared):
                out.append((provider, result))
    return out


@pytest.mark.parametrize(("key", "expected"), PINNED.items())
def test_the_digest_and_size_of_an_item_never_change(key: tuple[str, str], expected: Any) -> None:
    found = {(provider, p.item.id): (p.op, p.item.digest, p.size_bytes) for provider, p in prepared_sample()}
    assert found[key] == expected


def test_every_payload_and_digest_of_the_sample_is_byte_for_byte_what_it_was() -> None:
    rows = [
        (provider, p.item.id, p.op, p.item.digest, p.size_bytes,
         hashlib.sha256(orjson.dumps(p.item.payload)).hexdigest()[:16])
        for provider, p in prepared_sample()
    ]  # fmt: skip
    assert len(rows) == 159  # Thought Industries cannot deactivate the one inactive item
    assert hashlib.sha256(repr(rows).encode()).hexdigest() == FINGERPRINT
