"""The providers installed: one entry-point group, from which every list of providers derives.

Each provider registers one ``ProviderPlugin`` under the entry-point group
``coursesync.providers``, the way pytest (``pytest11``) and Celery find their plugins: the four
built in with one line each in coursesync's own ``pyproject.toml``
(``kombo = "workers.providers.kombo:PLUGIN"``), any other in the ``pyproject.toml`` of the
package that ships it. So there is one place to register a provider, and nothing below lists
them again:

- connection validation (``workers.connections``): ``get_plugin(name).spec``;
- the producer's payload mapping: ``get_mapper``; the target of a connection: ``plugin.target``;
- the names ``extra`` may hold and the CLI's choices: ``provider_names``;
- ``coursesync demo``: the plugins that carry a ``demo``.

Names come from the package metadata alone (``schemas.providers``); a provider's
package is imported when it is first asked for, and its client and mapping only when used.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from schemas.providers import PROVIDER_GROUP, provider_names
from workers.errors import ConfigError
from workers.providers.plugin import ProviderPlugin

if TYPE_CHECKING:
    from workers.providers.mapping import Mapper

__all__ = ["PROVIDER_GROUP", "get_mapper", "get_plugin", "plugins", "provider_names"]


@cache
def get_plugin(name: str) -> ProviderPlugin:
    """The registration of provider ``name`` (its package imported on first use).

    Raises:
        ConfigError: no provider of that name is installed, two packages register it, or its
            entry point does not lead to a ``ProviderPlugin`` named ``name``.
    """
    found = {ep.value: ep for ep in entry_points(group=PROVIDER_GROUP) if ep.name == name}
    if not found:
        known = ", ".join(provider_names()) or "none (is coursesync installed? pip install -e .)"
        raise ConfigError(f"no provider {name!r} is installed; installed: {known}")
    if len(found) > 1:
        raise ConfigError(
            f"provider {name!r} is registered {len(found)} times ({', '.join(found)}); keep one"
        )
    (entry,) = found.values()
    try:
        plugin = entry.load()
    except Exception as exc:  # a broken plugin package: say which, whatever it raised
        raise ConfigError(f"provider {name!r} ({entry.value}) cannot be loaded: {exc!r}") from exc
    if not isinstance(plugin, ProviderPlugin) or plugin.name != name:
        raise ConfigError(f"provider {name!r} ({entry.value}) is not a ProviderPlugin named {name!r}")
    return plugin


def plugins() -> dict[str, ProviderPlugin]:
    """Every installed provider's registration, by name (sorted)."""
    return {name: get_plugin(name) for name in provider_names()}


@cache
def get_mapper(provider: str) -> Mapper:
    """The payload mapping of ``provider`` (imported on first use)."""
    return get_plugin(provider).load_mapper()
