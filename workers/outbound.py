"""Where coursesync may send a request on a customer's behalf: one policy for every URL a
customer gives it (catalog sources, webhooks, HTTP asset stores).

A customer's URL must not make coursesync read its own cloud metadata service, its Redis, or a
neighbour on the private network (SSRF). So, unless ``COURSESYNC_OUTBOUND_ALLOW`` says
otherwise, a request may go only to public addresses over http(s); the check runs on every
hop *after* DNS resolution, on the address actually connected to (a name that resolves to
127.0.0.1, or a redirect to 169.254.169.254, is refused); a redirect may not downgrade https
to http; redirects stop after ``MAX_REDIRECTS``.

``COURSESYNC_OUTBOUND_ALLOW`` is a comma-separated list of what to allow besides: ``loopback``,
``private`` (RFC 1918, unique-local, CGNAT), ``link-local`` or CIDR ranges
(``10.20.0.0/16``); the demo and the tests allow ``loopback``.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

from workers.config import Settings, get_settings
from workers.errors import ConfigError, CoursesyncError
from workers.redact import redact_url

__all__ = [
    "MAX_REDIRECTS",
    "OutboundPolicy",
    "OutboundRefused",
    "PolicyTransport",
    "open_stream",
    "outbound_policy",
]

#: Redirects followed at most: a catalog behind a CDN takes one or two.
MAX_REDIRECTS = 5
_SCHEMES = frozenset({"http", "https"})
_KEYWORDS = ("loopback", "private", "link-local")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class OutboundRefused(CoursesyncError):
    """A request to a customer's URL was refused by the outbound policy (it says why)."""


@dataclass(frozen=True)
class OutboundPolicy:
    """What besides public addresses a request may reach."""

    allow: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> OutboundPolicy:
        """From ``COURSESYNC_OUTBOUND_ALLOW``; a ValueError names what it cannot read."""
        allow = tuple(part.strip().lower() for part in text.split(",") if part.strip())
        for part in allow:
            if part not in _KEYWORDS:
                ipaddress.ip_network(part, strict=False)  # raises ValueError naming it
        return cls(allow)

    def _networks(self) -> list[Network]:
        return [ipaddress.ip_network(p, strict=False) for p in self.allow if p not in _KEYWORDS]

    def refuses(self, ip: IPAddress) -> str | None:
        """Why ``ip`` may not be reached, or None when it may."""
        ip = ip.ipv4_mapped or ip if isinstance(ip, ipaddress.IPv6Address) else ip
        if any(ip in net for net in self._networks()):
            return None
        if ip.is_loopback:
            return None if "loopback" in self.allow else "a loopback address"
        if ip.is_link_local:
            # 169.254.169.254 and fd00:ec2::254 are the cloud metadata services
            return None if "link-local" in self.allow else "a link-local address (cloud metadata)"
        if ip.is_private or not ip.is_global:
            return None if "private" in self.allow else "a private or reserved address"
        if ip.is_multicast:
            return "a multicast address"
        return None

    def check(self, url: httpx.URL) -> str:
        """The address to connect to for ``url``: its host, resolved and checked.

        Raises:
            OutboundRefused: for a scheme other than http(s), or a host any of whose addresses
                the policy refuses (one bad answer among good ones would let DNS rebinding in).
        """
        shown = redact_url(str(url))
        if url.scheme not in _SCHEMES:
            raise OutboundRefused(f"{shown}: only http and https URLs may be fetched")
        try:
            infos = socket.getaddrinfo(url.host, url.port or (443 if url.scheme == "https" else 80),
                                       type=socket.SOCK_STREAM)  # fmt: skip
        except (socket.gaierror, UnicodeError) as exc:
            raise OutboundRefused(f"{shown}: the host name does not resolve ({exc})") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        for ip in addresses:
            why = self.refuses(ip)
            if why:
                raise OutboundRefused(
                    f"{shown}: {url.host} is {why} ({ip}), which coursesync does not reach for a "
                    "customer unless COURSESYNC_OUTBOUND_ALLOW says so"
                )
        return str(addresses[0])


def outbound_policy(settings: Settings | None = None) -> OutboundPolicy:
    """The policy ``COURSESYNC_OUTBOUND_ALLOW`` sets; a ConfigError if it cannot be read."""
    text = (settings or get_settings()).outbound_allow
    try:
        return OutboundPolicy.parse(text)
    except ValueError as exc:
        raise ConfigError(
            f"COURSESYNC_OUTBOUND_ALLOW={text!r}: {exc}; use loopback, private, link-local or CIDR ranges"
        ) from None


class PolicyTransport(httpx.BaseTransport):
    """Connects only where ``policy`` allows, to the very address it checked.

    ``trusted`` hosts skip the check: a provider's own base URL is the operator's choice, not
    a customer's (the sandbox of the tests and the demo is on loopback), while an asset store
    on another host is checked like any customer URL.
    """

    def __init__(
        self,
        policy: OutboundPolicy,
        inner: httpx.BaseTransport | None = None,
        *,
        trusted: frozenset[str] = frozenset(),
    ) -> None:
        self._policy = policy
        self._inner = inner or httpx.HTTPTransport()
        self._trusted = trusted

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host in self._trusted:
            return self._inner.handle_request(request)
        address = self._policy.check(request.url)
        # Connect to the checked address, not to whatever the name resolves to a moment later;
        # the Host header and TLS (SNI, certificate) keep the name.
        request.url = request.url.copy_with(host=address)
        request.extensions = {**request.extensions, "sni_hostname": host}
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


@contextmanager
def open_stream(
    url: str, policy: OutboundPolicy, *, timeout: httpx.Timeout, method: str = "GET", **kwargs: object
) -> Iterator[httpx.Response]:
    """An open streaming response for ``url``, redirects followed by hand (each hop checked,
    no downgrade from https to http, at most ``MAX_REDIRECTS``)."""
    with httpx.Client(transport=PolicyTransport(policy), timeout=timeout, follow_redirects=False) as client:
        current = httpx.URL(url)
        for _ in range(MAX_REDIRECTS + 1):
            request = client.build_request(method, current, **kwargs)  # type: ignore[arg-type]
            response = client.send(request, stream=True)
            location = response.headers.get("location")
            if not (response.is_redirect and location):
                try:
                    yield response
                finally:
                    response.close()
                return
            response.close()
            following = httpx.URL(urljoin(str(current), location))
            if current.scheme == "https" and following.scheme != "https":
                raise OutboundRefused(
                    f"{redact_url(str(current))} redirects to {redact_url(str(following))}: a "
                    "redirect from https to another scheme is refused"
                )
            current = following
        raise OutboundRefused(f"{redact_url(url)}: more than {MAX_REDIRECTS} redirects")
