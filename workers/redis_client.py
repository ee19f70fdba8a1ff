"""Redis clients, created lazily per process.

Celery's prefork pool forks worker processes; a connection made before the fork must not be
shared by the children, so clients are cached per process id.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import redis

from workers.config import get_settings
from workers.errors import ConfigError

__all__ = ["check_no_eviction", "get_raw_redis", "get_redis", "raw_twin", "strs"]


@lru_cache(maxsize=8)
def _client(url: str, pid: int, decode: bool) -> redis.Redis:
    del pid  # part of the cache key only
    return redis.Redis.from_url(
        url,
        decode_responses=decode,
        health_check_interval=30,
        socket_keepalive=True,
        retry_on_timeout=True,
    )


def get_redis() -> redis.Redis:
    """A client returning ``str`` values, for all state except binary payloads."""
    return _client(get_settings().redis_url, os.getpid(), True)


def get_raw_redis() -> redis.Redis:
    """A client returning ``bytes``, for compressed batch payloads."""
    return _client(get_settings().redis_url, os.getpid(), False)


def raw_twin(r: redis.Redis) -> redis.Redis:
    """A new ``bytes`` client on the same server and database as ``r`` (close it after use):
    for functions handed only ``r`` that must read a compressed payload."""
    pool = r.connection_pool
    kwargs = {**pool.connection_kwargs, "decode_responses": False}
    return redis.Redis(connection_pool=redis.ConnectionPool(connection_class=pool.connection_class, **kwargs))


def strs(reply: Any) -> list[str]:
    """A multi-bulk reply (ZRANGE, SMEMBERS...) as a list of str, whatever the client decodes."""
    return [m.decode() if isinstance(m, bytes) else str(m) for m in reply]


def check_no_eviction(r: redis.Redis) -> None:
    """Refuse a Redis that evicts keys when full: it would silently drop batches, runs and queued
    messages (the ledger would lose items it cannot even name). Read from ``INFO memory``, which
    managed services that disable CONFIG still answer.

    Raises:
        ConfigError: the policy is not ``noeviction``, with the fix.
    """
    policy = str(r.info("memory").get("maxmemory_policy", "noeviction"))
    if policy != "noeviction":
        raise ConfigError(
            f"Redis evicts keys when full (maxmemory-policy {policy}), which would silently drop "
            "coursesync's batches, runs and queued tasks; set it to noeviction "
            "(`redis-cli CONFIG SET maxmemory-policy noeviction`, and `maxmemory-policy noeviction` "
            "in redis.conf, or your provider's parameter group)"
        )
