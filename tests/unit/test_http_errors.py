"""Every httpx exception is translated at the boundary; none leaks above the provider layer.

Transport errors split by whether the provider may have processed the request: ``AnswerLost``
when it may have (the request went out and the answer was lost), ``ProviderUnavailable`` when
it certainly did not. Wait hints never raise and are always finite, non-negative and capped.
"""

from __future__ import annotations

import email.utils

import httpx
import pytest

from workers.errors import AnswerLost, PermanentError, ProviderError, ProviderUnavailable
from workers.providers.http import json_body, map_errors, max_hint_s, retry_after_s


def all_subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(all_subclasses(sub))
    return out


HTTPX_ERRORS = sorted(
    {c for c in all_subclasses(httpx.HTTPError) if c.__module__.startswith("httpx")}
    | {httpx.InvalidURL, httpx.StreamError}
    | {c for c in all_subclasses(httpx.StreamError) if c.__module__.startswith("httpx")},
    key=lambda c: c.__name__,
)

#: The class each httpx error becomes. A new httpx error class fails the test below until it
#: is placed here: deciding whether its request may have been processed is a human's call.
EXPECTED: dict[str, type[ProviderError]] = {
    # The request may have reached the provider and its answer was lost or unreadable.
    "ReadTimeout": AnswerLost,
    "ReadError": AnswerLost,
    "RemoteProtocolError": AnswerLost,
    "CloseError": AnswerLost,
    "DecodingError": AnswerLost,
    "StreamError": AnswerLost,
    "StreamConsumed": AnswerLost,
    "StreamClosed": AnswerLost,
    "ResponseNotRead": AnswerLost,
    "RequestNotRead": AnswerLost,
    "HTTPStatusError": AnswerLost,
    # Base classes (raised by custom transports) may stand for either: assume the worst.
    "ProtocolError": AnswerLost,
    "NetworkError": AnswerLost,
    "TimeoutException": AnswerLost,
    "TransportError": AnswerLost,
    "RequestError": AnswerLost,
    # The request certainly was not processed.
    "ConnectTimeout": ProviderUnavailable,
    "ConnectError": ProviderUnavailable,
    "PoolTimeout": ProviderUnavailable,
    "WriteTimeout": ProviderUnavailable,
    "WriteError": ProviderUnavailable,
    "ProxyError": ProviderUnavailable,
    "LocalProtocolError": ProviderUnavailable,
    # Configuration: no retry helps.
    "UnsupportedProtocol": PermanentError,
    "InvalidURL": PermanentError,
    "TooManyRedirects": PermanentError,
}


def make(exc_cls: type[Exception]) -> Exception:
    request = httpx.Request("GET", "http://example.invalid/x")
    if issubclass(exc_cls, httpx.HTTPStatusError):
        return exc_cls("boom", request=request, response=httpx.Response(500, request=request))
    if issubclass(exc_cls, httpx.RequestError):
        return exc_cls("boom", request=request)
    if exc_cls in (httpx.StreamConsumed, httpx.StreamClosed, httpx.ResponseNotRead, httpx.RequestNotRead):
        return exc_cls()
    return exc_cls("boom")


@pytest.mark.parametrize("exc_cls", HTTPX_ERRORS, ids=lambda c: c.__name__)
def test_every_httpx_exception_is_mapped_to_its_decided_class(exc_cls: type[Exception]) -> None:
    # Given an httpx error raised inside the boundary
    exc = make(exc_cls)
    with (
        pytest.raises(ProviderError) as info,
        map_errors("kombo", "acme", "http://example.invalid/x"),
    ):
        raise exc
    # Then it is exactly the class decided for it, with its context and cause
    assert exc_cls.__name__ in EXPECTED, f"decide what {exc_cls.__name__} means and add it to EXPECTED"
    assert type(info.value) is EXPECTED[exc_cls.__name__]
    assert info.value.provider == "kombo" and info.value.connection == "acme"
    assert info.value.__cause__ is exc


def test_answer_lost_is_still_a_transient_provider_unavailable() -> None:
    # Retry code that only knows ProviderUnavailable keeps retrying what it retried before.
    assert issubclass(AnswerLost, ProviderUnavailable)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "12"}, 12.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 10.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"ratelimit-reset": "5"}, 5.0),
        ({"x-ratelimit-reset": "1445412500"}, 30.0),  # epoch seconds
        ({"x-ratelimit-reset": "1445412500000"}, 30.0),  # epoch milliseconds
        ({"ratelimit-reset": "1445412470250"}, 0.25),
        ({}, None),
    ],
)
def test_retry_after_reads_seconds_dates_milliseconds_and_reset_headers(
    headers: dict[str, str], expected: float | None
) -> None:
    assert retry_after_s(httpx.Headers(headers), now_s=1445412470.0) == expected


@pytest.mark.parametrize(
    "value",
    ["abc", "inf", "-inf", "nan", "1e400", "-5", "", "   ", "Wed, 99 Foo 2026 99:99:99 GMT", "0x10",
     "Mon, 01 Jan 10000 00:00:00 GMT", "\x00", "1,5", "--1"],
)  # fmt: skip
def test_a_malformed_retry_after_is_no_hint_and_never_raises(value: str) -> None:
    assert retry_after_s({"retry-after": value}, now_s=1_000.0) is None
    assert retry_after_s({"retry-after-ms": value}, now_s=1_000.0) is None
    assert retry_after_s({"ratelimit-reset": value}, now_s=1_000.0) is None


def test_an_unreadable_header_falls_through_to_the_next_readable_one() -> None:
    assert retry_after_s({"retry-after": "soon", "ratelimit-reset": "4"}, now_s=0.0) == 4.0


@pytest.mark.parametrize(
    "headers",
    [
        {"retry-after": "99999999"},
        {"retry-after": "1e300"},
        {"retry-after-ms": "1e15"},
        {"ratelimit-reset": "99999999999999999999999"},  # read as epoch ms: far future
        {"x-ratelimit-reset": "32503680000"},  # epoch seconds in the year 3000
    ],
)
def test_every_hint_is_capped(headers: dict[str, str]) -> None:
    assert retry_after_s(headers, now_s=1_700_000_000.0) == max_hint_s()


def test_a_reset_or_date_in_the_past_means_no_wait_not_a_negative_one() -> None:
    now = 1_700_000_000.0
    past = email.utils.formatdate(now - 60, usegmt=True)
    assert retry_after_s({"retry-after": past}, now_s=now) == 0.0
    assert retry_after_s({"x-ratelimit-reset": str(int(now) - 60)}, now_s=now) == 0.0
    assert retry_after_s({"x-ratelimit-reset": str(int(now * 1000) - 60_000)}, now_s=now) == 0.0


def test_an_answer_nested_beyond_the_parser_is_no_json_not_a_crash() -> None:
    deep = httpx.Response(200, content=b"[" * 100_000 + b"]" * 100_000)
    assert json_body(deep) is None
    assert json_body(httpx.Response(200, content=b"\xff\xfe not utf-8")) is None
