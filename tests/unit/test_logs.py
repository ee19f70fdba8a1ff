"""Structured batch events: readable in text, keys in JSON, nothing else leaks in."""

from __future__ import annotations

import json
import logging

from workers.ledger import Batch
from workers.logs import JsonFormatter, batch_event, log_event


def batch() -> Batch:
    return Batch("r_1-00003", "r_1", "acme", "upsert", 100, "pending", 0, None, None, 0, 0)


def test_a_batch_event_reads_as_one_line_and_carries_its_fields_as_json_keys(caplog) -> None:  # type: ignore[no-untyped-def]
    # Given a batch event logged with a status and a duration
    log = logging.getLogger("coursesync.test")
    with caplog.at_level(logging.INFO):
        batch_event(log, logging.INFO, "batch submitted", batch(), status=202, duration_ms=85, job=None)
    record = caplog.records[-1]
    # Then the plain line is readable, with ids quoted and empty fields left out
    assert record.getMessage() == (
        "batch submitted connection='acme' run='r_1' batch='r_1-00003' attempt=1 status=202 duration_ms=85"
    )
    # And the JSON line has each field as a key
    doc = json.loads(JsonFormatter().format(record))
    assert doc["event"] == "batch submitted"
    assert {k: doc[k] for k in ("connection", "run", "batch", "attempt", "status", "duration_ms")} == {
        "connection": "acme", "run": "r_1", "batch": "r_1-00003", "attempt": 1, "status": 202, "duration_ms": 85,
    }  # fmt: skip
    assert "job" not in doc


def test_other_extra_attributes_never_reach_the_json_line(caplog) -> None:  # type: ignore[no-untyped-def]
    # Celery's trace logger passes task arguments as extra={"data": ...}; they stay out.
    log = logging.getLogger("celery.app.trace")
    with caplog.at_level(logging.INFO):
        log.info("Task %s succeeded", "x", extra={"data": {"args": "('https://u:pw@h/c',)"}})
    doc = json.loads(JsonFormatter().format(caplog.records[-1]))
    assert set(doc) == {"ts", "level", "logger", "message"}


def test_event_fields_cannot_overwrite_the_standard_keys(caplog) -> None:  # type: ignore[no-untyped-def]
    log = logging.getLogger("coursesync.test")
    with caplog.at_level(logging.INFO):
        log_event(log, logging.INFO, "odd", level="shadow", logger="shadow")
    doc = json.loads(JsonFormatter().format(caplog.records[-1]))
    assert doc["level"] == "INFO" and doc["logger"] == "coursesync.test"


def test_a_url_in_any_log_line_or_traceback_is_shown_redacted() -> None:
    import logging

    from workers.logs import JsonFormatter, _Redacting

    try:
        raise ValueError("cannot read https://u:hunter2@cdn.example/c.jsonl?sig=TOPSECRET")
    except ValueError:
        import sys

        record = logging.LogRecord(
            "x",
            logging.ERROR,
            __file__,
            1,
            "fetch %s failed",
            ("https://u:hunter2@h/c?sig=S3CR3T",),
            sys.exc_info(),
        )
    assert _Redacting().filter(record)
    line = JsonFormatter().format(record)
    assert "hunter2" not in line and "S3CR3T" not in line and "TOPSECRET" not in line
    assert "https://***@h/c?sig=***" in line
