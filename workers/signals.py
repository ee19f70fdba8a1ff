"""Celery signals coursesync sends, for in-process listeners (metrics, custom notifications).

    from workers.signals import run_finished

    @run_finished.connect
    def on_run_finished(sender, run_id, state, document, **kwargs): ...

``run_finished`` is sent once per run, in the process that ended it (a worker, or the producer
when nothing was left to send), after the run's final state is stored.
"""

from __future__ import annotations

from celery.utils.dispatch import Signal

__all__ = ["run_finished"]

run_finished = Signal(name="coursesync.run_finished", providing_args={"run_id", "state", "document"})
