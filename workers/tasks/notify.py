"""``coursesync.notify_run``: POST a finished run's document to its webhook (from the outbox)."""

from __future__ import annotations

import logging
from typing import Any

from schemas.messages import NotifyRun
from workers.config import get_settings
from workers.errors import ConfigError, PermanentError, ProviderUnavailable
from workers.ledger import run_document
from workers.ledger.outbox import delivered, failed_delivery
from workers.ports import NOTIFY_RUN
from workers.redact import redact_url
from workers.redis_client import get_redis
from workers.retry import compute_backoff
from workers.tasks.base import load, task
from workers.webhooks import deliver, webhook_target

log = logging.getLogger(__name__)


# Acknowledged on receipt: the outbox entry, not this message, is what makes delivery certain.
@task(name=NOTIFY_RUN, acks_late=False)
def notify_run(**kwargs: Any) -> str:
    """Kwargs: run_id. Delivers the final run document once; the outbox retries a failure."""
    run_id = load(NotifyRun, kwargs).run_id
    r = get_redis()
    try:
        target = webhook_target(r, run_id)
        document = run_document(r, run_id)
        if target is None or document is None:
            delivered(r, run_id)
            return "nothing to deliver"
        deliver(target[0], document, target[1])
    except ProviderUnavailable as exc:
        settings = get_settings()

        def backoff(n: int) -> float:
            return compute_backoff(n, base_s=settings.backoff_base_s, cap_s=settings.backoff_cap_s)

        n, delay = failed_delivery(r, run_id, delay_for=backoff, reason=exc.message, permanent=False)
        log.warning("webhook delivery failed run=%r attempt=%d retry_in_s=%.1f reason=%s",
                    run_id, n, delay, exc.message)  # fmt: skip
        return "will retry"
    except (PermanentError, ConfigError) as exc:
        failed_delivery(r, run_id, delay_for=lambda n: 0.0, reason=str(exc), permanent=True)
        log.error("webhook not delivered run=%r reason=%s", run_id, exc)
        return "failed"
    delivered(r, run_id)
    log.info("webhook delivered run=%r url=%s", run_id, redact_url(target[0]))
    return "delivered"
