"""A total deadline for every provider request, and a record of which requests left.

httpx's timeouts are per operation: a 50 MB upload trickling at a few bytes per second never
trips them, and could outlive the batch lock that keeps a second worker from sending the same
batch. ``DeadlineTransport`` wraps the real transport and checks one deadline between every
chunk of the request body and of the response, so a request lasts at most its deadline plus
one read or write (each bounded by the per-operation timeout): ``workers.timing`` counts on it.

It also counts the requests that *may change something* (every method but GET/HEAD/OPTIONS)
as they leave, in a context variable: after an unexpected error the caller can tell "nothing
was sent" (safe to try again) from "a write may have reached the provider" (``track_writes``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import httpx

__all__ = ["DeadlineTransport", "WriteLog", "track_writes"]

#: Body chunks are checked against the deadline at least this often (bytes).
_CHUNK = 64 * 1024
_READS = frozenset({"GET", "HEAD", "OPTIONS"})


class WriteLog:
    """How many requests that may change something were handed to the network."""

    def __init__(self) -> None:
        self.sent = 0


_current: ContextVar[WriteLog | None] = ContextVar("coursesync_write_log", default=None)


@contextmanager
def track_writes() -> Iterator[WriteLog]:
    """Count the writes made inside the block (in this thread or task context)."""
    log = WriteLog()
    token = _current.set(log)
    try:
        yield log
    finally:
        _current.reset(token)


class _Body(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, deadline: float, request: httpx.Request) -> None:
        self._inner, self._deadline, self._request = inner, deadline, request

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            for start in range(0, len(chunk), _CHUNK):
                if time.monotonic() > self._deadline:
                    raise httpx.WriteTimeout("request deadline passed while sending", request=self._request)
                yield chunk[start : start + _CHUNK]


class _Answer(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, deadline: float, request: httpx.Request) -> None:
        self._inner, self._deadline, self._request = inner, deadline, request

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            if time.monotonic() > self._deadline:
                raise httpx.ReadTimeout("request deadline passed while reading", request=self._request)
            yield chunk

    def close(self) -> None:
        self._inner.close()


class DeadlineTransport(httpx.BaseTransport):
    """``inner`` with a total deadline of ``total_s`` per request."""

    def __init__(self, inner: httpx.BaseTransport, total_s: float) -> None:
        self._inner = inner
        self._total_s = total_s

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        deadline = time.monotonic() + self._total_s
        stream = request.stream
        if isinstance(stream, httpx.SyncByteStream):
            request.stream = _Body(stream, deadline, request)
        log = _current.get()
        if log is not None and request.method.upper() not in _READS:
            log.sent += 1
        response = self._inner.handle_request(request)
        answer = response.stream
        if isinstance(answer, httpx.SyncByteStream):
            response.stream = _Answer(answer, deadline, request)
        return response

    def close(self) -> None:
        self._inner.close()
