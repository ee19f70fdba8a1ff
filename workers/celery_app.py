"""The Celery app: ``celery -A workers worker|beat|flower``.

Every Celery setting lives in this block, each with the reason it is set.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, signals

from workers import broker, keys, ports, traces
from workers.config import get_settings
from workers.logs import setup_logging
from workers.redis_client import check_no_eviction, get_redis
from workers.redis_url import celery_url

__all__ = ["app", "send"]

_settings = get_settings()
# Sentinels named in COURSESYNC_REDIS_URL become kombu's syntax plus a master name (redis_url.py).
_redis_url, _sentinel_options = celery_url(_settings.redis_url)
# kombu's Redis and Sentinel transports, except that losing the broker never kills a worker
# (broker.py).
broker.use_for_redis_urls()

app = Celery(
    "coursesync",
    # Task arguments as Flower and events show them: URLs without credentials (taskrepr.py).
    amqp="workers.taskrepr:RedactingAMQP",
    include=[
        "workers.tasks.batches",
        "workers.tasks.beat",
        "workers.tasks.notify",
        "workers.tasks.ops",
        # Named, not imported: the producer's tasks import the worker, never the reverse.
        "producers.tasks",
    ],
)
app.conf.update(
    broker_url=_redis_url,
    # Only coursesync.sync_catalog returns something callers wait for (its run id).
    result_backend=_redis_url,
    result_backend_transport_options=_sentinel_options,
    task_ignore_result=True,
    result_expires=86400,
    # JSON only: messages carry ids, never objects or payloads (docs: "Serializers").
    task_serializer="json",
    accept_content=["json"],
    result_serializer="json",
    # Acknowledge after the work is recorded, and requeue if the worker process dies
    # (docs: "Should I use retry or acks_late?").
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    # One message at a time per process: fairness and bounded loss on a crash.
    worker_prefetch_multiplier=1,
    # Flower reads these too (the master name, for a Sentinel broker).
    broker_transport_options={"visibility_timeout": _settings.visibility_timeout_s, **_sentinel_options},
    broker_connection_retry_on_startup=True,
    # Redis refusing writes at maxmemory answers "OOM" (a channel error to kombu); without
    # this the worker exits ("Unrecoverable error") instead of reconnecting once memory frees
    # (docs: "broker_channel_error_retry"). Batches it held come back with their leases.
    broker_channel_error_retry=True,
    # Celery workers can stall silently after a broker reconnect (celery #8030); cancel
    # what was running instead so acks_late redelivers it.
    worker_cancel_long_running_tasks_on_connection_loss=True,
    task_default_queue=keys.CELERY_QUEUE,
    # Our own logging setup; Celery must not hijack the root logger.
    worker_hijack_root_logger=False,
    # Flower shows tasks from these events (docs: "Monitoring and Management Guide").
    worker_send_task_events=True,
    task_send_sent_event=True,
    # Each worker also consumes a queue of its own, so `coursesync health --worker NAME` can
    # prove that this very worker still takes tasks (docs: "worker_direct").
    worker_direct=True,
    timezone="UTC",
    beat_schedule={
        "coursesync-pump": {"task": ports.PUMP, "schedule": _settings.tick_interval_s},
        "coursesync-poll": {"task": ports.POLL_JOBS, "schedule": _settings.tick_interval_s},
        "coursesync-schedules": {"task": ports.SCHEDULES, "schedule": _settings.tick_interval_s},
        "coursesync-doctor": {"task": ports.DOCTOR, "schedule": _settings.doctor_interval_s},
        "coursesync-cleanup": {"task": ports.CLEANUP, "schedule": 3600.0},
        # Without kwargs: flush the item changes whose flush task was lost (producers.changes).
        "coursesync-changes": {
            "task": ports.FLUSH_CHANGES,
            "schedule": _settings.doctor_interval_s,
            "options": {"expires": 60},
        },
    },
)


def send(name: str, kwargs: dict[str, Any], options: dict[str, Any]) -> None:
    """The real ``ports.Send``: domain code sends tasks through the port, never through the app."""
    app.send_task(name, kwargs=kwargs, **options)


ports.install(send)


@signals.setup_logging.connect  # type: ignore[untyped-decorator]
def _configure_logging(**_: Any) -> None:
    # Connecting this signal stops Celery from configuring logging itself.
    setup_logging()


@signals.worker_init.connect  # type: ignore[untyped-decorator]
@signals.beat_init.connect  # type: ignore[untyped-decorator]
def _refuse_an_evicting_redis(**_: Any) -> None:
    # At start-up, before any batch is taken: an evicting Redis would lose them silently.
    check_no_eviction(get_redis())


# Traces for `coursesync health` and the metrics: who last finished a task, when beat ticked.
signals.task_postrun.connect(traces.on_task_postrun, weak=False)
signals.before_task_publish.connect(traces.on_before_publish, weak=False)
