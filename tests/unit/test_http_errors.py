"""Every httpx exception is translated at the boundary; none leaks above the provider layer."""

from __future__ import annotations

import httpx
import pytest

from workers.errors import PermanentError, ProviderError, ProviderUnavailable
from workers.providers.http import map_errors, retry_after_s


def all_subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(all_subclasses(sub))
    return out


HTTPX_ERRORS = sorted(
    {c for c in all_subclasses(httpx.HTTPError) if c.__module__.startswith("httpx")}
    | {httpx.InvalidURL, httpx.StreamError},
    key=lambda c: c.__name__,
)


@pytest.mark.parametrize("exc_cls", HTTPX_ERRORS, ids=lambda c: c.__name__)
def test_every_httpx_exception_is_mapped(exc_cls: type[Exception]) -> None:
    request = httpx.Request("GET", "http://example.invalid/x")
    if issubclass(exc_cls, httpx.HTTPStatusError):
        exc: Exception = exc_cls("boom", request=request, response=httpx.Response(500, request=request))
    elif issubclass(exc_cls, httpx.RequestError):
        exc = exc_cls("boom", request=request)
    else:
        exc = exc_cls("boom")
    with (
        pytest.raises(ProviderError) as info,
        map_errors("kombo", "acme", "http://example.invalid/x"),
    ):
        raise exc
    assert isinstance(info.value, ProviderUnavailable | PermanentError)
    assert info.value.provider == "kombo" and info.value.connection == "acme"
    assert info.value.__cause__ is exc


def test_transport_failures_are_transient_and_bad_urls_permanent() -> None:
    request = httpx.Request("GET", "http://x")
    with pytest.raises(ProviderUnavailable), map_errors("p", "c", "u"):
        raise httpx.ConnectError("refused", request=request)
    with pytest.raises(PermanentError), map_errors("p", "c", "u"):
        raise httpx.UnsupportedProtocol("ftp", request=request)


def test_retry_after_reads_seconds_dates_and_reset_headers() -> None:
    assert retry_after_s({"retry-after": "12"}) == 12.0
    assert retry_after_s({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, now_s=1445412470.0) == 10.0
    assert retry_after_s({"ratelimit-reset": "5"}) == 5.0
    assert retry_after_s({"x-ratelimit-reset": "1700000030"}, now_s=1700000000.0) == 30.0
    assert retry_after_s({}) is None
