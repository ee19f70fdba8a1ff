"""Customers' URLs reach only where the outbound policy allows, and show no secret anywhere."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import httpx
import pytest

from workers.connections import resolve_value
from workers.errors import ConfigError
from workers.outbound import OutboundPolicy, OutboundRefused, open_stream, outbound_policy
from workers.redact import redact_text, redact_url
from workers.sealing import seal, unseal

TIMEOUT = httpx.Timeout(5.0)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "127.1.2.3", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
        "fd00:ec2::254", "fe80::1", "100.64.0.1", "0.0.0.0", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
        "198.18.0.1", "224.0.0.1",
    ],
)  # fmt: skip
def test_internal_addresses_are_refused_by_default(address: str) -> None:
    assert OutboundPolicy().refuses(ipaddress.ip_address(address)) is not None


def test_public_addresses_are_allowed_and_settings_open_what_they_name() -> None:
    assert OutboundPolicy().refuses(ipaddress.ip_address("93.184.216.34")) is None
    loopback = OutboundPolicy.parse("loopback")
    assert loopback.refuses(ipaddress.ip_address("127.0.0.1")) is None
    assert loopback.refuses(ipaddress.ip_address("10.0.0.1")) is not None
    assert loopback.refuses(ipaddress.ip_address("169.254.169.254")) is not None  # metadata stays shut
    ranged = OutboundPolicy.parse("10.20.0.0/16")
    assert ranged.refuses(ipaddress.ip_address("10.20.3.4")) is None
    assert ranged.refuses(ipaddress.ip_address("10.21.0.1")) is not None


def test_an_unreadable_allow_setting_is_a_config_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURSESYNC_OUTBOUND_ALLOW", "loopback,everything")
    with pytest.raises(ConfigError, match="COURSESYNC_OUTBOUND_ALLOW"):
        outbound_policy()


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://127.0.0.1:9/c.jsonl", "loopback"),
        ("http://localhost:9/c.jsonl", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://[::1]:9/", "loopback"),
        ("ftp://example.com/c.jsonl", "only http and https"),
        ("http://no-such-host.invalid/c.jsonl", "does not resolve"),
    ],
)
def test_a_url_to_a_refused_place_is_refused_before_anything_is_sent(url: str, says: str) -> None:
    with pytest.raises(OutboundRefused, match=says), open_stream(url, OutboundPolicy(), timeout=TIMEOUT):
        pass


class _Redirector(BaseHTTPRequestHandler):
    target = ""

    def do_GET(self) -> None:
        if self.path == "/final":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"id": "c1"}\n')
            return
        self.send_response(302)
        self.send_header("Location", self.target)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def redirector() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Redirector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("target", "says"),
    [
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://10.0.0.7/internal", "private"),
        ("file:///etc/passwd", "only http and https"),
    ],
)
def test_every_redirect_hop_is_checked_again(redirector: str, target: str, says: str) -> None:
    # Given a catalog server on loopback (allowed) that redirects somewhere else
    _Redirector.target = target
    with (
        pytest.raises(OutboundRefused, match=says),
        open_stream(redirector + "/catalog.jsonl", OutboundPolicy.parse("loopback"), timeout=TIMEOUT),
    ):
        pass


def test_an_allowed_redirect_is_followed_to_the_catalog(redirector: str) -> None:
    _Redirector.target = "/final"
    with open_stream(redirector + "/c.jsonl", OutboundPolicy.parse("loopback"), timeout=TIMEOUT) as resp:
        assert resp.read() == b'{"id": "c1"}\n'


def test_redirects_stop_after_the_cap(redirector: str) -> None:
    _Redirector.target = "/again"
    with (
        pytest.raises(OutboundRefused, match="more than 5 redirects"),
        open_stream(redirector + "/c.jsonl", OutboundPolicy.parse("loopback"), timeout=TIMEOUT),
    ):
        pass


def test_urls_are_shown_without_credentials_or_signatures() -> None:
    url = "https://reader:hunter2@cdn.example/c.jsonl?X-Amz-Signature=abc123&X-Amz-Credential=AKIA#x"
    shown = redact_url(url)
    assert shown == "https://***@cdn.example/c.jsonl?X-Amz-Signature=***&X-Amz-Credential=***"
    assert "hunter2" not in redact_text(f"cannot download {url}: timed out")
    assert redact_url("https://cdn.example/c.jsonl") == "https://cdn.example/c.jsonl"


def test_a_secret_can_be_a_file_as_docker_and_kubernetes_mount_them(tmp_path: Path) -> None:
    secret = tmp_path / "kombo_api_key"
    secret.write_text("s3cr3t\n")
    assert resolve_value(f"file:{secret}", "connections.x.api_key") == "s3cr3t"
    with pytest.raises(ConfigError, match="cannot be read"):
        resolve_value(f"file:{tmp_path}/missing", "connections.x.api_key")
    assert resolve_value("file:///var/lib/assets", "connections.x.asset_store") == "file:///var/lib/assets"


def test_a_sealed_secret_opens_only_with_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from workers.config import get_settings

    monkeypatch.setenv("COURSESYNC_SECRET_KEY", "one key")
    get_settings.cache_clear()
    sealed = seal("https://u:pw@hooks.example/h?sig=1")
    assert "pw" not in sealed and unseal(sealed) == "https://u:pw@hooks.example/h?sig=1"
    monkeypatch.setenv("COURSESYNC_SECRET_KEY", "another key")
    get_settings.cache_clear()
    with pytest.raises(ConfigError, match="COURSESYNC_SECRET_KEY"):
        unseal(sealed)
    monkeypatch.delenv("COURSESYNC_SECRET_KEY")
    get_settings.cache_clear()
    with pytest.raises(ConfigError, match="COURSESYNC_SECRET_KEY is not set"):
        seal("x")


def test_a_redis_that_evicts_keys_is_refused_with_the_fix(r: object) -> None:
    import redis

    from workers.redis_client import check_no_eviction

    assert isinstance(r, redis.Redis)
    check_no_eviction(r)  # the default, noeviction
    r.config_set("maxmemory-policy", "allkeys-lru")
    try:
        with pytest.raises(ConfigError, match="CONFIG SET maxmemory-policy noeviction"):
            check_no_eviction(r)
    finally:
        r.config_set("maxmemory-policy", "noeviction")
