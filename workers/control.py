"""Operators' controls: cancel a run, pause and resume a connection.

The CLI (`coursesync cancel|pause|resume`) and the HTTP API call exactly these functions.

- **cancel**: the run's cancel flag goes up in one step (``ledger.request_cancel``); from then
  on no batch of the run is sent (the step that marks a batch *sending* refuses it), its
  producer stops reading at its next batch, and every batch that was never sent fails with
  ``coursesync.CANCELLED``. Batches already at the provider, or whose request is on its way,
  are tracked to their real outcome. The run then ends ``cancelled``.
- **pause**: the connection joins ``keys.PAUSED_CONNECTIONS`` (this module is its only
  writer). Dispatch hands out none of its batches, and a worker already holding one puts it
  back rather than send it (decided in the same step as the sending mark); remote jobs already
  running are still polled to their end. Its open runs show ``paused``. **resume** takes it out
  again; the pump hands its batches out within a tick.
"""

from __future__ import annotations

from typing import Any

import redis

from workers import keys, ledger
from workers.config import Settings
from workers.providers.registry import get_connection
from workers.redis_client import raw_twin, strs

__all__ = ["cancel_run", "is_paused", "pause_connection", "paused_connections", "resume_connection"]


def cancel_run(r: redis.Redis, run_id: str, settings: Settings) -> dict[str, Any] | None:
    """Cancel ``run_id``; returns its run document (None when there is no such run).

    The document carries ``cancel`` = {``not_sent``: batches, ``not_sent_items``: items failed
    now with ``CANCELLED``, ``in_flight``: batches at the provider or being sent, tracked to
    their end}. A run that already ended is left as it is (its document has no ``cancel``);
    cancelling twice is harmless (the second call fails whatever the first could not reach).
    """
    outcome = ledger.request_cancel(r, run_id)
    if outcome == "missing":
        return None
    if outcome == "final":
        return ledger.run_document(r, run_id)
    not_sent = not_sent_items = in_flight = 0
    raw_r = raw_twin(r)
    try:
        for batch_id in strs(r.lrange(keys.run_batches(run_id), 0, -1)):
            batch = ledger.load_batch(r, batch_id)
            if batch is None:
                continue
            if batch.state == "submitted":
                in_flight += 1
            elif batch.state == "pending":
                result = ledger.cancel_batch(r, raw_r, batch, settings)
                if result == "sending":
                    in_flight += 1
                elif result is not None:
                    not_sent += 1
                    not_sent_items += batch.size
    finally:
        raw_r.close()
    # A run whose producer already sealed it and whose batches have all settled ends here.
    state = ledger.finalize_run(r, run_id, _connection_of(r, run_id), retention_s=settings.run_retention_s)
    if state is not None:
        ledger.run_finished(r, run_id, state, settings)
    doc = ledger.run_document(r, run_id)
    if doc is not None:
        doc["cancel"] = {"not_sent": not_sent, "not_sent_items": not_sent_items, "in_flight": in_flight}
    return doc


def _connection_of(r: redis.Redis, run_id: str) -> str:
    return str(r.hget(keys.run(run_id), "connection") or "")


def pause_connection(r: redis.Redis, name: str) -> None:
    """Send nothing more for connection ``name`` until it is resumed.

    Raises:
        ConfigError: no connection of that name is configured.
    """
    get_connection(name)
    r.sadd(keys.PAUSED_CONNECTIONS, name)


def resume_connection(r: redis.Redis, name: str) -> None:
    """Let connection ``name`` send again; its waiting batches go out at the next pump tick.

    Raises:
        ConfigError: no connection of that name is configured and none is paused by that name.
    """
    if not r.sismember(keys.PAUSED_CONNECTIONS, name):
        get_connection(name)  # an unknown name is an error; resuming one not paused is not
    pipe = r.pipeline(transaction=True)
    pipe.srem(keys.PAUSED_CONNECTIONS, name)
    # Its batches waited in its ready list; make sure the pump looks at it.
    pipe.sadd(keys.READY_CONNECTIONS, name)
    pipe.execute()


def is_paused(r: redis.Redis, name: str) -> bool:
    """Whether connection ``name`` is paused."""
    return bool(r.sismember(keys.PAUSED_CONNECTIONS, name))


def paused_connections(r: redis.Redis) -> set[str]:
    """Every paused connection."""
    return set(strs(r.smembers(keys.PAUSED_CONNECTIONS)))
