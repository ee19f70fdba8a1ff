"""What coursesync knows of one provider's limits and connection settings.

Each provider's folder declares its ``ProviderSpec`` in its registration (``ProviderPlugin``).
Numbers come from ../shared/docs/providers.md; where the provider documents nothing, the folder
chooses a conservative value and says so. Every number can be overridden per connection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workers.errors import ConfigError

__all__ = ["ProviderSpec"]

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
    #: The provider's documented limits per request bucket, as windows ("10/s", "1000/min"),
    #: when they say more than ``requests_per_minute`` / ``reads_per_minute`` do.
    limits: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: The settings whose values identify what the provider counts requests by (an API key, a
    #: client of one company): connections with the same values share one budget
    #: (``workers.ratelimit.budgets``). Empty: each connection is its own unit.
    budget_identity: tuple[str, ...] = ()
    #: Remote jobs that may run at once per account (360Learning: 3 bulk operations), held
    #: from submission until the job ends; None when the provider has no such limit.
    job_slots: int | None = None
    #: The most requests one submission may make (a token, an upload, a dry run...): the submit
    #: task's time limit, the batch lock and the lease are sized from it (``workers.timing``).
    requests_per_submit: int = 1
    #: Requests one submission spends from the provider's own quota: they are all paid before
    #: it starts (Thought Industries: a dry run and the import, both counted by its API key).
    #: Uploads to a separate asset store are not counted.
    quota_per_submit: int = 1
    #: The settings that, with base_url, name the remote place items land in (an integration,
    #: an account): what the connection's content digests prove (``workers.targets``).
    target_options: tuple[str, ...] = ()
    #: The settings that are credentials: write-only through the connection store, kept sealed
    #: in Redis (``workers.connection_store``), never shown. The common ``webhook_secret`` and
    #: ``webhook_url`` are added by ``workers.connections.COMMON_SECRET_OPTIONS``.
    secret_options: tuple[str, ...] = ()

    def default_limits(self, bucket: str) -> tuple[str, ...]:
        """The documented limits of ``bucket`` as window texts."""
        if bucket in self.limits:
            return self.limits[bucket]
        reads = self.reads_per_minute if bucket == "read" else None
        return (f"{reads or self.requests_per_minute:g}/min",)

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
