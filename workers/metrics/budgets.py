"""Prometheus gauges of every provider budget: limits, pauses, use, who waits and their shares.

The same reports as ``coursesync limits`` (``workers.ratelimit.report``), read at each scrape
for the connections in the configuration file.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from workers.connections import Connection
from workers.errors import CoursesyncError
from workers.ratelimit.report import report

__all__ = ["BudgetCollector"]

log = logging.getLogger(__name__)


class BudgetCollector(Collector):
    def __init__(self, r: Any, connections: Callable[[], list[Connection]]) -> None:
        self.r, self.connections = r, connections

    def collect(self) -> Iterator[Metric]:
        try:
            found = report(self.r, self.connections())
        except CoursesyncError as exc:  # no readable config here: the other metrics still go
            log.warning("budget metrics skipped: %s", exc)
            return
        labels = ["budget", "bucket"]
        limit = GaugeMetricFamily(
            "coursesync_budget_limit_requests_per_second",
            "a budget's configured (or documented) limit, per window, as requests per second",
            labels=[*labels, "window"],
        )
        paused = GaugeMetricFamily(
            "coursesync_budget_paused_seconds",
            "how long the provider asked this budget to pause",
            labels=labels,
        )
        used = GaugeMetricFamily(
            "coursesync_budget_used_requests_last_minute",
            "requests granted in the last minute",
            labels=labels,
        )
        waiting = GaugeMetricFamily(
            "coursesync_budget_waiting_connections",
            "connections with batches waiting on the budget",
            labels=labels,
        )
        share = GaugeMetricFamily(
            "coursesync_budget_share",
            "a waiting connection's fair share of the budget (0 when it does not wait)",
            labels=[*labels, "connection"],
        )
        learned = GaugeMetricFamily(
            "coursesync_connection_learned_concurrency_limit",
            "a concurrency limit the provider announced below max_in_flight",
            labels=["connection"],
        )
        for budget in found:
            ids = [budget.id, budget.bucket]
            for window in budget.windows:
                limit.add_metric([*ids, str(window)], window.per_s)
            paused.add_metric(ids, budget.paused_s)
            used.add_metric(ids, budget.used_last_minute)
            waiting.add_metric(ids, budget.waiting_connections)
            for member in budget.members:
                share.add_metric([*ids, member.name], budget.share(member))
                if member.learned_cap:
                    learned.add_metric([member.name], member.learned_cap)
        yield from (limit, paused, used, waiting, share, learned)
