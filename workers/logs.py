"""Logging: one line per event, plain or JSON (``COURSESYNC_LOG_JSON=1``), never secrets.

Celery's own root-logger takeover is disabled (``worker_hijack_root_logger=False``); this hook
configures logging for every coursesync process the same way.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from workers.config import get_settings

__all__ = ["JsonFormatter", "setup_logging"]

_configured = False


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and the exception, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


def setup_logging() -> None:
    """Configure the root logger once per process."""
    global _configured  # noqa: PLW0603 - once per process, by design
    if _configured:
        return
    _configured = True
    settings = get_settings()
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    # httpx logs every request URL at INFO; our own batch lines say more, and say it once.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
