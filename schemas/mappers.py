"""The payload mapping of each provider, by provider name (imported on first use)."""

from __future__ import annotations

import importlib

from workers.providers.mapping import Mapper

__all__ = ["MAPPERS", "get_mapper"]

MAPPERS: dict[str, str] = {
    "kombo": "workers.providers.kombo.mapping",
    "stackone": "workers.providers.stackone.mapping",
    "360learning": "workers.providers.learning360.mapping",
    "thoughtindustries": "workers.providers.thoughtindustries.mapping",
}


def get_mapper(provider: str) -> Mapper:
    """The ``MAPPER`` of ``schemas/<provider module>.py``."""
    mapper: Mapper = importlib.import_module(MAPPERS[provider]).MAPPER
    return mapper
