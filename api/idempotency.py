"""``Idempotency-Key``: a POST repeated with the same key answers the first result, not a second run.

As the IETF draft (draft-ietf-httpapi-idempotency-key-header) and Stripe do: the key is scoped
to the token; its first use records a fingerprint of the request; a repeat with the same
fingerprint gets the first answer (the run's current document), one with a different request is
a 422, and one while the first is still being handled is a 409. A first attempt that failed
frees the key, so a retry can succeed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from api.problems import Problem
from workers import keys

__all__ = ["Claim", "claim"]


class Claim:
    """The outcome of claiming a key: ``replay`` is the earlier result's id, or None to go on."""

    def __init__(self, r: redis.Redis, key: str | None, ttl_s: int) -> None:
        self._r, self._key, self._ttl_s = r, key, ttl_s
        self.replay: str | None = None
        self._fingerprint = ""

    def done(self, result_id: str) -> None:
        if self._key:
            record = {"state": "done", "fingerprint": self._fingerprint, "result": result_id}
            self._r.set(self._key, json.dumps(record), ex=self._ttl_s)


@contextmanager
def claim(r: redis.Redis, token_id: str, key: str | None, fingerprint: str, *, ttl_s: int) -> Iterator[Claim]:
    """Claim ``key`` for this request for the body of the ``with``; call ``done(result_id)``."""
    if key is None:
        yield Claim(r, None, ttl_s)
        return
    if not 1 <= len(key) <= 255:
        raise Problem(
            400,
            "Idempotency-Key must be 1-255 characters",
            errors=[{"field": "Idempotency-Key", "reason": "1-255 characters"}],
        )
    redis_key = keys.idempotency(token_id, hashlib.sha256(key.encode()).hexdigest())
    fingerprint = hashlib.sha256(fingerprint.encode()).hexdigest()
    pending = json.dumps({"state": "pending", "fingerprint": fingerprint})
    if not r.set(redis_key, pending, nx=True, ex=ttl_s):
        found = json.loads(r.get(redis_key) or "{}")
        if found.get("fingerprint") != fingerprint:
            raise Problem(
                422,
                "this Idempotency-Key was used with a different request; use a new key",
                kind="idempotency-key-reused",
                errors=[{"field": "Idempotency-Key", "reason": "used with a different request"}],
            )
        if found.get("state") != "done":
            raise Problem(
                409,
                "a request with this Idempotency-Key is still being handled; retry shortly",
                kind="idempotency-key-in-use",
                headers={"Retry-After": "1"},
            )
        replayed = Claim(r, None, ttl_s)
        replayed.replay = str(found["result"])
        yield replayed
        return
    claimed = Claim(r, redis_key, ttl_s)
    claimed._fingerprint = fingerprint
    try:
        yield claimed
    except BaseException:
        r.delete(redis_key)  # the first attempt failed: a retry may try again
        raise
