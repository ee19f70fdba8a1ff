"""The shared JSON-over-HTTP plumbing: a 2xx gives its JSON, anything else the provider's own error."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from workers.errors import AuthError, ConcurrencyLimited, ProviderError, ProviderUnavailable, RateLimited
from workers.providers.json_api import ErrorWords, JsonApi


def read(body: Any, response: httpx.Response) -> tuple[str | None, str]:
    error = body.get("error", {}) if isinstance(body, dict) else {}
    return error.get("code"), error.get("message") or response.reason_phrase


WORDS = ErrorWords(
    read=read,
    hint=lambda exc: "check api_key" if isinstance(exc, AuthError) else None,
    concurrency_codes=frozenset({"TOO_MANY_AT_ONCE"}),
)


def api(handler: Any) -> JsonApi:
    return JsonApi(httpx.Client(transport=httpx.MockTransport(handler)), "acme", "conn", WORDS)


def test_a_2xx_gives_its_json_and_the_body_goes_as_json() -> None:
    # Given a provider that echoes the body it received
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["content-type"] == "application/json"
        return httpx.Response(202, content=request.content)

    # When a body is sent, then its JSON comes back
    assert api(handler).call("POST", "http://x/items", {"items": [1]}) == {"items": [1]}


def test_an_error_answer_is_the_error_tree_with_the_providers_code_message_and_advice() -> None:
    # Given a provider answering 401 with its own envelope
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": {"code": "BAD_KEY", "message": "key unknown"}})

    # When it is called, then the error is classed by status, names the code and gives the advice
    with pytest.raises(AuthError) as caught:
        api(handler).call("GET", "http://x/jobs/1")
    assert (caught.value.code, caught.value.status_code) == ("BAD_KEY", 401)
    assert caught.value.message == "key unknown (connection 'conn': check api_key)"
    assert (caught.value.provider, caught.value.connection) == ("acme", "conn")


@pytest.mark.parametrize(
    ("code", "expected"), [("TOO_MANY_AT_ONCE", ConcurrencyLimited), (None, RateLimited)]
)
def test_a_429_is_a_concurrency_limit_only_for_the_providers_codes(
    code: str | None, expected: type[ProviderError]
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, json={"error": {"code": code}}, headers={"Retry-After": "7"})

    with pytest.raises(expected) as caught:
        api(handler).call("GET", "http://x/jobs/1")
    assert type(caught.value) is expected and getattr(caught.value, "retry_after_s", None) == 7.0


def test_a_call_may_give_its_own_advice_and_a_transport_failure_never_leaks_httpx() -> None:
    def not_found(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, text="<html>gone</html>")

    with pytest.raises(ProviderError, match=r"Not Found \(connection 'conn': no such job\)"):
        api(not_found).call("GET", "http://x/jobs/9", hint=lambda exc: "no such job")

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(ProviderUnavailable):
        api(refused).call("GET", "http://x/jobs/1")
