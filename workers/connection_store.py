"""Connections created at runtime (the HTTP API, ``coursesync connections``): the one owner of
``keys.CONNECTIONS``.

Each stored connection is one ``[connections.NAME]`` table as JSON, validated by exactly the
rules of the file (``workers.connections.connection_from_table``), with a version bumped on every
write. A credential given in plain text is sealed (``workers.sealing``) before it reaches Redis;
an ``env:NAME`` / ``file:/path`` reference is stored as written and read at use, as in the file.
Every write bumps ``keys.CONNECTIONS_GENERATION``, which every process watches
(``workers.providers.registry``).

Updates replace the table, with one exception so clients never have to resend secrets: a
credential key left out of an update keeps its stored value; a credential set to ``None``
is removed. Other keys left out are removed (the table is the whole connection).
"""

from __future__ import annotations

import contextlib
import json
import re
import time
import tomllib
from pathlib import Path
from typing import Any

import redis

from workers import keys
from workers.connections import COMMON_SECRET_OPTIONS, Connection, connection_from_table
from workers.errors import ConfigError, ConnectionExists, PayloadError, VersionConflict
from workers.providers.installed import get_plugin, provider_names
from workers.redact import redact_url
from workers.sealing import is_sealed, seal, unseal

__all__ = [
    "delete_connection",
    "load_stored",
    "public_view",
    "put_connection",
    "seed_from_file",
    "stored_connections",
]

#: Connection names: they appear in Redis keys, URLs and log lines, so keep them plain.
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ConfigError(
            f"connection name {name!r} is not allowed: use 1-63 lowercase letters, digits, '.', '_' "
            "or '-', starting with a letter or digit (e.g. acme-kombo)"
        )


def _secret_keys(table: dict[str, Any]) -> tuple[str, ...]:
    provider = table.get("provider")
    own = get_plugin(provider).spec.secret_options if provider in provider_names() else ()
    return (*own, *COMMON_SECRET_OPTIONS)


def _is_reference(value: str) -> bool:
    return value.startswith("env:") or (value.startswith("file:/") and not value.startswith("file://"))


def _record(raw: str | None, name: str) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        record = json.loads(raw)
        assert isinstance(record["table"], dict) and isinstance(record["version"], int)
    except (ValueError, KeyError, TypeError, AssertionError):
        raise PayloadError(f"stored connection {name!r} is not a valid record") from None
    return record  # type: ignore[no-any-return]


def put_connection(
    r: redis.Redis,
    name: str,
    table: dict[str, Any],
    *,
    create_only: bool = False,
    expected_version: int | None = None,
) -> Connection:
    """Create or update the stored connection ``name`` from ``table`` (one TOML table's shape).

    Parameters:
        create_only: refuse if ``name`` is already stored (ConnectionExists).
        expected_version: refuse unless the stored version is this one (VersionConflict).

    Returns:
        The validated connection as every process will see it (``source="api"``).

    Raises:
        ConfigError: a wrong name or setting, naming ``connections.NAME.key``.
        ConflictError: ConnectionExists / VersionConflict, as above.
    """
    _check_name(name)
    if not isinstance(table, dict):
        raise ConfigError(f"connections.{name} must be a table (a JSON object)")
    with r.pipeline() as pipe:
        while True:
            try:
                pipe.watch(keys.CONNECTIONS)  # type: ignore[no-untyped-call]
                old = _record(pipe.hget(keys.CONNECTIONS, name), name)  # type: ignore[arg-type]
                if old is not None and create_only:
                    raise ConnectionExists(f"connection {name!r} already exists")
                if expected_version is not None and (old or {}).get("version") != expected_version:
                    found = old["version"] if old else "none (not stored)"
                    raise VersionConflict(
                        f"connection {name!r} is at version {found}, not {expected_version}: "
                        "read it again and retry"
                    )
                merged = _merge(table, old["table"] if old else {})
                # Validated before sealing (types, required keys) and after, as it will be read.
                connection_from_table(name, {k: v for k, v in merged.items() if v is not None})
                stored = _sealed(merged)
                version = (old["version"] if old else 0) + 1
                record = {"table": stored, "version": version, "updated_at": int(time.time() * 1000)}
                pipe.multi()
                pipe.hset(keys.CONNECTIONS, name, json.dumps(record, separators=(",", ":")))
                pipe.incr(keys.CONNECTIONS_GENERATION)
                pipe.execute()
                return connection_from_table(name, stored, source="api", version=version)
            except redis.WatchError:
                continue


def _merge(new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """``new``, plus each stored credential it leaves out; ``None`` values dropped."""
    merged = dict(new)
    if old.get("provider") == new.get("provider"):
        for key in _secret_keys(new):
            if key not in new and key in old:
                merged[key] = old[key]
    return {k: v for k, v in merged.items() if v is not None}


def _sealed(table: dict[str, Any]) -> dict[str, Any]:
    out = dict(table)
    for key in _secret_keys(table):
        value = out.get(key)
        if isinstance(value, str) and not is_sealed(value) and not _is_reference(value):
            out[key] = seal(value)
    return out


def delete_connection(r: redis.Redis, name: str) -> bool:
    """Remove the stored connection ``name``; False if none was stored. A connection of the same
    name in the file shows again."""
    with r.pipeline() as pipe:
        pipe.hdel(keys.CONNECTIONS, name)
        pipe.incr(keys.CONNECTIONS_GENERATION)
        removed, _ = pipe.execute()
    return bool(removed)


def stored_connections(r: redis.Redis) -> dict[str, dict[str, Any]]:
    """Every stored record by name: ``{"table": ..., "version": ..., "updated_at": ms}``, with
    credentials sealed as stored."""
    raw: dict[str, str] = r.hgetall(keys.CONNECTIONS)  # type: ignore[assignment]
    return {name: rec for name, value in sorted(raw.items()) if (rec := _record(value, name))}


def load_stored(r: redis.Redis) -> dict[str, Connection]:
    """Every stored connection, validated. One that no longer validates (a provider removed, a
    rule tightened) is a ConfigError naming it, as a bad file would be."""
    return {
        name: connection_from_table(name, rec["table"], source="api", version=rec["version"])
        for name, rec in stored_connections(r).items()
    }


def public_view(connection: Connection) -> dict[str, Any]:
    """A JSON-able description of ``connection`` with no credential in it: a literal one is
    ``{"set": true}``, a reference names where it is read (``{"env": "KOMBO_API_KEY"}``,
    ``{"file": "/run/secrets/k"}``), a webhook URL is shown redacted."""
    table = connection.table or {"provider": connection.provider, "base_url": connection.base_url}
    view: dict[str, Any] = {
        "name": connection.name,
        "source": connection.source,
        "version": connection.version,
    }
    secrets = set(connection.secret_keys)
    for key, value in table.items():
        if key in secrets and isinstance(value, str):
            view[key] = _shown_secret(key, value)
        else:
            view[key] = value
    return view


def _shown_secret(key: str, value: str) -> dict[str, Any]:
    if value.startswith("env:"):
        return {"env": value[4:]}
    if _is_reference(value):
        return {"file": value[5:]}
    shown: dict[str, Any] = {"set": True}
    if key == "webhook_url":
        # A process that cannot open it says "set" and no more.
        with contextlib.suppress(ConfigError):
            shown["url"] = redact_url(unseal(value))
    return shown


def seed_from_file(r: redis.Redis, path: str | Path, *, overwrite: bool = False) -> list[str]:
    """Copy the file's connections into the store; returns the names written.

    References (``env:``/``file:``) are stored as written, not resolved: the file's author chose
    to keep the secret outside coursesync (rotated by its environment), and resolving it here
    would copy it into Redis and freeze it. A literal credential in the file is sealed.
    Names already stored are skipped unless ``overwrite``.
    """
    from workers.connections import load_connections

    p = Path(path)
    load_connections(p)  # every rule of the file first, with its own messages
    tables: dict[str, Any] = tomllib.loads(p.read_text(encoding="utf-8"))["connections"]
    written = []
    for name, table in tables.items():
        try:
            put_connection(r, name, table, create_only=not overwrite)
        except ConnectionExists:
            continue
        written.append(name)
    return written
