"""API tokens: stored hashed, each with scopes and the connections it may touch.

A token is ``cs_<id>_<secret>``: the id finds its record, the SHA-256 of the whole token proves
it. Redis holds only the hash, so a dump or a replica lets nobody call the API. Tokens carry 256
bits of randomness, so a fast hash is enough (slow hashes protect guessable passwords).

Scopes nest: ``admin`` (tokens, connections) ⊃ ``write`` (start, cancel, retry, change items,
pause) ⊃ ``read``. ``connections`` are names or glob patterns (``acme-*``; ``*`` is every one):
a run or connection outside them answers 404, as if it did not exist.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

import redis

from workers import keys
from workers.errors import ConfigError
from workers.ledger.runs import now_iso

__all__ = ["Principal", "authenticate", "create_token", "get_token", "list_tokens", "revoke_token"]

_RANK = {"read": 1, "write": 2, "admin": 3}


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's record."""

    id: str
    name: str
    scopes: tuple[str, ...]
    connections: tuple[str, ...]

    def can(self, scope: str) -> bool:
        return max((_RANK[s] for s in self.scopes if s in _RANK), default=0) >= _RANK[scope]

    def may(self, connection: str) -> bool:
        return any(fnmatchcase(connection, pattern) for pattern in self.connections)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    r: redis.Redis, *, name: str, scopes: list[str], connections: list[str]
) -> tuple[str, dict[str, Any]]:
    """A new token and its record; the token itself is returned once and never stored."""
    unknown = sorted(set(scopes) - set(_RANK))
    if unknown or not scopes:
        raise ConfigError(f"scopes must be some of read, write, admin; got {scopes!r}")
    if not connections:
        raise ConfigError("connections must name at least one connection or pattern ('*' for every one)")
    token_id = secrets.token_hex(6)
    token = f"cs_{token_id}_{secrets.token_urlsafe(32)}"
    record = {
        "id": token_id,
        "name": name,
        "scopes": sorted(set(scopes), key=_RANK.__getitem__),
        "connections": list(connections),
        "created_at": now_iso(),
        "hash": _digest(token),
    }
    r.hset(keys.API_TOKENS, token_id, json.dumps(record))
    return token, _public(record)


def authenticate(r: redis.Redis, header: str | None) -> Principal | None:
    """The principal of an ``Authorization: Bearer <token>`` header, or None."""
    if not header or not header.startswith("Bearer "):
        return None
    token = header[7:].strip()
    parts = token.split("_")
    if len(parts) < 3 or parts[0] != "cs":
        return None
    raw: Any = r.hget(keys.API_TOKENS, parts[1])
    if raw is None:
        return None
    record = json.loads(raw)
    if not hmac.compare_digest(record["hash"], _digest(token)):
        return None
    return Principal(record["id"], record["name"], tuple(record["scopes"]), tuple(record["connections"]))


def list_tokens(r: redis.Redis) -> list[dict[str, Any]]:
    records = [json.loads(v) for v in r.hvals(keys.API_TOKENS)]
    return sorted((_public(rec) for rec in records), key=lambda rec: rec["created_at"])


def get_token(r: redis.Redis, token_id: str) -> dict[str, Any] | None:
    """One token's record (never the token), or None once revoked."""
    raw: Any = r.hget(keys.API_TOKENS, token_id)
    return _public(json.loads(raw)) if raw is not None else None


def revoke_token(r: redis.Redis, token_id: str) -> bool:
    return bool(r.hdel(keys.API_TOKENS, token_id))


def _public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "hash"}
