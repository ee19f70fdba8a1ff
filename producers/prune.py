"""Pruning (mirror mode): deactivate what the previous catalog had and this one lacks.

The previous catalog is what the provider confirmed: the content digests of the run's target
(``workers.targets``). An item is a candidate when it is stored as active and this run's
catalog did not name it (not even as an invalid item).

Two guards refuse, visibly. A catalog with a record that names no item id (an unparseable
line, an object without a usable id) cannot prove that a candidate left it: that record may
be the candidate. Forcing does not lift this one: ``--force-prune`` accepts a big change, not
a catalog that cannot be read in full. And pruning more than a share of the catalog needs
forcing, as Canvas SIS imports refuse a change above their change_threshold: a truncated
export must not wipe an LMS.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import redis

from producers.prepare import INACTIVE_MARK, Prepared, digest_and_size
from workers import keys
from workers.connections import Connection
from workers.providers.base import OutboundItem
from workers.providers.mapping import Mapper

__all__ = ["PrunePlan", "deactivation", "plan_prune"]

#: Buckets read per Redis round trip while scanning a connection's digests.
_BUCKETS_PER_TRIP = 256


@dataclass
class PrunePlan:
    """What pruning would do. ``refused`` says why nothing will be deactivated, if so."""

    candidates: list[str] = field(default_factory=list)
    previous_active: int = 0
    refused: str = ""

    def items(self, mapper: Mapper, options: dict[str, Any]) -> list[Prepared]:
        assert mapper.to_prune is not None
        return [deactivation(mapper, options, item_id) for item_id in self.candidates]


def deactivation(mapper: Mapper, options: dict[str, Any], item_id: str) -> Prepared:
    """The deactivation of an item known only by its id (``mapper.to_prune`` must exist)."""
    assert mapper.to_prune is not None
    op, payload = mapper.to_prune(item_id, options)
    digest, size = digest_and_size(mapper, op, payload, active=False)
    return Prepared(OutboundItem(item_id, digest, payload), op, size)


def plan_prune(
    r: redis.Redis,
    connection: Connection,
    mapper: Mapper,
    seen: set[int],
    *,
    target: str,
    unattributed: int = 0,
    unattributed_lines: Sequence[int] = (),
    max_fraction: float,
    force: bool,
) -> PrunePlan:
    """Find the items to deactivate under the run's ``target`` (its id) and apply the guards.

    ``unattributed`` counts the catalog's records that name no item id; ``unattributed_lines``
    are the first of their line numbers (array positions in a JSON catalog).
    """
    plan = PrunePlan()
    for start in range(0, keys.HASH_BUCKETS, _BUCKETS_PER_TRIP):
        pipe = r.pipeline(transaction=False)
        for bucket in range(start, min(start + _BUCKETS_PER_TRIP, keys.HASH_BUCKETS)):
            pipe.hgetall(keys.content_hashes(target, bucket))
        for stored in pipe.execute():
            for item_id, digest in stored.items():
                if digest.startswith(INACTIVE_MARK):
                    continue
                plan.previous_active += 1
                if hash(item_id) not in seen:
                    plan.candidates.append(item_id)
    if mapper.to_prune is None:
        plan.refused = (
            f"{connection.provider} has no documented way to deactivate content, so nothing can be pruned"
        )
    elif unattributed:
        plan.refused = _unattributed_reason(unattributed, unattributed_lines)
    elif plan.previous_active and len(plan.candidates) > max_fraction * plan.previous_active and not force:
        share = len(plan.candidates) / plan.previous_active
        plan.refused = (
            f"pruning refused: {len(plan.candidates):,} of {plan.previous_active:,} items ({share:.0%}) "
            f"would be deactivated, more than the {max_fraction:.0%} guard; check the catalog, "
            "then rerun with --force-prune"
        )
    return plan


def _unattributed_reason(count: int, lines: Sequence[int]) -> str:
    listed = ", ".join(map(str, lines)) + (", ..." if count > len(lines) else "")
    records = "record names" if count == 1 else "records name"
    return (
        f"pruning refused: {count:,} catalog {records} no item id ({'line' if count == 1 else 'lines'} "
        f"{listed}), so an item still in the catalog could be deactivated; fix or remove "
        f"{'it' if count == 1 else 'them'}, then rerun (--force-prune does not override this)"
    )
