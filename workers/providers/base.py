"""The small interface every provider client implements, and the values it speaks in.

A provider client turns prepared items into one bulk request (``submit``) and reads the state of
the remote job that request started (``poll``). It takes an ``httpx.Client`` in its constructor,
never builds one, and raises only ``workers.errors`` exceptions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = ["ItemResult", "JobStatus", "OutboundItem", "Provider", "Submission"]

Op = Literal["upsert", "deactivate"]


# Not frozen: one is made per catalog item, and frozen dataclasses are several times slower
# to build (object.__setattr__ per field). Treat it as a value all the same.
@dataclass(slots=True)
class OutboundItem:
    """One validated, mapped item on its way to a provider.

    ``payload`` is the item exactly as it appears in the provider's request (Kombo's
    ``{"origin_id", "course"}``, StackOne's content object...). ``digest`` fingerprints it for
    change detection. ``raw``, when known, is ``payload`` as canonical JSON (sorted keys): a
    batch stores it as it is rather than serialising the payload a second time.
    """

    id: str
    digest: str
    payload: dict[str, Any]
    raw: bytes | None = None


@dataclass(frozen=True, slots=True)
class ItemResult:
    """The provider's verdict on one item."""

    item_id: str
    ok: bool
    code: str | None = None
    message: str | None = None
    remote_id: str | None = None


@dataclass(frozen=True, slots=True)
class Submission:
    """What a bulk request returned.

    ``job_ref`` names the remote job to poll (Kombo task id, 360Learning operation URL...), or
    None when the provider answered for every item at once. ``results`` holds the items the
    provider already settled (StackOne's per-item errors, a dry run's invalid rows).
    """

    job_ref: str | None
    results: tuple[ItemResult, ...] = ()


@dataclass(frozen=True, slots=True)
class JobStatus:
    """The state of a remote job.

    ``state`` is ``pending`` (poll again, after ``retry_after_s`` if given), ``done`` (``results``
    holds the per-item outcomes), ``failed`` (the whole job failed: ``code``/``reason``) or
    ``retry`` (the whole job failed for a transient reason, e.g. Kombo's
    ``PLATFORM.TASK_TIMED_OUT``: the batch is sent again, after ``retry_after_s`` if given).
    """

    state: Literal["pending", "done", "failed", "retry"]
    results: tuple[ItemResult, ...] = ()
    code: str | None = None
    reason: str | None = None
    retry_after_s: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)


class Provider(Protocol):
    """A provider's bulk API as coursesync needs it.

    ``resend_safe`` says whether sending the same batch a second time, after a send whose fate
    is unknown (a worker killed mid-request, a lost answer), can neither start a second remote
    job nor have a second effect. Only then does coursesync send it again; otherwise its items
    fail as ``UNVERIFIED`` and the next sync sends them.
    """

    name: str
    resend_safe: bool

    def submit(self, op: Op, items: Sequence[OutboundItem]) -> Submission:
        """Send one bulk request for ``items`` (all of the same ``op``)."""
        ...

    def poll(self, job_ref: str) -> JobStatus:
        """Read the state of the remote job started by ``submit``."""
        ...
