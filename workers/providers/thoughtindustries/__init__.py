"""Thought Industries' content bulk imports (providers.md §4): the registration of the provider.

``client`` uploads the CSV asset (``asset_store``), runs the dry run and the import and reads
the job, ``answers`` reads what they prove, ``mapping`` makes the CSV rows; what nothing public
documents is assumed in ``assumptions`` (A1..A9).
"""

from __future__ import annotations

from workers.providers.plugin import Demo, ProviderPlugin, ProviderSpec
from workers.providers.thoughtindustries.assumptions import CONTENTS

__all__ = ["PLUGIN"]

PLUGIN = ProviderPlugin(
    spec=ProviderSpec(
        name="thoughtindustries",
        example_base_url="https://acme.thoughtindustries.com",
        # The admin UI's CSV imports stop at 1,000 rows; nothing else is documented.
        max_batch_items=1000,
        batch_size=1000,
        # Standard plan: 120 requests/min per key.
        requests_per_minute=120,
        # The plan's 120/min per key (with a burst allowance of 20 a token-bucket reading would
        # allow; a sliding one would not, so it is not relied on), and within it the course
        # management category's 60/min, which every request coursesync makes belongs to.
        limits={"requests": ("120/min", "60/min")},
        budget_identity=("api_key",),
        max_in_flight=2,
        # The asset upload, a dry run, the upload of the valid rows only, the import.
        requests_per_submit=4,
        # Of those, the dry run and the import are requests to Thought Industries' API, each
        # counted by its key (the asset store may be elsewhere): both are paid up front.
        quota_per_submit=2,
        max_request_bytes=20_000_000,
        secret_options=("api_key",),
        required=("api_key", "content", "asset_store"),
        options={"api_key": str, "content": str, "asset_store": str, "dry_run_first": bool},
        # One import route per content kind: course groups and sessions are separate places.
        target_options=("content",),
        choices={"content": tuple(CONTENTS)},
    ),
    client="workers.providers.thoughtindustries.client:ThoughtIndustriesProvider",
    mapper="workers.providers.thoughtindustries.mapping:MAPPER",
    demo=Demo(
        connection="demo-ti",
        toml="""\
provider = "thoughtindustries"
base_url = "{sandbox}/thoughtindustries"
api_key = "env:COURSESYNC_DEMO_TI_KEY"
content = "courseGroup/webinar"
asset_store = "{sandbox}/thoughtindustries/assets"
dry_run_first = true
""",
        secrets={"COURSESYNC_DEMO_TI_KEY": "ti_test_sandbox"},
        sandbox_args=("--ti-pending-s", "1.5", "--ti-rate-per-s", "2"),
    ),
)
