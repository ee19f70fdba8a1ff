"""Fleet-wide metrics: counters kept in Redis by every process, served to Prometheus by one.

``record`` is what the pipeline calls where events happen (cheap increments, usually on a
pipeline it already sends). ``collector`` reads them, plus live gauges, on each scrape, and
``server`` serves them over HTTP behind basic auth (`coursesync metrics`). Only ``record`` is
imported by workers; the other two load prometheus-client and are for the endpoint process.
"""

from __future__ import annotations

from workers.metrics.record import (
    count_items,
    count_limiter_wait,
    count_pause,
    count_response,
    count_retry,
    count_run_finished,
    last_status,
    observe_poll_delays,
)

__all__ = [
    "count_items",
    "count_limiter_wait",
    "count_pause",
    "count_response",
    "count_retry",
    "count_run_finished",
    "last_status",
    "observe_poll_delays",
]
