"""Housekeeping is invisible to Flower (no task events) and visible in the metrics instead."""

from __future__ import annotations

import redis

import producers.tasks  # noqa: F401  (these imports register every task with the app)
import workers.tasks.batches
import workers.tasks.beat
import workers.tasks.notify
import workers.tasks.ops  # noqa: F401
from tests.unit.test_metrics import sample, scrape
from workers import ports
from workers.celery_app import app
from workers.health import record_housekeeping


def test_everything_beat_sends_is_housekeeping_and_sends_no_task_events() -> None:
    # Given the beat schedule and the registered tasks
    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    # Then every tick is housekeeping (beat's changes sweep aside: flush_changes is also work)...
    assert scheduled - {ports.FLUSH_CHANGES} <= ports.HOUSEKEEPING
    # ...and no housekeeping task sends worker events, while every work task does
    for name in ports.HOUSEKEEPING:
        assert app.tasks[name].send_events is False, name
    for name in (ports.SUBMIT_BATCH, ports.SYNC_CATALOG, ports.START_RUN, ports.NOTIFY_RUN):
        assert app.tasks[name].send_events is True, name


def test_a_housekeeping_message_carries_no_task_sent_event_and_work_does() -> None:
    tick = app.amqp.create_task_message("id-1", ports.PUMP, (), {}, create_sent_event=True)
    submit = app.amqp.create_task_message(
        "id-2", ports.SUBMIT_BATCH, (), {"batch_id": "b", "connection": "c"}, create_sent_event=True
    )
    assert tick.sent_event is None
    assert submit.sent_event is not None and submit.sent_event["name"] == ports.SUBMIT_BATCH


def test_the_metrics_show_when_each_housekeeping_task_last_succeeded_and_how_often_it_failed(
    r: redis.Redis,
) -> None:
    # Given a pump that ran fine, and a doctor that ran fine once and failed twice
    record_housekeeping(r, ports.PUMP, ok=True)
    record_housekeeping(r, ports.DOCTOR, ok=True)
    for _ in range(2):
        record_housekeeping(r, ports.DOCTOR, ok=False)
    # When scraped
    samples = scrape(r)
    # Then each one's last success is recent and the doctor's failures are counted
    age = "coursesync_housekeeping_last_success_age_seconds"
    assert 0 <= sample(samples, age, task=ports.PUMP) < 5
    assert 0 <= sample(samples, age, task=ports.DOCTOR) < 5
    assert sample(samples, "coursesync_housekeeping_failures_total", task=ports.DOCTOR) == 2
    assert ("coursesync_housekeeping_failures_total", (("task", ports.PUMP),)) not in samples
