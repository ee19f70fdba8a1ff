"""A toy provider: the one registration coursesync finds through the ``coursesync.providers`` entry point."""

from __future__ import annotations

from workers.providers.plugin import ProviderPlugin, ProviderSpec

__all__ = ["PLUGIN"]

PLUGIN = ProviderPlugin(
    spec=ProviderSpec(
        name="toy",
        example_base_url="http://toy.example",
        max_batch_items=50,
        batch_size=20,
        requests_per_minute=6000,
        max_in_flight=4,
        max_request_bytes=1_000_000,
        required=("token",),
        options={"token": str},
    ),
    client="toy_provider.client:ToyProvider",
    mapper="toy_provider.mapping:MAPPER",
)
