"""``coursesync.notify_run``: POST a finished run's document to its webhook, with retries."""

from __future__ import annotations

import logging
from typing import Any

from workers.config import get_settings
from workers.errors import ConfigError, PermanentError, ProviderUnavailable
from workers.redis_client import get_redis
from workers.retry import compute_backoff
from workers.store.runs import run_document
from workers.tasks.base import task
from workers.webhooks import deliver, webhook_target

log = logging.getLogger(__name__)

#: Webhook deliveries are retried this many times (about an hour with the 300 s cap).
MAX_DELIVERIES = 15


@task(name="coursesync.notify_run", bind=True, max_retries=MAX_DELIVERIES)
def notify_run(self: Any, run_id: str) -> str:
    """Args: run_id. Delivers the final run document; retries with backoff while it fails."""
    try:
        target = webhook_target(get_redis(), run_id)
        document = run_document(get_redis(), run_id)
        if target is None or document is None:
            return "nothing to deliver"
        deliver(target[0], document, target[1])
    except ProviderUnavailable as exc:
        settings = get_settings()
        delay = compute_backoff(
            self.request.retries + 1, base_s=settings.backoff_base_s, cap_s=settings.backoff_cap_s
        )
        log.warning("webhook delivery failed run=%r attempt=%d retry_in_s=%.1f reason=%s",
                    run_id, self.request.retries + 1, delay, exc.message)  # fmt: skip
        raise self.retry(countdown=delay, max_retries=MAX_DELIVERIES) from None
    except (PermanentError, ConfigError) as exc:
        log.error("webhook not delivered run=%r reason=%s", run_id, exc)
        return "failed"
    log.info("webhook delivered run=%r url=%s", run_id, target[0])
    return "delivered"
