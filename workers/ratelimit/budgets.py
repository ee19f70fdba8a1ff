"""Which budgets a request spends: the one the provider counts, shared by every connection on it.

Providers count requests per credential, not per customer: StackOne per API key whatever the
``x-account-id``, Kombo per API key, 360Learning per company, Thought Industries per API key.
A budget is therefore identified by the provider's own unit, a digest of the credential's
identity (never the secret itself), so every connection using one key spends from one budget,
fleet-wide, without anyone splitting the quota by hand. ``budget_key`` names one explicitly
(several 360Learning API clients of one company).

A budget has one or more *windows* ("N requests per W seconds"); a request needs room in all of
them (``workers/lua/gcra.lua`` takes them together or not at all). A connection may also cap
its own share (``max_requests_per_minute``): one more window, on a budget of its own.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workers.quota import Window

if TYPE_CHECKING:
    from workers.connections import Connection

__all__ = ["Budget", "budget_id", "budgets"]


@dataclass(frozen=True)
class Budget:
    """One quota: ``id`` names it in Redis (the same for every connection spending it)."""

    id: str
    bucket: str
    windows: tuple[Window, ...]
    #: Spent by every connection on the same provider unit (False: a connection's own cap).
    shared: bool = True

    @property
    def per_s(self) -> float:
        """The sustained rate the tightest window allows."""
        return min(w.per_s for w in self.windows)


def budget_id(connection: Connection) -> str:
    """The provider unit ``connection`` spends from, as ``provider:digest``.

    The digest covers the host and the values of the provider's identity settings (an API key, a
    client id). sha256 is one-way: the id reveals nothing of the key, yet two connections on one
    key always meet on one budget."""
    explicit = connection.options.get("budget_key")
    if isinstance(explicit, str) and explicit:
        return f"{connection.provider}:{explicit}"
    refs = tuple(str(connection.options.get(key, "")) for key in connection.spec.budget_identity)
    return _digest(connection, refs) if refs else f"connection:{connection.name}"


_resolved: dict[tuple[str, str, tuple[str, ...]], str] = {}


def _digest(connection: Connection, refs: tuple[str, ...]) -> str:
    # Asked before every request: the references ("env:KEY") are resolved once per process.
    host = connection.base_url.split("://", 1)[-1].split("/", 1)[0]
    memo = (connection.provider, host, refs)
    found = _resolved.get(memo)
    if found is None:
        values = tuple(
            connection.secret(key) if key in connection.options else ""
            for key in connection.spec.budget_identity
        )
        digest = hashlib.sha256("\x1f".join((connection.provider, host, *values)).encode()).hexdigest()
        found = _resolved[memo] = f"{connection.provider}:{digest[:16]}"
    return found


def budgets(connection: Connection, bucket: str) -> list[Budget]:
    """The budgets a request of ``bucket`` spends: the shared one, and the connection's own cap
    when it sets one."""
    found = [Budget(budget_id(connection), bucket, connection.windows(bucket))]
    own = connection.own_windows(bucket)
    if own:
        found.append(Budget(f"connection:{connection.name}", bucket, own, shared=False))
    return found
