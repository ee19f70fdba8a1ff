"""The one registration of a provider: a ``ProviderPlugin`` record.

A provider is one package (``workers/providers/kombo/``...) whose ``__init__`` exports one
``ProviderPlugin``; ``workers.providers.installed`` finds each through the entry-point group
``coursesync.providers``. The record names its client and its payload mapping as
``"package.module:attribute"`` references, imported only when a connection first uses them, so
listing or validating providers never loads a client's dependencies (cryptography for 360Learning).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workers.errors import ConfigError
from workers.providers.spec import ProviderSpec

if TYPE_CHECKING:
    import httpx
    import redis

    from workers.connections import Connection
    from workers.providers.base import Provider
    from workers.providers.mapping import Mapper

    #: A client class: built with its connection, the HTTP client all its calls go through, and
    #: Redis for the little state a provider keeps fleet-wide (OAuth tokens, created ids).
    ProviderFactory = Callable[[Connection, httpx.Client, redis.Redis], Provider]
    #: (Redis, connection, the target parts its settings name) -> the parts naming where its
    #: items land now (``workers.targets``).
    TargetHook = Callable[[redis.Redis, Connection, dict[str, str]], dict[str, str]]

__all__ = ["Demo", "ProviderPlugin", "ProviderSpec", "load_ref"]


@dataclass(frozen=True)
class Demo:
    """How ``coursesync demo`` points the provider at the local sandbox.

    ``toml`` is the body of the connection's table: ``{sandbox}`` stands for the sandbox's URL and
    ``{connection}`` for ``connection`` (for sub-tables). ``secrets`` are the values of the
    ``env:`` variables it names; ``sandbox_args`` the sandbox flags that give the fake the
    provider's documented limits.
    """

    connection: str
    toml: str
    secrets: Mapping[str, str] = field(default_factory=dict)
    sandbox_args: tuple[str, ...] = ()

    def table(self, sandbox_url: str) -> str:
        """The connection's TOML table, header included."""
        body = self.toml.format(sandbox=sandbox_url, connection=self.connection)
        return f"[connections.{self.connection}]\n{body}"


@dataclass(frozen=True)
class ProviderPlugin:
    """Everything coursesync needs to know to use one provider: the one registration.

    ``client`` and ``mapper`` (and ``target``) are the objects themselves or references
    ``"package.module:attribute"``, imported on first use.
    """

    spec: ProviderSpec
    #: The client class (``ProviderFactory``).
    client: str | ProviderFactory
    #: The payload mapping (a ``Mapper`` whose ``provider`` is this provider's name).
    mapper: str | Mapper
    #: Where items land when the settings alone cannot name it (360Learning's integration that
    #: coursesync creates at run time); None when ``spec.target_options`` always do.
    target: str | TargetHook | None = None
    #: How ``coursesync demo`` runs it against the sandbox; None: the demo leaves it out.
    demo: Demo | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    def load_client(self) -> ProviderFactory:
        found = load_ref(self.client, f"{self.name}'s client")
        if not callable(found):
            raise ConfigError(f"{self.name}'s client {self.client!r} is not a class")
        factory: ProviderFactory = found
        return factory

    def load_mapper(self) -> Mapper:
        found = load_ref(self.mapper, f"{self.name}'s mapping")
        # Checked by its parts, not isinstance: importing the Mapper class here would make every
        # reader of the registry (connection validation, targets) load marshmallow.
        if getattr(found, "provider", None) != self.name or not callable(getattr(found, "prepare", None)):
            raise ConfigError(f"{self.name}'s mapping {self.mapper!r} is not a Mapper for {self.name!r}")
        mapper: Mapper = found
        return mapper

    def load_target(self) -> TargetHook | None:
        if self.target is None:
            return None
        found = load_ref(self.target, f"{self.name}'s target")
        if not callable(found):
            raise ConfigError(f"{self.name}'s target {self.target!r} is not a function")
        hook: TargetHook = found
        return hook


def load_ref(ref: object, what: str) -> Any:
    """``ref`` itself, or the attribute a ``"package.module:attribute"`` string names.

    Raises:
        ConfigError: the module cannot be imported or lacks the attribute (``what`` names it).
    """
    if not isinstance(ref, str):
        return ref
    module, _, attribute = ref.partition(":")
    try:
        return getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"{what} {ref!r} cannot be loaded: {exc}") from exc
