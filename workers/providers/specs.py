"""What coursesync knows of each provider's limits and connection settings, in one table.

Numbers come from ../shared/docs/providers.md; where the provider documents nothing we choose a
conservative value and say so. Every number can be overridden per connection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workers.errors import ConfigError

__all__ = ["PROVIDER_SPECS", "ProviderSpec"]

Types = type | tuple[type, ...]


@dataclass(frozen=True)
class ProviderSpec:
    """Limits and connection keys of one provider."""

    name: str
    example_base_url: str
    #: Hard maximum of items in one bulk request.
    max_batch_items: int
    #: Default items per request.
    batch_size: int
    #: Default request budget per connection, requests per minute.
    requests_per_minute: float
    #: Default cap on requests/jobs in flight at once per connection.
    max_in_flight: int
    #: Default cap on one request body, bytes.
    max_request_bytes: int
    #: Keys that must be present; ``a|b`` means one of them.
    required: tuple[str, ...]
    #: Provider-specific keys and their types.
    options: dict[str, Types] = field(default_factory=dict)
    #: Hard maximum of items in one deactivate/archive request.
    max_deactivate_items: int = 1000
    #: Allowed values of enumerated keys.
    choices: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    #: Which request budget submissions and status polls spend. Most providers count every
    #: request against one quota; 360Learning counts writes and reads separately.
    submit_bucket: str = "requests"
    poll_bucket: str = "requests"
    #: Default budget of the "read" bucket, requests per minute (providers that have one).
    reads_per_minute: float | None = None
    #: Remote jobs that may run at once per account (360Learning: 3 bulk operations), held
    #: from submission until the job ends; None when the provider has no such limit.
    job_slots: int | None = None
    #: The most requests one submission may make (a token, an upload, a dry run...): the submit
    #: task's time limit, the batch lock and the lease are sized from it (``workers.timing``).
    requests_per_submit: int = 1
    #: The settings that, with base_url, name the remote place items land in (an integration,
    #: an account): what the connection's content digests prove (``workers.targets``).
    target_options: tuple[str, ...] = ()

    def bucket_for(self, method: str) -> str:
        """The request budget an HTTP request of ``method`` spends."""
        if self.submit_bucket == self.poll_bucket:
            return self.submit_bucket
        return self.poll_bucket if method.upper() == "GET" else self.submit_bucket

    def check_options(self, where: str, options: dict[str, Any]) -> None:
        """Enumerated keys must hold one of their values."""
        for key, allowed in self.choices.items():
            if key in options and options[key] not in allowed:
                raise ConfigError(f"{where}.{key} is {options[key]!r}; expected one of {list(allowed)}")


PROVIDER_SPECS: dict[str, ProviderSpec] = {
    "kombo": ProviderSpec(
        name="kombo",
        example_base_url="https://api.kombo.dev/v1",
        # Kombo documents no maximum; 1,000 keeps a request well under any plausible body limit.
        max_batch_items=1000,
        batch_size=1000,
        # Kombo's quota is undocumented; 300 is its example ratelimit-limit. Headers refine it.
        requests_per_minute=300,
        # Kombo: at most 30 action requests in flight per integration (enforced since 2026-03).
        max_in_flight=30,
        max_request_bytes=5_000_000,
        required=("api_key", "integration_id"),
        options={"api_key": str, "integration_id": str},
        target_options=("integration_id",),
        # Kombo deactivates one course per request; one request per batch keeps the budget exact.
        max_deactivate_items=1,
    ),
    "stackone": ProviderSpec(
        name="stackone",
        example_base_url="https://api.stackone.com",
        # StackOne documents no batch limit and forwards to the LMS item by item; stay modest.
        max_batch_items=1000,
        batch_size=100,
        # 1000 requests/min per API key (429 + Retry-After above it); connections sharing a key
        # must split it with requests_per_minute.
        requests_per_minute=1000,
        # No documented cap; each batch holds a StackOne request open while it calls the LMS.
        max_in_flight=10,
        max_request_bytes=5_000_000,
        required=("api_key", "account_id"),
        options={"api_key": str, "account_id": str},
        target_options=("account_id",),
    ),
    "360learning": ProviderSpec(
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
        # A token (or a wait for another worker's), creating and finding the integration, the
        # PUT, and once more after a 401 with a fresh token.
        requests_per_submit=6,
        # 50 reads/s per company.
        reads_per_minute=3000,
        max_request_bytes=50_000_000,
        required=("client_id", "client_secret", "integration_id|integration"),
        # Without integration_id, the integration coursesync created: see workers.targets.
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
    "thoughtindustries": ProviderSpec(
        name="thoughtindustries",
        example_base_url="https://acme.thoughtindustries.com",
        # The admin UI's CSV imports stop at 1,000 rows; nothing else is documented.
        max_batch_items=1000,
        batch_size=1000,
        # Standard plan: 120 requests/min per key.
        requests_per_minute=120,
        max_in_flight=2,
        # The asset upload, a dry run, the upload of the valid rows only, the import.
        requests_per_submit=4,
        max_request_bytes=20_000_000,
        required=("api_key", "content", "asset_store"),
        options={"api_key": str, "content": str, "asset_store": str, "dry_run_first": bool},
        # One import route per content kind: course groups and sessions are separate places.
        target_options=("content",),
        choices={
            "content": (
                "courseGroup/webinar",
                "session/webinar",
                "courseGroup/inPersonEvent",
                "session/inPersonEvent",
            )
        },
    ),
}
