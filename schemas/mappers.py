"""The payload mapping of each provider, by provider name (imported on first use)."""

from __future__ import annotations

import importlib

from schemas.mapping import Mapper

__all__ = ["MAPPERS", "get_mapper"]

MAPPERS: dict[str, str] = {
    "kombo": "schemas.kombo",
    "stackone": "schemas.stackone",
    "360learning": "schemas.learning360",
    "thoughtindustries": "schemas.thoughtindustries",
}


def get_mapper(provider: str) -> Mapper:
    """The ``MAPPER`` of ``schemas/<provider module>.py``."""
    mapper: Mapper = importlib.import_module(MAPPERS[provider]).MAPPER
    return mapper
