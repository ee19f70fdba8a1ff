"""Connections: one provider account of one customer, from the TOML file of product.md or
from the connection store (``workers.connection_store``), validated by the same rules.

A connection is validated when the file is loaded: unknown provider, missing or unknown keys and
wrong types are ConfigErrors that name the connection and the key. Secrets stay as references
(``"env:NAME"``, ``"file:/run/secrets/NAME"``) until a provider client asks for them with
``Connection.secret``, so they are never copied into Celery messages, Redis or logs. A stored
connection's literal credentials are sealed (``workers.sealing``) and opened the same way, at use.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from workers.entitlements import Entitlement, parse_filter
from workers.errors import ConfigError
from workers.providers.installed import get_plugin, provider_names
from workers.providers.spec import ProviderSpec
from workers.quota import Window, parse_windows
from workers.schedules import Schedule, parse_schedule
from workers.sealing import is_sealed, unseal

__all__ = [
    "COMMON_SECRET_OPTIONS",
    "Connection",
    "connection_from_table",
    "load_connections",
    "load_groups",
    "resolve_value",
]

_COMMON_OPTIONAL: dict[str, type | tuple[type, ...]] = {
    "batch_size": int,
    "requests_per_minute": (int, float),
    "limits": (list, dict),
    "budget_key": str,
    "max_requests_per_minute": (int, float),
    "weight": (int, float),
    "max_in_flight": int,
    "max_request_bytes": int,
    "webhook_url": str,
    "webhook_secret": str,
    "filter": dict,
}

#: Settings every provider accepts that are credentials: the signing secret, and the webhook
#: URL, which may carry a password or a token. With each provider's ``secret_options``.
COMMON_SECRET_OPTIONS = ("webhook_secret", "webhook_url")


@dataclass(frozen=True)
class Connection:
    """A validated connection. ``options`` holds the provider-specific keys as written (stored
    connections: literal credentials sealed); kept out of repr so no log shows them."""

    name: str
    provider: str
    base_url: str
    options: dict[str, Any] = field(repr=False)
    schedule: Schedule | None
    #: The provider's limits and settings, from its registration (``workers.providers.installed``).
    spec: ProviderSpec = field(repr=False)
    #: Where it comes from: "file" (the TOML file) or "api" (the connection store).
    source: str = "file"
    #: The stored record's version (connection store); None for the file's connections.
    version: int | None = None
    #: The table it was validated from (schedule as written), for ``public_view``.
    table: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def secret_keys(self) -> tuple[str, ...]:
        """The settings of this connection that are credentials (declared by its provider)."""
        return (*self.spec.secret_options, *COMMON_SECRET_OPTIONS)

    @property
    def batch_size(self) -> int:
        """Items per bulk request: the configured size, never above the provider maximum."""
        wanted = int(self.options.get("batch_size", self.spec.batch_size))
        return min(wanted, self.spec.max_batch_items)

    def windows(self, bucket: str) -> tuple[Window, ...]:
        """The limits of the provider budget that requests of ``bucket`` spend (shared by every
        connection on the same key): ``limits`` as written, else ``requests_per_minute`` /
        ``reads_per_minute``, else the provider's documented limits (``ProviderSpec.limits``)."""
        return self._windows[bucket][0]

    def own_windows(self, bucket: str) -> tuple[Window, ...]:
        """This connection's own cap inside the shared budget (``max_requests_per_minute``)."""
        return self._windows[bucket][1]

    @property
    def weight(self) -> float:
        """The connection's share of a budget it waits on with others (fair queuing)."""
        return float(self.options.get("weight", 1))

    @cached_property
    def _windows(self) -> dict[str, tuple[tuple[Window, ...], tuple[Window, ...]]]:
        where = f"connections.{self.name}"
        found: dict[str, tuple[tuple[Window, ...], tuple[Window, ...]]] = {}
        for bucket in {self.spec.submit_bucket, self.spec.poll_bucket}:
            legacy = "reads_per_minute" if bucket == "read" else "requests_per_minute"
            limits = self.options.get("limits")
            if isinstance(limits, dict):
                limits = limits.get(bucket)
            elif bucket != self.spec.submit_bucket:
                limits = None  # a plain list names the main budget's limits
            if limits is not None:
                shared = parse_windows(limits, f"{where}.limits")
            elif legacy in self.options:
                shared = (Window(float(self.options[legacy]), 60.0),)
            else:
                shared = parse_windows(list(self.spec.default_limits(bucket)), f"{self.spec.name} limits")
            own_rpm = self.options.get("max_requests_per_minute")
            own = (Window(float(own_rpm), 60.0),) if own_rpm and bucket == self.spec.submit_bucket else ()
            found[bucket] = (shared, own)
        return found

    @property
    def max_in_flight(self) -> int:
        return int(self.options.get("max_in_flight", self.spec.max_in_flight))

    @property
    def max_request_bytes(self) -> int:
        return int(self.options.get("max_request_bytes", self.spec.max_request_bytes))

    @cached_property
    def entitlement(self) -> Entitlement | None:
        """What the customer licensed (``filter``); None: the whole catalog."""
        table = self.options.get("filter")
        return parse_filter(f"connections.{self.name}", table) if table is not None else None

    def option(self, key: str, default: Any = None) -> Any:
        """An option as written (``env:``/``file:`` references read, sealed values opened)."""
        value = self.options.get(key, default)
        return resolve_value(value, f"connections.{self.name}.{key}")

    def secret(self, key: str) -> str:
        """Resolve a credential at the moment of use. Raises ConfigError naming what is missing."""
        if key not in self.options:
            raise ConfigError(f"connection {self.name!r}: {key} is not set")
        value = resolve_value(self.options[key], f"connections.{self.name}.{key}")
        return str(value)


def resolve_value(value: Any, where: str) -> Any:
    """Read a reference at the moment of use: ``"env:NAME"`` from the environment variable NAME,
    ``"file:/path"`` from that file (Docker and Kubernetes mount secrets as files: trailing
    whitespace and newlines are dropped). A sealed value (``workers.sealing``) is opened. A
    missing one is a ConfigError naming it; no message ever quotes the value."""
    if isinstance(value, str) and is_sealed(value):
        try:
            return unseal(value)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    if isinstance(value, str) and value.startswith("env:"):
        var = value[4:]
        resolved = os.environ.get(var)
        if resolved is None or resolved == "":
            raise ConfigError(f"{where} refers to environment variable {var}, which is not set")
        return resolved
    # "file:/path" is a reference; "file:///dir" is a URL (a Thought Industries asset store).
    if isinstance(value, str) and value.startswith("file:/") and not value.startswith("file://"):
        path = Path(value[5:])
        try:
            text = path.read_text(encoding="utf-8").rstrip()
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ConfigError(f"{where} refers to file {str(path)!r}, which cannot be read: {why}") from None
        if not text:
            raise ConfigError(f"{where} refers to file {str(path)!r}, which is empty")
        return text
    return value


def load_connections(path: str | Path) -> dict[str, Connection]:
    """Read and validate every connection of the TOML file at ``path``."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(
            f"configuration file {str(p)!r} not found; create it (see coursesync.example.toml)"
            " or point COURSESYNC_CONFIG at it"
        )
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"configuration file {str(p)!r} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"configuration file {str(p)!r} cannot be read: {exc}") from None
    unknown = set(data) - {"connections", "groups"}
    if unknown:
        raise ConfigError(
            f"{p}: unknown top-level table(s) {sorted(unknown)}; expected [connections.NAME] and [groups]"
        )
    tables = data.get("connections", {})
    if not isinstance(tables, dict) or not tables:
        raise ConfigError(f"{p}: no [connections.NAME] table found")
    return {name: connection_from_table(name, table) for name, table in tables.items()}


def load_groups(path: str | Path) -> dict[str, tuple[str, ...]]:
    """The ``[groups]`` table: a group name -> connection names or globs (``acme-*``). A sync
    may name a group as ``@name``. An absent file or table: no groups."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}  # load_connections reports what is wrong with the file
    groups = data.get("groups", {})
    if not isinstance(groups, dict):
        raise ConfigError(f"{p}: [groups] must be a table of name = [connection names or globs]")
    for name, members in groups.items():
        if not isinstance(members, list) or not members or not all(isinstance(m, str) and m for m in members):
            raise ConfigError(f"{p}: groups.{name} must be a non-empty list of connection names or globs")
    return {name: tuple(members) for name, members in groups.items()}


def connection_from_table(
    name: str, table: Any, *, source: str = "file", version: int | None = None
) -> Connection:
    """Validate one ``[connections.NAME]`` table (the file's, or one the connection store holds).

    Raises:
        ConfigError: naming ``connections.NAME.key`` and what is wrong with it.
    """
    where = f"connections.{name}"
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    provider = table.get("provider")
    if not isinstance(provider, str) or provider not in provider_names():
        raise ConfigError(
            f"{where}.provider is {provider!r}; expected one of {', '.join(sorted(provider_names()))}"
        )
    spec = get_plugin(provider).spec
    base_url = table.get("base_url")
    if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
        raise ConfigError(f"{where}.base_url must be an http(s) URL, e.g. {spec.example_base_url!r}")
    options = _options(where, spec, table)
    spec.check_options(where, options)
    schedule = parse_schedule(where + ".schedule", table["schedule"]) if "schedule" in table else None
    connection = Connection(
        name, provider, base_url.rstrip("/"), options, schedule, spec, source, version, table
    )
    connection.windows(spec.submit_bucket)  # a limit nobody can read is a ConfigError now, not mid-run
    _ = connection.entitlement  # likewise a filter
    return connection


def _options(where: str, spec: ProviderSpec, table: dict[str, Any]) -> dict[str, Any]:
    """The connection's settings other than provider/base_url/schedule, type-checked."""
    allowed = {**_COMMON_OPTIONAL, **spec.options}
    options: dict[str, Any] = {}
    for key, value in table.items():
        if key in ("provider", "base_url", "schedule"):
            continue
        if key not in allowed:
            raise ConfigError(f"{where}.{key} is not a {spec.name} setting; known: {sorted(allowed)}")
        expected = allowed[key]
        if isinstance(value, bool) and expected in (int, (int, float)):
            raise ConfigError(f"{where}.{key} must be a number, not {value!r}")
        if not isinstance(value, expected):
            raise ConfigError(f"{where}.{key} has the wrong type: {value!r}")
        options[key] = value
    for key in spec.required:
        if not any(k in options for k in key.split("|")):
            raise ConfigError(f"{where}: missing required setting {key.replace('|', ' or ')}")
    for key in ("batch_size", "max_in_flight", "max_request_bytes", "requests_per_minute",
                "max_requests_per_minute", "weight"):  # fmt: skip
        if key in options and options[key] <= 0:
            raise ConfigError(f"{where}.{key} must be greater than 0")
    if options.get("batch_size", 0) > spec.max_batch_items:
        raise ConfigError(
            f"{where}.batch_size {options['batch_size']} is above {spec.name}'s maximum of "
            f"{spec.max_batch_items} items per request"
        )
    return options
