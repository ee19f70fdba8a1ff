"""The run ledger: the only code that writes runs, batches, their places and item outcomes.

Everything a run promises (README, "The run ledger") is kept here: runs and their exact
counters (``runs``; read back as the run document by ``documents``), batches and their state
transitions (``batches``; settling and splitting in ``batch_ends``; payloads in ``payloads``),
where a pending batch waits (``queue``), when a remote job is polled next (``jobs``), what
became of each item (``outcomes``, read back by ``items``; the last word on each item at a
connection in ``item_status``), the announcement of a run's end (``outbox``, ``ending``), the
doctor's check (``checks``), and cancelling a run (``cancel``). Every change of more than one
key is one script of ``workers/lua``.

Other code asks through the names below; keys are built by ``workers.keys``.
"""

from __future__ import annotations

from workers.ledger.batch_ends import settle_batch, split_batch, split_extra
from workers.ledger.batches import (
    Batch,
    count_attempt,
    count_poll,
    create_batch,
    load_batch,
    load_items,
    mark_sending,
    mark_submitted,
    reopen,
)
from workers.ledger.cancel import CANCELLED, cancel_batch, is_cancelled, request_cancel
from workers.ledger.checks import Reachability, check_batches
from workers.ledger.documents import get_run, list_runs, run_document
from workers.ledger.ending import run_finished
from workers.ledger.fanouts import (
    create_fanout,
    fanout_document,
    get_fanout,
    is_fanout_id,
    keep_fanout_source,
)
from workers.ledger.item_status import encode as encode_status
from workers.ledger.item_status import item_status, queue_statuses
from workers.ledger.items import item_errors, retry_items
from workers.ledger.jobs import claim_due_jobs, forget_job, reschedule_poll
from workers.ledger.outcomes import NO_RESULT, fail_batch, merge_results, record_results
from workers.ledger.runs import (
    ERRORS_MAX,
    FINAL_STATES,
    add_counts,
    claim_start,
    create_run,
    finalize_run,
    heartbeat,
    hold_open,
    new_run_id,
    note,
    record_item_errors,
    record_prune_plan,
    reserve_run,
    seal_run,
    trim_runs_index,
)

__all__ = [
    "CANCELLED",
    "ERRORS_MAX",
    "FINAL_STATES",
    "NO_RESULT",
    "Batch",
    "Reachability",
    "add_counts",
    "cancel_batch",
    "check_batches",
    "claim_due_jobs",
    "claim_start",
    "count_attempt",
    "count_poll",
    "create_batch",
    "create_fanout",
    "create_run",
    "encode_status",
    "fail_batch",
    "fanout_document",
    "finalize_run",
    "forget_job",
    "get_fanout",
    "get_run",
    "heartbeat",
    "hold_open",
    "is_cancelled",
    "is_fanout_id",
    "item_errors",
    "item_status",
    "keep_fanout_source",
    "list_runs",
    "load_batch",
    "load_items",
    "mark_sending",
    "mark_submitted",
    "merge_results",
    "new_run_id",
    "note",
    "queue_statuses",
    "record_item_errors",
    "record_prune_plan",
    "record_results",
    "reopen",
    "request_cancel",
    "reschedule_poll",
    "reserve_run",
    "retry_items",
    "run_document",
    "run_finished",
    "seal_run",
    "settle_batch",
    "split_batch",
    "split_extra",
    "trim_runs_index",
]
