"""Which budgets a request spends: the one the provider counts, shared by every connection on it.

Providers count requests per credential, not per customer: StackOne per API key whatever the
``x-account-id``, Kombo per API key, 360Learning per company, Thought Industries per API key.
A budget is therefore identified by the provider's own unit, a digest of the credential's
identity (never the secret itself), so every connection using one key spends from one budget,
fleet-wide, without anyone splitting the quota by hand. ``budget_key`` names one explicitly
(several 360Learning API clients of one company, one key held in two secrets).

A budget has one or more *windows* ("N requests per W seconds"); a request needs room in all of
them (``workers/lua/gcra.lua`` takes them together or not at all). A connection may also cap
its own share (``max_requests_per_minute``): one more window, on a budget of its own.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from workers.quota import Window
from workers.sealing import is_sealed, unseal

if TYPE_CHECKING:
    from workers.connections import Connection

__all__ = ["Budget", "budget_id", "budgets", "own_budget_id"]


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


def own_budget_id(connection: str) -> str:
    """The budget a connection spends alone (its own cap, or a provider unit nobody shares)."""
    return f"connection:{connection}"


def budget_id(connection: Connection) -> str:
    """The provider unit ``connection`` spends from, as ``provider:digest``.

    The digest covers the host and the provider's identity settings (an API key, a client id)
    *as written*: a literal key, or the reference that holds it (``env:STACKONE_KEY``,
    ``file:/run/secrets/key``). Every process can compute it (the pump and the producer never
    read a secret), and sha256 is one-way: the id reveals nothing of a literal key. Connections
    naming one key the same way share its budget; ``budget_key`` joins any others."""
    explicit = connection.options.get("budget_key")
    if isinstance(explicit, str) and explicit:
        return f"{connection.provider}:{explicit}"
    if not connection.spec.budget_identity:
        return own_budget_id(connection.name)
    host = connection.base_url.split("://", 1)[-1].split("/", 1)[0]
    refs = tuple(_ref(str(connection.options.get(key, ""))) for key in connection.spec.budget_identity)
    return f"{connection.provider}:{_digest(connection.provider, host, refs)}"


@lru_cache(maxsize=4096)
def _ref(value: str) -> str:
    """A sealed credential (a stored connection's) by what it seals: sealing is randomized, and
    two connections holding one key must share its budget. Only a digest is kept in the cache."""
    if not is_sealed(value):
        return value
    return "sealed:" + hashlib.sha256(unseal(value).encode()).hexdigest()


@lru_cache(maxsize=4096)
def _digest(provider: str, host: str, refs: tuple[str, ...]) -> str:
    return hashlib.sha256("\x1f".join((provider, host, *refs)).encode()).hexdigest()[:16]


def budgets(connection: Connection, bucket: str) -> list[Budget]:
    """The budgets a request of ``bucket`` spends: the shared one, and the connection's own cap
    when it sets one."""
    found = [Budget(budget_id(connection), bucket, connection.windows(bucket))]
    own = connection.own_windows(bucket)
    if own:
        found.append(Budget(own_budget_id(connection.name), bucket, own, shared=False))
    return found
