"""Telling the upstream system that a run ended: a signed POST of the run document.

Signature (like Stripe's): header ``X-Coursesync-Signature: t=<unix s>,v1=<hex>`` where
``v1 = HMAC-SHA256(secret, "<t>.<raw body>")``. Receivers recompute it, compare in constant
time and reject old timestamps. ``X-Coursesync-Delivery`` carries the run id, so a receiver can
ignore a repeat (delivery is at least once: a lost 200 means the POST is sent again).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from typing import Any

import httpx

from workers.errors import PermanentError, ProviderUnavailable
from workers.ledger import get_run
from workers.outbound import OutboundRefused, PolicyTransport, outbound_policy
from workers.providers.registry import get_connection
from workers.redact import redact_text, redact_url
from workers.sealing import unseal

__all__ = ["SIGNATURE_HEADER", "deliver", "sign", "verify", "webhook_target"]

SIGNATURE_HEADER = "X-Coursesync-Signature"
#: A receiver that takes longer than this is treated as down and retried.
WEBHOOK_TIMEOUT_S = 10.0


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, body: bytes, header: str, *, tolerance_s: float = 300.0) -> bool:
    """For receivers (and tests): is ``header`` a fresh, valid signature of ``body``?"""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, body, timestamp), header)


def webhook_target(r: Any, run_id: str) -> tuple[str, str | None] | None:
    """(url, secret) for the run: the run's own webhook, else its connection's; None if neither.

    The secret is the connection's ``webhook_secret`` (usually ``env:...``), else the
    COURSESYNC_WEBHOOK_SECRET variable; it is read here, never carried in a message.
    """
    raw = get_run(r, run_id) or {}
    # A run's own webhook URL is kept sealed when it carries credentials (producers.sync).
    sealed = raw.get("webhook_url")
    url = unseal(sealed) if sealed else None
    connection = get_connection(raw["connection"]) if raw.get("connection") else None
    if not url and connection is not None:
        url = connection.option("webhook_url")
    if not url:
        return None
    secret = (
        connection.secret("webhook_secret") if connection and "webhook_secret" in connection.options else None
    )
    return str(url), secret or os.environ.get("COURSESYNC_WEBHOOK_SECRET") or None


def deliver(url: str, document: dict[str, Any], secret: str | None) -> None:
    """POST ``document`` to ``url`` (where the outbound policy allows, no redirect followed);
    raises ProviderUnavailable (retry) or PermanentError."""
    body = json.dumps(document, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", "X-Coursesync-Delivery": str(document.get("run_id"))}
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, body, int(time.time()))
    shown = redact_url(url)
    ctx: dict[str, Any] = {"provider": "webhook", "url": shown}
    transport = PolicyTransport(outbound_policy())
    try:
        with httpx.Client(transport=transport, timeout=WEBHOOK_TIMEOUT_S, follow_redirects=False) as client:
            resp = client.post(url, content=body, headers=headers)
    except OutboundRefused as exc:
        raise PermanentError(f"webhook refused: {exc}", **ctx) from None
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise PermanentError(f"webhook URL {shown} cannot be used: {redact_text(str(exc))}", **ctx) from None
    except httpx.HTTPError as exc:
        raise ProviderUnavailable(f"webhook receiver unreachable: {redact_text(str(exc))}", **ctx) from None
    if resp.is_redirect:
        raise PermanentError(
            f"webhook receiver answered a redirect (HTTP {resp.status_code}); configure its final URL",
            status_code=resp.status_code,
            **ctx,
        )
    if resp.status_code >= 300:
        raise ProviderUnavailable(
            f"webhook receiver answered HTTP {resp.status_code}", status_code=resp.status_code, **ctx
        )
