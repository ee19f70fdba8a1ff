"""Logging: one line per event, plain or JSON (``COURSESYNC_LOG_JSON=1``), never secrets.

Celery's own root-logger takeover is disabled (``worker_hijack_root_logger=False``); this hook
configures logging for every coursesync process the same way.

Batch events go through ``log_event``: the plain line reads ``batch submitted connection='acme'
run='r_...' batch='r_...-00003' attempt=1 status=202 duration_ms=85``, and the JSON line carries
the same fields as keys, so a log pipeline can filter on ``connection`` or ``batch`` without
parsing text. Only ids, counts, statuses and provider error messages are ever passed: no
payload, no credential.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Protocol

from workers.config import get_settings
from workers.redact import redact_text

__all__ = ["JsonFormatter", "batch_event", "log_event", "setup_logging"]

_configured = False

#: The LogRecord attribute that carries an event's fields (set through ``extra=``). Other
#: ``extra`` attributes (Celery puts task arguments in ``data``) never reach the JSON line.
_FIELDS = "cs_fields"

Field = str | int | float | bool | None


class _Redacting(logging.Filter):
    """Every URL a log line quotes is shown redacted (``workers.redact``), whoever logged it:
    a second net under the places that redact on purpose (a library's message, a traceback)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        shown = redact_text(message)
        if shown != message:
            record.msg, record.args = shown, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the event's fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, _FIELDS, None)
        if isinstance(fields, dict):
            doc.update({k: v for k, v in fields.items() if k not in doc})
        if record.exc_text or record.exc_info:
            doc["exc"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(doc, ensure_ascii=False, default=str)


def log_event(logger: logging.Logger, level: int, event: str, /, **fields: Field) -> None:
    """Log ``event`` with ``fields`` as one line: ``key=value`` in text, keys in JSON.

    Conventional keys: connection, run, batch, attempt (1 for the first send), status (the
    provider's HTTP status, when there was an answer), duration_ms, items, job, code, reason.
    Fields that are None are left out.
    """
    if not logger.isEnabledFor(level):
        return
    present = {k: v for k, v in fields.items() if v is not None}
    text = " ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in present.items())
    logger.log(level, "%s %s", event, text, extra={_FIELDS: {"event": event, **present}})


class _Batch(Protocol):
    """What a batch event names (``workers.ledger.Batch`` has it; logging needs no more)."""

    @property
    def id(self) -> str: ...
    @property
    def run_id(self) -> str: ...
    @property
    def connection(self) -> str: ...
    @property
    def attempts(self) -> int: ...


def batch_event(logger: logging.Logger, level: int, event: str, batch: _Batch, /, **fields: Field) -> None:
    """``log_event`` with the batch's connection, run, id and attempt (1 for the first send)."""
    log_event(
        logger,
        level,
        event,
        connection=batch.connection,
        run=batch.run_id,
        batch=batch.id,
        attempt=batch.attempts + 1,
        **fields,
    )


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
    handler.addFilter(_Redacting())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    # httpx logs every request URL at INFO; our own batch lines say more, and say it once.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
