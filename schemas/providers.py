"""The names of the installed providers, read where the registry reads them: package metadata.

Every provider registers one entry point in the group ``PROVIDER_GROUP`` (coursesync's own four
in its ``pyproject.toml``); ``workers.providers.installed`` loads the registrations. Here only
the names are read, without importing any provider, for what ``schemas/`` must know of them:
the keys an item's ``extra`` may have (``schemas.course``).

This is the seam that keeps ``schemas/`` a leaf. The canonical schema cannot ask the registry
in ``workers/`` (arrows point down), and having the registry hand it the names at start-up
would make every process and every test remember to do so before it validates its first item,
or silently accept or refuse every ``extra``. The metadata the registry itself reads is present
from the first import, in every process, so the schema still refuses an ``extra`` key that
names no provider, on its own, and a provider installed from another package is accepted the
moment it is installed.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

__all__ = ["PROVIDER_GROUP", "provider_names"]

#: The entry-point group every provider registers in.
PROVIDER_GROUP = "coursesync.providers"


@cache
def provider_names() -> tuple[str, ...]:
    """The installed providers' names, sorted (cached for the process)."""
    return tuple(sorted({entry.name for entry in entry_points(group=PROVIDER_GROUP)}))
