"""kombu's Redis transport, with one repair: losing the broker never kills a worker.

kombu 5.7 with celery 5.7: when Redis goes away while the worker waits in BRPOP and holds an
unacknowledged message (a task running under ``acks_late``), the consumer first ``collect()``s
the broken connection, which detaches the transport (``transport.client = None``) but leaves
the channel open, and then ``close()``s it. Closing the channel restores the unacknowledged
messages through a client built from ``transport.client``: ``None.hostname`` raises
AttributeError, which celery cannot tell from a bug, so the worker logs "Unrecoverable error"
and exits instead of reconnecting (``tests/integration/test_faults.py`` restarts Redis mid-run).

Here that case raises the transport's own ``ConnectionError``, which celery ignores while it
closes a broken connection, and the worker reconnects. The message stays in Redis' ``unacked``
hash, which kombu redelivers after the visibility timeout; a batch comes back sooner, when its
dispatch lease ends.

The same repair serves kombu's Sentinel transport (``sentinel://`` broker URLs), where losing
the master in a failover is exactly this case.
"""

from __future__ import annotations

from typing import Any

import kombu.transport
from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError

__all__ = ["SentinelTransport", "Transport", "use_for_redis_urls"]


class _Repair:
    def _connparams(self, asynchronous: bool = False) -> Any:
        transport = self.connection  # type: ignore[attr-defined]
        if transport is None or transport.client is None:
            raise RedisConnectionError("the broker connection is closed; reconnecting")
        return super()._connparams(asynchronous=asynchronous)  # type: ignore[misc]


class Channel(_Repair, kombu_redis.Channel):
    pass


class SentinelChannel(_Repair, kombu_redis.SentinelChannel):
    pass


class Transport(kombu_redis.Transport):
    Channel = Channel


class SentinelTransport(kombu_redis.SentinelTransport):
    Channel = SentinelChannel


def use_for_redis_urls() -> None:
    """Serve ``redis://`` and ``sentinel://`` broker URLs with these transports.

    Through kombu's alias table rather than ``broker_transport``, so the broker URL keeps its
    scheme for everything that reads it back (Flower picks its broker client by scheme).
    """
    for scheme, transport in (("redis", "Transport"), ("sentinel", "SentinelTransport")):
        kombu.transport.TRANSPORT_ALIASES[scheme] = f"{__name__}:{transport}"
        kombu.transport._transport_cache.pop(scheme, None)  # resolved before this call: resolve again
