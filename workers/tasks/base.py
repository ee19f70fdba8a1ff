"""The one decorator every coursesync task is registered with, and the real dependencies.

This is where the worker meets Celery: task bodies hand ``real_deps()`` to plain functions,
whose only way back to Celery is the ``send`` function in it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from schemas.messages import MessageError, load_message
from workers.celery_app import app, send
from workers.clients import get_provider
from workers.config import get_settings
from workers.deps import Deps
from workers.errors import PayloadError
from workers.ports import HOUSEKEEPING
from workers.providers.registry import get_connection
from workers.redis_client import get_raw_redis, get_redis

__all__ = ["load", "real_deps", "task"]

#: Shared by every task: explicit names, late acks (declared on the app), time limits under
#: the broker's visibility timeout so a stuck task is killed before it is redelivered.
_DEFAULTS: dict[str, Any] = {"soft_time_limit": 240, "time_limit": 300, "acks_late": True}


def task(name: str, **options: Any) -> Callable[[Callable[..., Any]], Any]:
    """Register ``fn`` as Celery task ``name`` (a name of ``workers.ports``)."""

    # Housekeeping sends no task events (received, started, succeeded...): Flower lists work only.
    quiet = {"send_events": False} if name in HOUSEKEEPING else {}

    def wrap(fn: Callable[..., Any]) -> Any:
        return app.task(name=name, **{**_DEFAULTS, **quiet, **options})(fn)

    return wrap


def load(kind: type[Any], data: dict[str, Any]) -> Any:
    """A task's arguments as its message (``schemas.messages``); a bad one is a PayloadError."""
    try:
        return load_message(kind, data)
    except MessageError as exc:
        raise PayloadError(str(exc)) from None


def real_deps() -> Deps:
    return Deps(
        r=get_redis(),
        raw_r=get_raw_redis(),
        settings=get_settings(),
        get_connection=get_connection,
        get_provider=get_provider,
        send=send,
    )
