"""Isolating the items that make a provider refuse a whole request (split retries).

Kombo validates a bulk request as a whole: one item with a bad value and the 1,000-item request
is refused (400). Reverse-ETL tools answer this with *split retries*, and so does coursesync: a
pending batch refused as a whole for validation is halved, and each half sent on its own,
until the offending items stand alone and fail with the provider's reason while the rest goes
through. Isolating k bad items among n costs about 2·k·log2(n/k) extra requests, which the run
document reports (``splits``). A batch tree stops splitting once it has cost
``Settings.split_max_extra_requests``: a provider refusing every half is refusing the request
for another reason, and its remaining batches fail whole with that reason.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

import redis

from workers import ledger
from workers.config import Settings
from workers.errors import ProviderRejected
from workers.ledger import Batch
from workers.logs import batch_event
from workers.providers.base import OutboundItem

__all__ = ["split_rejected"]

log = logging.getLogger(__name__)


def split_rejected(
    r: redis.Redis,
    batch: Batch,
    items: Sequence[OutboundItem],
    exc: ProviderRejected,
    settings: Settings,
) -> Literal["split"] | None:
    """Halve ``batch`` after the provider refused it whole; None when it cannot or must not be
    split (one item, or its tree spent its extra requests): the caller then fails it."""
    if len(items) < 2:
        return None
    if ledger.split_extra(r, batch) + 2 > settings.split_max_extra_requests:
        return None
    middle = len(items) // 2
    halves = (list(items[:middle]), list(items[middle:]))
    ids = ledger.split_batch(
        r,
        batch,
        halves,
        retention_s=settings.run_retention_s,
        payload_ttl_s=settings.batch_payload_ttl_s,
        reason=exc.reason,
    )
    if ids is None:
        return None
    batch_event(log, logging.WARNING, "batch split", batch, status=exc.status_code, halves=",".join(ids),
                reason=exc.reason)  # fmt: skip
    return "split"
