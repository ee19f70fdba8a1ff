"""The baseline of bench/rate_limit.py: Celery's own ``rate_limit``, nothing shared.

Each task POSTs one batch to the sandbox's Kombo and, on a 429, retries a second later: what a
team gets from Celery alone. ``rate_limit`` is enforced per worker instance (celery #5732).
"""

from __future__ import annotations

import os

import httpx
from celery import Celery

app = Celery("bench-baseline", broker=os.environ["COURSESYNC_REDIS_URL"])
# Celery defaults otherwise (prefetch 4): with prefetch 1, rate_limit starves itself at ~1 task/s.
app.conf.update(task_default_queue="bench-baseline")
RATE = os.environ.get("BENCH_RATE", "20")
_client = httpx.Client(timeout=30)


def _post(task, n: int) -> int:  # type: ignore[no-untyped-def]
    body = {
        "items": [
            {
                "origin_id": f"b{n}-{i}",
                "course": {"type": "EXTERNAL", "title": "T", "course_url": "https://a.example"},
            }
            for i in range(5)
        ]
    }
    resp = _client.post(
        os.environ["BENCH_SANDBOX_URL"] + "/kombo/v1/lms/courses/bulk",
        json=body,
        headers={"Authorization": "Bearer sandbox-kombo-key", "X-Integration-Id": "sandbox:coursesync-demo"},
    )
    if resp.status_code == 429:
        raise task.retry(countdown=1)
    return resp.status_code


@app.task(name="bench.baseline_post", bind=True, rate_limit=f"{RATE}/s", max_retries=None)
def baseline_post(self, n: int) -> int:  # type: ignore[no-untyped-def]
    return _post(self, n)


@app.task(name="bench.unlimited_post", bind=True, max_retries=None)
def unlimited_post(self, n: int) -> int:  # type: ignore[no-untyped-def]
    """No limiter at all: the provider's 429s are the only brake."""
    return _post(self, n)
