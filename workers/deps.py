"""What the worker's plain functions need from the outside world, handed in.

The Celery tasks build the real ones (``workers.tasks.base.real_deps``); tests pass fakes: a
fake provider, a Send that keeps what would go to Celery.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import redis

from workers.config import Settings
from workers.connections import Connection
from workers.ports import Send
from workers.providers.base import Provider

__all__ = ["Deps"]


@dataclass(frozen=True)
class Deps:
    r: redis.Redis
    raw_r: redis.Redis
    settings: Settings
    get_connection: Callable[[str], Connection]
    get_provider: Callable[[str], Provider]
    #: Puts a task on the broker (``workers.ports``).
    send: Send
