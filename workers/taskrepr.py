"""What Flower, events and Celery's logs show of a task's arguments: ids, never secrets.

Celery puts ``repr(args)`` in every message header (``argsrepr``) and event, and Flower shows
it. Our own tasks carry ids only, but ``coursesync.sync_catalog`` carries a catalog URL, which
may hold credentials (``https://user:pw@host/...``) or a signature in its query string (a
pre-signed S3 link). This AMQP class shows such URLs without either (``workers.redact``).
Messages from clients in other languages carry their own ``argsrepr`` (or none: then Flower
shows nothing).

Housekeeping (``workers.ports.HOUSEKEEPING``) is not shown at all: its messages carry no
``task-sent`` event, as its tasks send no worker events (``workers.tasks.base``).
"""

from __future__ import annotations

from typing import Any

from celery.app.amqp import AMQP
from celery.utils.saferepr import saferepr

from workers.ports import HOUSEKEEPING
from workers.redact import redact

__all__ = ["RedactingAMQP", "redact"]


class RedactingAMQP(AMQP):  # type: ignore[misc]
    """Celery's AMQP helper, with secret-free ``argsrepr``/``kwargsrepr`` on every message, and no
    ``task-sent`` event for housekeeping."""

    def as_task_v2(
        self,
        task_id: str,
        name: str,
        args: Any = None,
        kwargs: Any = None,
        *rest: Any,
        argsrepr: str | None = None,
        kwargsrepr: str | None = None,
        **options: Any,
    ) -> Any:
        if argsrepr is None:
            argsrepr = saferepr(redact(args if args is not None else ()), self.argsrepr_maxsize)
        if kwargsrepr is None:
            kwargsrepr = saferepr(redact(kwargs if kwargs is not None else {}), self.kwargsrepr_maxsize)
        message = super().as_task_v2(
            task_id, name, args, kwargs, *rest, argsrepr=argsrepr, kwargsrepr=kwargsrepr, **options
        )
        # task_send_sent_event is one switch for every task; this is where it can be per task.
        return message._replace(sent_event=None) if name in HOUSEKEEPING else message
