"""The broker transport: a broker lost mid-poll is a connection error, never a worker crash."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
from kombu import Connection
from kombu.transport import redis as kombu_redis

from workers.broker import Channel, SentinelTransport, Transport, use_for_redis_urls


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


def test_sentinel_urls_use_the_sentinel_transport_with_the_same_repair() -> None:
    use_for_redis_urls()
    conn = Connection(
        "sentinel://127.0.0.1:1/0;sentinel://127.0.0.1:2/0", transport_options={"master_name": "m"}
    )
    assert isinstance(conn.transport, SentinelTransport)
    assert issubclass(SentinelTransport.Channel, kombu_redis.SentinelChannel)
    channel = SimpleNamespace(connection=SimpleNamespace(client=None))
    with pytest.raises(SentinelTransport.connection_errors):
        SentinelTransport.Channel._connparams(channel)  # type: ignore[arg-type]
    assert conn.as_uri().startswith("sentinel://")  # Flower's RedisSentinel client


def test_a_sentinel_redis_url_configures_broker_result_backend_and_flower() -> None:
    # In a process of its own: the Celery app reads COURSESYNC_REDIS_URL once, when imported.
    probe = (
        "import json; from workers.celery_app import app; from flower.utils.broker import Broker\n"
        "uri = app.connection().as_uri(include_password=True)  # what Flower hands its Broker\n"
        "broker = Broker(uri, broker_options=app.conf.broker_transport_options)\n"
        "print(json.dumps([app.conf.broker_url, app.conf.result_backend, app.conf.broker_transport_options,\n"
        "    app.conf.result_backend_transport_options, type(app.backend).__name__, type(broker).__name__,\n"
        "    broker.master_name]))"
    )
    url = "redis+sentinel://:pw@127.0.0.1:26379;127.0.0.2:26380/3?master=cs"
    env = {**os.environ, "COURSESYNC_REDIS_URL": url}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    broker_url, backend_url, broker_opts, backend_opts, backend, flower, flower_master = json.loads(
        out.stdout
    )
    assert broker_url == backend_url == "sentinel://:pw@127.0.0.1:26379/3;sentinel://:pw@127.0.0.2:26380/3"
    assert broker_opts["master_name"] == backend_opts["master_name"] == flower_master == "cs"
    assert broker_opts["visibility_timeout"] > 0
    # (Flower's queue-length client asks the first Sentinel only; its events come through kombu)
    assert (backend, flower) == ("SentinelBackend", "RedisSentinel")
