"""Task arguments as Flower shows them: ids as they are, URLs without secrets."""

from __future__ import annotations

from workers.celery_app import app
from workers.taskrepr import redact


def test_urls_lose_credentials_and_query_values() -> None:
    assert (
        redact("https://u:pw@cdn.example/c.jsonl?X-Amz-Signature=abc&X-Amz-Expires=60#frag")
        == "https://***@cdn.example/c.jsonl?X-Amz-Signature=***&X-Amz-Expires=***"
    )
    assert redact(["acme", "s3://bucket/c.jsonl"]) == ["acme", "s3://bucket/c.jsonl"]
    assert (
        redact("cannot download https://u:pw@h/c.json: refused")
        == "cannot download https://***@h/c.json: refused"
    )
    assert redact({"run_id": "r_1", "n": 3}) == {"run_id": "r_1", "n": 3}


def test_a_sync_catalog_message_shows_no_secret_of_its_url() -> None:
    # Given the message an upstream Python client sends for a pre-signed catalog URL
    url = "https://reader:hunter2@cdn.example/catalog.jsonl?sig=TOPSECRET"
    msg = app.amqp.create_task_message(
        "id-1", "coursesync.sync_catalog", ("acme", url), {}, create_sent_event=True
    )
    # Then neither its headers nor its task-sent event reveal the password or the signature
    for shown in (msg.headers["argsrepr"], msg.sent_event["args"]):
        assert "hunter2" not in shown and "TOPSECRET" not in shown
        assert "acme" in shown and "cdn.example/catalog.jsonl" in shown
    # And the task itself still gets the real URL
    assert msg.body[0] == ("acme", url)


def test_submit_messages_show_the_batch_and_connection() -> None:
    kwargs = {"batch_id": "r_20260101T000000_abc123-00003", "connection": "acme"}
    msg = app.amqp.create_task_message("id-2", "coursesync.submit_batch", (), kwargs)
    assert msg.headers["kwargsrepr"] == repr(kwargs)
