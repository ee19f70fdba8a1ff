"""What every fake provider shares: routing, outages, injected faults, rate and concurrency limits.

A provider module subclasses ``ProviderApp``, lists its routes and says how its errors and
rate-limit headers look; the behaviour common to real APIs (and to the tests' fault
scenarios) lives here once.
"""

from __future__ import annotations

import re
import time
from typing import Any

from sandbox.http import Request, Response, Route
from sandbox.limits import TokenBucket
from sandbox.state import State

__all__ = ["ProviderApp"]


class ProviderApp:
    """Base of one fake provider mounted under ``prefix``."""

    name = ""
    prefix = ""

    def __init__(self, state: State) -> None:
        self.state = state
        self.compiled = [
            (route, re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", route.pattern) + "$"))
            for route in self.routes()
        ]

    # ---- what a provider defines
    def routes(self) -> list[Route]:
        raise NotImplementedError

    def error(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
        """A response in the provider's own error shape."""
        raise NotImplementedError

    def rate_limit(self, req: Request) -> tuple[str, float, int | None] | None:
        """(credential key, rate per s, burst) when this request counts against a quota."""
        return None

    def rate_headers(self, bucket: TokenBucket) -> dict[str, str]:
        return {}

    def rate_limited(self, bucket: TokenBucket | None) -> Response:
        return self.error(429, "RATE_LIMIT_EXCEEDED", "rate limit exceeded")

    def concurrency(self, req: Request, route: Route) -> tuple[str, int] | None:
        """(key, limit) when this request counts against a concurrency limit."""
        return None

    def concurrency_limited(self, key: str, limit: int) -> Response:
        return self.error(429, "CONCURRENCY_LIMIT_EXCEEDED", "too many requests in flight")

    # ---- shared behaviour
    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route, regex in self.compiled:
            m = regex.match(path)
            if m and route.method == method:
                return route, m.groupdict()
        return None

    def handle(self, req: Request, route: Route) -> Response:
        s = self.state.settings
        if s.down_until_epoch_s is not None and time.time() < s.down_until_epoch_s:
            return self.error(503, "SERVICE_UNAVAILABLE", "the provider is down (sandbox outage)")
        if self.state.chance(s.fail_rate_5xx):
            return self.error(503, "SERVICE_UNAVAILABLE", "temporarily unavailable (sandbox fault)")
        limit = self.rate_limit(req)
        bucket = self.state.bucket(self.name, limit[0], limit[1], limit[2]) if limit else None
        if self.state.chance(s.fail_rate_429) or (bucket is not None and not bucket.take()):
            response = self.rate_limited(bucket)
        else:
            response = self._run(req, route)
        if bucket is not None:
            response.headers.update(self.rate_headers(bucket))
        if self.state.chance(s.timeout_rate):
            response.delay_s = s.timeout_sleep_s
        return response

    def _run(self, req: Request, route: Route) -> Response:
        cap = self.concurrency(req, route)
        if cap is not None and not self.state.inflight.enter(*cap):
            return self.concurrency_limited(*cap)
        try:
            if self.state.settings.latency_s > 0:
                time.sleep(self.state.settings.latency_s)
            response = route.handler(req)
        finally:
            if cap is not None:
                self.state.inflight.leave(cap[0])
        if cap is not None:
            response.headers.update(self.concurrency_headers(*cap))
        return response

    def concurrency_headers(self, key: str, limit: int) -> dict[str, str]:
        return {}

    def describe(self) -> dict[str, Any]:
        return {
            "prefix": self.prefix,
            "routes": [f"{r.method} {self.prefix}{r.pattern}" for r, _ in self.compiled],
        }
