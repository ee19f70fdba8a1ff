"""What a provider enforces or suffers, in memory: rate limits, a concurrency counter, faults.

Policy (which key, which limit, which headers) stays in the provider modules; these classes are
the thread-safe mechanics, each with its own small lock so that limits never serialise requests.
"""

from sandbox.limits.base import Limiter, Quota
from sandbox.limits.composite import AllOf
from sandbox.limits.concurrency import ConcurrencyCounter
from sandbox.limits.faults import Fault, FaultInjector
from sandbox.limits.rate import FixedWindow, SlidingWindow, TokenBucket

__all__ = [
    "AllOf",
    "ConcurrencyCounter",
    "Fault",
    "FaultInjector",
    "FixedWindow",
    "Limiter",
    "Quota",
    "SlidingWindow",
    "TokenBucket",
]
