"""``coursesync.submit_batch``: send one batch to its provider."""

from __future__ import annotations

from typing import Any

from schemas.messages import SubmitBatch
from workers.ports import SUBMIT_BATCH
from workers.submit import submit_batch as submit
from workers.tasks.base import load, real_deps, task


@task(name=SUBMIT_BATCH)
def submit_batch(**kwargs: Any) -> str:
    """Kwargs: batch_id, connection (ids only; the payload is in Redis)."""
    msg: SubmitBatch = load(SubmitBatch, kwargs)
    return submit(msg.batch_id, real_deps())
