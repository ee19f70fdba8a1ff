"""The real dependencies of task bodies, built per worker process."""

from __future__ import annotations

from workers.config import get_settings
from workers.providers.registry import get_connection, get_provider
from workers.redis_client import get_raw_redis, get_redis
from workers.submit import Deps

__all__ = ["real_deps"]


def real_deps() -> Deps:
    return Deps(
        r=get_redis(),
        raw_r=get_raw_redis(),
        settings=get_settings(),
        get_connection=get_connection,
        get_provider=get_provider,
    )
