"""The payload mapping of each provider, by provider name."""

from __future__ import annotations

from schemas import kombo
from schemas.mapping import Mapper

__all__ = ["MAPPERS", "get_mapper"]

MAPPERS: dict[str, Mapper] = {
    "kombo": kombo.MAPPER,
}


def get_mapper(provider: str) -> Mapper:
    try:
        return MAPPERS[provider]
    except KeyError:
        raise KeyError(f"no payload mapping for provider {provider!r}") from None
