"""Locks that expire on their own: one pump, one sweep, one doctor, one sender per batch.

``SET NX PX`` takes a lock for a while; releasing deletes it only if it is still ours (its
holder may have outlived it, and another process may hold it now). A holder that dies simply
lets it expire.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from workers import lua

__all__ = ["lock", "remaining_s"]


@contextmanager
def lock(r: redis.Redis, key: str, *, ttl_s: float) -> Iterator[bool]:
    """Hold ``key`` for at most ``ttl_s`` while the block runs; yields whether it was taken."""
    token = secrets.token_hex(8)
    held = bool(r.set(key, token, nx=True, px=max(1, int(ttl_s * 1000))))
    try:
        yield held
    finally:
        if held:
            lua.run(r, "release_lock", [key], [token])


def remaining_s(r: redis.Redis, key: str) -> float:
    """How much longer someone else's lock on ``key`` lasts (0 when none)."""
    return max(0.0, int(r.pttl(key)) / 1000)
