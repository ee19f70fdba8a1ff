"""The one decorator every coursesync task is registered with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from workers.celery_app import app

__all__ = ["task"]

#: Shared by every task: explicit names, late acks (declared on the app), time limits under
#: the broker's visibility timeout so a stuck task is killed before it is redelivered.
_DEFAULTS: dict[str, Any] = {"soft_time_limit": 240, "time_limit": 300, "acks_late": True}


def task(name: str, **options: Any) -> Callable[[Callable[..., Any]], Any]:
    """Register ``fn`` as Celery task ``name`` (e.g. ``coursesync.submit_batch``)."""

    def wrap(fn: Callable[..., Any]) -> Any:
        return app.task(name=name, **{**_DEFAULTS, **options})(fn)

    return wrap
