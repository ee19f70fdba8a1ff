"""Kombo's unified LMS API (providers.md §1): the registration of the provider.

``client`` sends bulk upserts and reads their tasks, ``answers`` reads what they prove (with
``codes``, Kombo's error-code table), ``mapping`` makes the request items.
"""

from __future__ import annotations

from workers.providers.plugin import Demo, ProviderPlugin, ProviderSpec

__all__ = ["PLUGIN"]

PLUGIN = ProviderPlugin(
    spec=ProviderSpec(
        name="kombo",
        example_base_url="https://api.kombo.dev/v1",
        # Kombo documents no maximum; 1,000 keeps a request well under any plausible body limit.
        max_batch_items=1000,
        batch_size=1000,
        # Kombo's quota is undocumented; 300 is its example ratelimit-limit. Headers refine it.
        requests_per_minute=300,
        # Kombo: at most 30 action requests in flight per integration (enforced since 2026-03).
        max_in_flight=30,
        # Kombo's rate limit is Kombo-wide per API key, whichever integration a request names.
        budget_identity=("api_key",),
        max_request_bytes=5_000_000,
        secret_options=("api_key",),
        required=("api_key", "integration_id"),
        options={"api_key": str, "integration_id": str},
        target_options=("integration_id",),
        # Kombo deactivates one course per request; one request per batch keeps the budget exact.
        max_deactivate_items=1,
    ),
    client="workers.providers.kombo.client:KomboProvider",
    mapper="workers.providers.kombo.mapping:MAPPER",
    demo=Demo(
        connection="demo-kombo",
        toml="""\
provider = "kombo"
base_url = "{sandbox}/kombo/v1"
api_key = "env:COURSESYNC_DEMO_KOMBO_KEY"
integration_id = "sandbox:coursesync-demo"
batch_size = 250
requests_per_minute = 1200        # the sandbox allows 20/s; the fleet paces to exactly that
""",
        secrets={"COURSESYNC_DEMO_KOMBO_KEY": "sandbox-kombo-key"},
        sandbox_args=("--kombo-pending-s", "1.5", "--kombo-rate-per-s", "20"),
    ),
)
