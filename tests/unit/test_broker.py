"""The broker transport: a broker lost mid-poll is a connection error, never a worker crash."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from kombu import Connection

from workers.broker import Channel, Transport, use_for_redis_urls


def test_a_channel_of_a_detached_transport_raises_a_connection_error_celery_recovers_from() -> None:
    # Given a channel whose transport celery already detached from its connection (collect())
    channel = SimpleNamespace(connection=SimpleNamespace(client=None))
    # When closing it needs a Redis client (to restore unacknowledged messages)
    with pytest.raises(Exception) as caught:
        Channel._connparams(channel)  # type: ignore[arg-type]
    # Then the error is one the transport declares recoverable, so celery reconnects
    assert isinstance(caught.value, Transport.connection_errors)
    assert not isinstance(caught.value, AttributeError)


def test_redis_urls_use_the_transport_and_still_read_as_redis_urls() -> None:
    use_for_redis_urls()
    conn = Connection("redis://127.0.0.1:1/0")
    assert conn.transport_cls == "redis" and isinstance(conn.transport, Transport)
    assert conn.as_uri().startswith("redis://")  # Flower picks its broker client by this scheme
