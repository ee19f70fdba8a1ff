"""Redis clients, created lazily per process, and the one place a client is made from a URL.

Celery's prefork pool forks worker processes; a connection made before the fork must not be
shared by the children, so clients are cached per process id.

A URL naming Sentinels (``workers.redis_url``) gives a client of the group's current master:
each new connection asks the Sentinels where the master is, and one refused by a demoted master
(READONLY) is dropped, so after a failover the next command reaches the promoted replica.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import redis
import redis.sentinel

from workers.config import get_settings
from workers.errors import ConfigError
from workers.redis_url import parse_sentinel_url

__all__ = ["check_no_eviction", "client_for_url", "get_raw_redis", "get_redis", "raw_twin", "strs"]

#: Reaching the master a Sentinel named. Without a bound, a master cut off by the network (no
#: reset, unlike a crash) would hold every command until TCP gives up, minutes later.
MASTER_CONNECT_TIMEOUT_S = 5.0
#: One command on the master; the longest script (a fingerprint rebuild) stays far below it.
MASTER_SOCKET_TIMEOUT_S = 30.0


def client_for_url(url: str, *, decode_responses: bool, **kwargs: Any) -> redis.Redis:
    """A new client for ``url``: one Redis, or the master of the Sentinels it names.
    ``kwargs`` are redis-py connection options (timeouts...). Every client made from
    COURSESYNC_REDIS_URL is made here.

    Raises:
        ConfigError: a malformed Sentinel URL.
    """
    sentinel = parse_sentinel_url(url)
    if sentinel is None:
        return redis.Redis.from_url(url, decode_responses=decode_responses, **kwargs)
    master_kwargs: dict[str, Any] = {
        "socket_connect_timeout": MASTER_CONNECT_TIMEOUT_S,
        "socket_timeout": MASTER_SOCKET_TIMEOUT_S,
        **kwargs,
    }
    manager = redis.sentinel.Sentinel(list(sentinel.sentinels), sentinel_kwargs=sentinel.sentinel_kwargs())  # type: ignore[no-untyped-call]
    client: redis.Redis = manager.master_for(  # type: ignore[no-untyped-call]
        sentinel.master,
        db=sentinel.db,
        username=sentinel.username,
        password=sentinel.password,
        decode_responses=decode_responses,
        **master_kwargs,
    )
    return client


@lru_cache(maxsize=8)
def _client(url: str, pid: int, decode: bool) -> redis.Redis:
    del pid  # part of the cache key only
    return client_for_url(
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
    if isinstance(pool, redis.sentinel.SentinelConnectionPool):
        # Its connections ask this new pool, not ``r``'s, where the master is.
        del kwargs["connection_pool"]
        twin = redis.sentinel.SentinelConnectionPool(pool.service_name, pool.sentinel_manager, **kwargs)  # type: ignore[no-untyped-call]
        return redis.Redis(connection_pool=twin)
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
