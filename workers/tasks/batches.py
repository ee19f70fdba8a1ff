"""``coursesync.submit_batch``: send one batch to its provider."""

from __future__ import annotations

from typing import Any

from schemas.messages import SubmitBatch, load_message
from workers.deps import real_deps
from workers.submit import submit_batch as submit
from workers.tasks.base import task


@task(name="coursesync.submit_batch")
def submit_batch(**kwargs: Any) -> str:
    """Kwargs: batch_id, connection (ids only; the payload is in Redis)."""
    msg: SubmitBatch = load_message(SubmitBatch, kwargs)
    return submit(msg.batch_id, real_deps())
