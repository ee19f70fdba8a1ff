"""Provider clients: one module per provider API behind the small ``Provider`` protocol."""

from workers.providers.base import (
    ItemResult,
    JobStatus,
    OutboundItem,
    Provider,
    Submission,
)

__all__ = ["ItemResult", "JobStatus", "OutboundItem", "Provider", "Submission"]
