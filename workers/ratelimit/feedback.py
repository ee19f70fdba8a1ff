"""Learning from the provider's answers: its quota headers and its 429s pause the whole fleet.

Installed as an httpx response hook on every provider client, so every request teaches the
limiter, submissions and polls alike, whatever the provider module does with the answer. The
same hook counts every answer by status class for the metrics endpoint.

The hook runs on every answer, successes included, so it never raises: a header nobody can read
(``Concurrency-Limit: inf``) or a hiccup while recording must not turn a request the provider
answered into a failure, which would make coursesync resend work the provider already did.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import httpx

from workers.connections import Connection
from workers.metrics import count_pause, count_response
from workers.providers.http import retry_after_s
from workers.ratelimit import Limits

__all__ = ["DEFAULT_PAUSE_S", "response_hook"]

log = logging.getLogger(__name__)

#: A 429 without any hint pauses this long: Kombo and 360Learning both advise about 1 s.
DEFAULT_PAUSE_S = 1.0
#: A reset at most this far away is the normal edge of a quota we are pacing against.
QUOTA_EDGE_S = 1.0
#: How long an announced concurrency limit is believed without being repeated.
LEARNED_CAP_TTL_S = 3600


def _int(value: str | None) -> int | None:
    """A header's whole number, or None when absent or unreadable (``abc``, ``inf``, ``1e400``)."""
    try:
        number = float(value) if value is not None else math.nan
    except ValueError:
        return None
    return int(number) if math.isfinite(number) else None


def learn(limits: Limits, r: Any, connection: Connection, response: httpx.Response) -> None:
    """Pause or narrow ``connection`` according to what ``response`` says about its limits."""
    headers = response.headers
    bucket = connection.spec.bucket_for(response.request.method)
    remaining = _int(headers.get("ratelimit-remaining") or headers.get("x-ratelimit-remaining"))
    wait = retry_after_s(headers)
    # At the edge of the quota remaining is 0 between two paced requests; that is no reason to
    # stop. A reset further away than that means the quota is really spent (shared key, long
    # window): then everyone waits for it.
    spent = remaining == 0 and wait is not None and wait > QUOTA_EDGE_S
    if response.status_code == 429 or spent:
        wait = DEFAULT_PAUSE_S if wait is None or wait <= 0 else wait
        why = "HTTP 429" if response.status_code == 429 else "quota spent (ratelimit-remaining: 0)"
        limits.pause(connection, bucket, wait, why)
        count_pause(r, connection.name)
        log.warning("pausing connection=%r bucket=%s for %.1f s: %s", connection.name, bucket, wait, why)
    cap = _int(headers.get("concurrency-limit"))
    if cap is not None and 0 < cap < connection.max_in_flight:
        limits.learn_cap(connection, cap, ttl_s=LEARNED_CAP_TTL_S)


def response_hook(r: Any, connection: Connection) -> Callable[[httpx.Response], None]:
    """An httpx ``response`` event hook bound to one connection."""
    limits = Limits.on(r)

    def hook(response: httpx.Response) -> None:
        try:
            count_response(r, connection.name, connection.provider, response.status_code)
            learn(limits, r, connection, response)
        except Exception:  # never fail a request the provider answered (see module docstring)
            log.warning(
                "connection=%r: could not learn from the answer to %s %s (HTTP %s); going on",
                connection.name,
                response.request.method,
                response.request.url.path,
                response.status_code,
                exc_info=True,
            )

    return hook
