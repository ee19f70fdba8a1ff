"""Shared fixtures.

Redis: the tests use COURSESYNC_REDIS_URL when it is set (and FLUSH that database: point it at
a scratch database), else they start a private redis-server exactly as `coursesync demo` does.
When neither works the tests that need Redis fail; they never skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis

from coursesync.redis_server import PrivateRedis, redis_answers, start_private_redis

_SECRET_ENV_PREFIXES = ("COURSESYNC_", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
#: Test-run settings, not the developer's shell leaking in: where Redis is, where fault tests
#: write their figures.
_KEPT = ("COURSESYNC_REDIS_URL", "COURSESYNC_RELIABILITY_REPORT", "COURSESYNC_FUZZ_EXAMPLES")


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    url = os.environ.get("COURSESYNC_REDIS_URL")
    if url:
        if not redis_answers(url):
            pytest.fail(f"COURSESYNC_REDIS_URL={url} does not answer; start Redis or unset it")
        yield url
        return
    try:
        private: PrivateRedis = start_private_redis()
    except RuntimeError as exc:
        pytest.fail(f"tests need Redis and none could be started: {exc}")
    try:
        yield private.url
    finally:
        private.stop()


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No proxy or coursesync variable of the developer's shell leaks into a test (httpx style)."""
    for name in list(os.environ):
        if name.upper().startswith(_SECRET_ENV_PREFIXES) and name not in _KEPT:
            monkeypatch.delenv(name, raising=False)
    from workers.config import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def r(redis_server: str) -> Iterator[redis.Redis]:
    """A clean Redis database (str responses), flushed before and after the test."""
    client = redis.Redis.from_url(redis_server, decode_responses=True)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def raw_r(redis_server: str, r: redis.Redis) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server, decode_responses=False)
    yield client
    client.close()
