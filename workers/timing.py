"""How long a submission may take, and the locks and leases that must outlive it.

A batch must become at most one remote job. Three clocks guard it, and they must not cross:

- the **request deadline**: one provider request (upload included) ends within
  ``max_request_s`` (``workers.providers.deadline``: ``provider_timeout_s`` in total, checked
  between chunks whose reads and writes each time out after ``provider_timeout_s``);
- the **task time limit**: Celery stops a submission after the requests it may make
  (``requests_per_submit`` of its provider) plus a margin;
- the **batch lock**: held while a worker sends, it outlives the task's hard time limit, so a
  worker still sending always holds it and no second worker can send the same batch;
- the **lease** (the batch's in-flight entry), after which the pump hands the batch out again,
  outlives the lock, so a second delivery finds the lock free and re-checks the batch's state.

All three locks/leases expire on Redis' clock, never a host's.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SubmitTiming", "submit_timing"]


@dataclass(frozen=True)
class SubmitTiming:
    """Seconds, ordered: soft_limit < hard_limit < lock < lease."""

    soft_limit_s: float
    hard_limit_s: float
    lock_s: float
    lease_s: float


def submit_timing(
    *, provider_timeout_s: float, requests_per_submit: int, min_lease_s: float = 0.0
) -> SubmitTiming:
    """The limits for a provider whose submission makes up to ``requests_per_submit`` requests.

    ``min_lease_s`` (``Settings.batch_lease_s``) may lengthen the lease, never shorten it.
    """
    max_request_s = 2 * provider_timeout_s  # the total deadline plus one last read
    budget_s = max(1, requests_per_submit) * max_request_s
    margin_s = min(10.0, max(2.0, budget_s / 10))
    soft = budget_s + margin_s
    hard = soft + margin_s
    lock = hard + margin_s
    return SubmitTiming(soft, hard, lock, max(min_lease_s, lock + margin_s))
