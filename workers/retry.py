"""The retry policy, in one place: which errors are retried, and how long to wait.

=====================  =========================================================
error class            decision
=====================  =========================================================
RateLimited,           retry after the provider's hint (or backoff); counts as a
ConcurrencyLimited     *throttle*, not an attempt, up to ``MAX_THROTTLES``
ProviderUnavailable    retry with backoff (Retry-After first); counts an attempt
PermanentError,        fail now with the provider's message
ConfigError,
PayloadError
=====================  =========================================================

After ``Settings.max_attempts`` attempts a batch fails visibly with its last reason.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from workers.config import Settings
from workers.errors import (
    ConcurrencyLimited,
    CoursesyncError,
    ProviderError,
    RateLimited,
    TransientError,
)

__all__ = ["MAX_THROTTLES", "Decision", "compute_backoff", "decide"]

#: Throttling is the provider pacing us, not the batch failing; still, never loop forever.
MAX_THROTTLES = 200


@dataclass(frozen=True)
class Decision:
    retry: bool
    delay_s: float
    reason: str
    throttled: bool = False


def compute_backoff(
    attempt: int,
    *,
    base_s: float,
    cap_s: float,
    jitter: bool = True,
    rng: random.Random | None = None,
) -> float:
    """Capped exponential backoff with full jitter (AWS architecture blog): U(0, min(cap, base*2**n))."""
    ceiling = float(min(cap_s, base_s * (2 ** max(0, attempt))))
    if not jitter:
        return ceiling
    return float((rng or random).uniform(0, ceiling))


def decide(exc: CoursesyncError, *, attempts: int, throttles: int, settings: Settings) -> Decision:
    """Whether and when to try a batch again after ``exc``.

    ``attempts``/``throttles`` count the failures so far, including this one.
    """
    reason = exc.reason if isinstance(exc, ProviderError) else str(exc)
    if not isinstance(exc, TransientError):
        return Decision(False, 0.0, reason)
    throttled = isinstance(exc, RateLimited | ConcurrencyLimited)
    if throttled and throttles >= MAX_THROTTLES:
        return Decision(False, 0.0, f"still throttled after {throttles} tries: {reason}", throttled)
    if not throttled and attempts >= settings.max_attempts:
        return Decision(False, 0.0, f"gave up after {attempts} attempts: {reason}")
    backoff = compute_backoff(
        throttles if throttled else attempts - 1,
        base_s=settings.backoff_base_s,
        cap_s=settings.backoff_cap_s,
    )
    # The provider's own hint wins; a little jitter on top keeps a fleet from waking in step.
    delay = exc.retry_after_s + random.uniform(0, 0.25) if exc.retry_after_s is not None else backoff
    return Decision(True, delay, reason, throttled)
