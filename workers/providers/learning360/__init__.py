"""360Learning's API v2 (providers.md §3): the registration of the provider.

``client`` upserts and archives external courses in bulk and reads the bulk operations,
``answers`` reads their results, ``auth`` shares the OAuth token across the fleet,
``integration`` finds or creates the integration courses go into, ``mapping`` makes the items.
"""

from __future__ import annotations

from workers.providers.plugin import Demo, ProviderPlugin, ProviderSpec

__all__ = ["PLUGIN"]

PLUGIN = ProviderPlugin(
    spec=ProviderSpec(
        name="360learning",
        example_base_url="https://app.360learning.com",
        max_batch_items=10_000,
        batch_size=10_000,
        # 10 writes/s per company.
        requests_per_minute=600,
        # 3 concurrent bulk operations per company.
        max_in_flight=3,
        submit_bucket="write",
        poll_bucket="read",
        job_slots=3,
        # Per company: 10 writes/s, 50 reads/s, 3 bulk operations. An API client belongs to one
        # company; several clients of one company name it with budget_key.
        limits={"write": ("10/s",), "read": ("50/s",)},
        budget_identity=("client_id",),
        # A token (or a wait for another worker's), creating and finding the integration, the
        # PUT, and once more after a 401 with a fresh token.
        requests_per_submit=6,
        # 50 reads/s per company.
        reads_per_minute=3000,
        max_request_bytes=50_000_000,
        # client_id names the API client (the budget identity); only the secret is a credential.
        secret_options=("client_secret",),
        required=("client_id", "client_secret", "integration_id|integration"),
        # Without integration_id, the integration coursesync created: see ``target``.
        target_options=("integration_id",),
        options={
            "client_id": str,
            "client_secret": str,
            "integration_id": str,
            "integration": dict,
            "default_source": str,
            "default_subjects": list,
            # BCP 47 tag for items without languages (360Learning requires defaultLang); "en".
            "default_language": str,
            "reads_per_minute": (int, float),
        },
    ),
    client="workers.providers.learning360.client:Learning360Provider",
    mapper="workers.providers.learning360.mapping:MAPPER",
    target="workers.providers.learning360.integration:target_parts",
    demo=Demo(
        connection="demo-360",
        toml="""\
provider = "360learning"
base_url = "{sandbox}/360learning"
client_id = "env:COURSESYNC_DEMO_L360_CLIENT_ID"
client_secret = "env:COURSESYNC_DEMO_L360_CLIENT_SECRET"
batch_size = 500                  # more bulk operations than the 3 360Learning runs at once
default_subjects = ["General"]

[connections.{connection}.integration]  # created once by the fleet; its id is kept in Redis
external_platform = "coursesync-demo"
group_id = "5f1a2b3c4d5e6f7a8b9c0d1e"
author_id = "5f1a2b3c4d5e6f7a8b9c0d1f"
""",
        secrets={
            "COURSESYNC_DEMO_L360_CLIENT_ID": "sandbox-360-client",
            "COURSESYNC_DEMO_L360_CLIENT_SECRET": "sandbox-360-secret",
        },
        sandbox_args=(
            "--l360-pending-s",
            "1.5",
            "--l360-write-rate-per-s",
            "10",
            "--l360-read-rate-per-s",
            "50",
        ),
    ),
)
