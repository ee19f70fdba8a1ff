"""One worker of the fleet makes a value (a token, an integration) while the others wait for it.

Kept apart from ``auth`` so that ``integration`` (which a producer reads for the connection's
target) does not import cryptography.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any, TypeVar

import redis

from workers.errors import ProviderUnavailable

__all__ = ["WAIT_POLL_S", "single_flight"]

T = TypeVar("T")

#: How often a worker waiting for another one's token (or integration) looks for it.
WAIT_POLL_S = 0.05


def _text(value: Any) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def single_flight(
    kv: redis.Redis,
    lock_key: str,
    read: Callable[[], T | None],
    make: Callable[[], T],
    *,
    lock_s: float,
    what: str,
    connection: str,
) -> T:
    """``read()``, else ``make()`` in exactly one worker of the fleet while the others wait.

    The holder of ``lock_key`` (SET NX PX ``lock_s``) reads again, then makes the value; every
    other caller waits up to ``lock_s`` for ``read()`` to find it. The wait is bounded by one
    request timeout, and only ever happens while a token or integration is being created.

    Raises:
        ProviderUnavailable: the holder did not finish in time (it may have died; retry later).
    """
    found = read()
    if found is not None:
        return found
    holder = secrets.token_hex(8)
    deadline = time.monotonic() + lock_s
    while True:
        if kv.set(lock_key, holder, nx=True, px=int(lock_s * 1000)):
            try:
                found = read()  # the previous holder may have finished just now
                return found if found is not None else make()
            finally:
                # Release only our own lock: a slow request may have outlived it.
                if _text(kv.get(lock_key)) == holder:
                    kv.delete(lock_key)
        time.sleep(WAIT_POLL_S)
        found = read()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise ProviderUnavailable(
                f"another worker is still fetching the {what}; trying again later",
                provider="360learning",
                connection=connection,
                retry_after_s=1.0,
            )
