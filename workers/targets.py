"""The target of a connection: the remote place its items live in, as a short non-secret id.

Content digests and remote ids (``keys.content_hashes``, ``keys.remote_ids``) say what a place
holds, so they are keyed by the place, not by the connection's name alone: point a connection
at another Kombo integration, StackOne account or base URL and its first sync there sends
everything. The id is 16 hex chars of a digest of the provider, the base URL (without any
``user:password@``) and the provider's key for the place (``ProviderSpec.target_options``:
Kombo ``integration_id``, StackOne ``account_id``, 360Learning ``integration_id``, Thought
Industries ``content``). Credentials are never part of it: a new API key is the same place.

The connection's name is part of it too. Pruning deactivates what *this connection's* previous
catalog had (product.md); two connections feeding one integration from two catalogs must not
prune each other's courses, so each keeps its own memory of the place. Renaming a connection
costs one full resend, as it always did.

A 360Learning connection with an ``[integration]`` table writes into the integration coursesync
created (or found), whose id only exists at run time (the ``target`` hook of its registration,
``workers.providers.learning360.integration.target_parts``). Its target is derived from that id, once
known, exactly as if it were configured (switching to ``integration_id = <that id>`` keeps the
digests). Before it is known (the first run, or after 360Learning lost it and coursesync
forgot it), the target is "no integration created yet, generation n", where n counts how
often coursesync stored or forgot the id (``created_integration``). Why both, and not either:

- the producer only reads Redis; it cannot ask 360Learning which integration will be used, so
  runs that start with none known need a name of their own;
- a fixed name for "none known" would be shared by the run before the first creation and a
  run after a re-creation, which would then skip every item the first integration got and
  leave the new one nearly empty. The generation changes at each creation and each forget, so
  each stretch without a known integration is its own empty target;
- the id, not the generation alone, names a known integration: if the id key were lost and
  360Learning handed back the same integration, its digests still apply; a new one starts empty.

The run that creates the integration recorded its digests under the "none known" target, so
the next run sends every item once more: the cost of never guessing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import orjson
import redis

from workers.connections import Connection
from workers.providers.installed import get_plugin

__all__ = ["Target", "current_target"]


@dataclass(frozen=True, slots=True)
class Target:
    """``id`` keys the digests; ``label`` says in words which place it is (never a secret)."""

    id: str
    label: str


def _target(connection: Connection, parts: dict[str, str]) -> Target:
    """The target of ``connection`` whose place is named by ``parts`` (target option -> value)."""
    base_url = _without_credentials(connection.base_url)
    identity = [connection.name, connection.provider, base_url, sorted(parts.items())]
    digest = hashlib.blake2b(orjson.dumps(identity), digest_size=8).hexdigest()
    named = "".join(f" {k}={v}" for k, v in sorted(parts.items()))
    return Target(digest, f"{connection.provider}{named} at {base_url}")


def current_target(kv: redis.Redis, connection: Connection) -> Target:
    """The connection's target now: from its configuration, and where its provider's registration
    has a ``target`` hook (a 360Learning integration coursesync creates), from what that hook
    finds in Redis (see the module docstring).

    Raises:
        ConfigError: a target option refers to an environment variable that is not set.
    """
    values = {key: connection.option(key) for key in connection.spec.target_options}
    parts = {key: str(value) for key, value in values.items() if value not in (None, "")}
    hook = get_plugin(connection.provider).load_target()
    return _target(connection, parts if hook is None else hook(kv, connection, parts))


def _without_credentials(url: str) -> str:
    """``url`` with its scheme and host lowercased and no ``user:password@``."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host  # an IPv6 literal keeps its brackets
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme.lower(), netloc, parts.path.rstrip("/"), parts.query, ""))
