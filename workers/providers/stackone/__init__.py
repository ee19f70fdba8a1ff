"""StackOne's unified LMS API (providers.md §2): the registration of the provider.

``client`` posts content batches, ``answers`` reads what a batch's answer proves, ``mapping``
makes the content items.
"""

from __future__ import annotations

from workers.providers.plugin import Demo, ProviderPlugin, ProviderSpec

__all__ = ["PLUGIN"]

PLUGIN = ProviderPlugin(
    spec=ProviderSpec(
        name="stackone",
        example_base_url="https://api.stackone.com",
        # StackOne documents no batch limit and forwards to the LMS item by item; stay modest.
        max_batch_items=1000,
        batch_size=100,
        # 1000 requests/min per API key, whatever the x-account-id (429 + Retry-After above it):
        # every connection on one key spends from one budget.
        requests_per_minute=1000,
        budget_identity=("api_key",),
        # No documented cap; each batch holds a StackOne request open while it calls the LMS.
        max_in_flight=10,
        max_request_bytes=5_000_000,
        secret_options=("api_key",),
        required=("api_key", "account_id"),
        options={"api_key": str, "account_id": str},
        target_options=("account_id",),
    ),
    client="workers.providers.stackone.client:StackOneProvider",
    mapper="workers.providers.stackone.mapping:MAPPER",
    demo=Demo(
        connection="demo-stackone",
        toml="""\
provider = "stackone"
base_url = "{sandbox}/stackone"
api_key = "env:COURSESYNC_DEMO_STACKONE_KEY"
account_id = "sandbox-account"
batch_size = 100
""",
        secrets={"COURSESYNC_DEMO_STACKONE_KEY": "sandbox-stackone-key"},
        sandbox_args=("--stackone-rate-per-s", "16"),
    ),
)
