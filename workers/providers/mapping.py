"""Provider payload mappings: canonical ``Course`` -> one item of a provider's bulk request.

Each provider's folder has a ``mapping`` module exposing a ``MAPPER``. A mapping raises
``MappingError`` for an item the provider cannot take (a language it does not know...), which
makes that item invalid with a reason and never stops the others. Bump ``version`` whenever a
mapping's output changes: content digests include it, so every item is sent once more.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import orjson

from schemas.course import Course

__all__ = ["Mapper", "MappingError", "canonical_json", "content_digest", "without_none"]

Options = dict[str, Any]


class MappingError(ValueError):
    """An item is valid coursesync input but cannot be expressed in this provider's API."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Mapper:
    """How one provider's request items are made from courses.

    ``to_payload`` makes the upsert item. ``to_deactivation`` makes the item of the provider's
    deactivate/archive request for a course with ``active = false``; None means the provider
    deactivates through an ordinary upsert (StackOne's ``active: false``).
    """

    provider: str
    #: Bump when the output of either function changes for the same input.
    version: int
    to_payload: Callable[[Course, Options], dict[str, Any]]
    to_deactivation: Callable[[Course, Options], dict[str, Any]] | None = None
    #: (op, payload) that deactivates an item known only by its id (pruning: the item is gone
    #: from the catalog). None when the provider has no way to deactivate content.
    to_prune: Callable[[str, Options], tuple[str, dict[str, Any]]] | None = None
    #: The connection options the functions read (360Learning's ``default_source``...): a
    #: fan-out maps a catalog once for every set of connections that agree on these.
    reads_options: tuple[str, ...] = ()

    def mapping_key(self, options: Options) -> str:
        """Connections with equal keys get byte-identical payloads from this mapper."""
        chosen = {k: options.get(k) for k in self.reads_options}
        return f"{self.provider}:{self.version}:" + orjson.dumps(chosen, option=orjson.OPT_SORT_KEYS).decode()

    def prepare(self, course: Course, options: Options) -> tuple[str, dict[str, Any]]:
        """(op, payload) for one course: ``upsert`` or ``deactivate``."""
        if not course.active and self.to_deactivation is not None:
            return "deactivate", self.to_deactivation(course, options)
        return "upsert", self.to_payload(course, options)


#: Empty values of these types are "absent" too.
_EMPTIABLE = (tuple, list)


def without_none(values: dict[str, Any]) -> dict[str, Any]:
    """Drop absent optional fields: smaller requests, and digests that ignore key order of None."""
    # Type checks before truthiness: every item of a catalog goes through here.
    return {k: v for k, v in values.items() if v is not None and (v or type(v) not in _EMPTIABLE)}


def canonical_json(payload: dict[str, Any]) -> bytes:
    """Sorted keys, no spaces: the same item always gives the same bytes (and the same size as
    the compact form sent on the wire)."""
    # msgspec's sorted encoder is faster alone, but differs on floats with a positive exponent
    # and on integers past 64 bits; checking for those cost more than it saved in the producer.
    return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)


def content_digest(mapper: Mapper, op: str, payload: dict[str, Any], canonical: bytes | None = None) -> str:
    """16 hex chars fingerprinting what the provider would receive for this item."""
    body = canonical if canonical is not None else canonical_json(payload)
    # One hash of prefix + body is the same digest as two updates, for a third of the cost.
    return hashlib.blake2b(
        _digest_prefix(mapper.provider, mapper.version, op) + body, digest_size=8
    ).hexdigest()


@cache
def _digest_prefix(provider: str, version: int, op: str) -> bytes:
    return f"{provider}:{version}:{op}:".encode()
