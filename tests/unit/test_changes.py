"""Item changes coalesce per connection into one run per window; item status says what became of each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import redis

from producers import changes
from producers.changes import ChangeReceipt, flush_changes, submit_changes, sweep_changes
from tests.unit.helpers import configure_and_capture, make_deps
from tests.unit.test_pipeline_inprocess import CONFIG, drain
from workers import keys, lua, ports
from workers.config import Settings
from workers.errors import ConfigError, RequestTooLarge
from workers.ledger import item_status
from workers.providers.fake import FakeProvider

TI_CONFIG = """
[connections.ti]
provider = "thoughtindustries"
base_url = "http://127.0.0.1:9"
api_key = "env:ACME_KEY"
content = "courseGroup/webinar"
asset_store = "file:///tmp/coursesync-test-assets"
"""

SETTINGS = Settings(changes_window_s=2.0)


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    return configure_and_capture(monkeypatch, tmp_path, CONFIG + TI_CONFIG, {"ACME_KEY": "secret"})


class Tasks:
    """A send port keeping every task sent: (name, kwargs, options)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any], dict[str, Any]]] = []

    def __call__(self, name: str, kwargs: dict[str, Any], options: dict[str, Any]) -> None:
        self.sent.append((name, kwargs, options))

    def flushes(self) -> list[dict[str, Any]]:
        return [options for name, _, options in self.sent if name == ports.FLUSH_CHANGES]


def course(item_id: str, title: str = "T") -> dict[str, Any]:
    return {"id": item_id, "title": title, "url": f"https://a.example/{item_id}"}


def waiting(r: redis.Redis, connection: str = "acme") -> dict[str, str]:
    return r.hgetall(keys.changes(connection))


def submit(r: redis.Redis, tasks: Tasks, *, upserts: Any = (), deletes: Any = ()) -> ChangeReceipt:
    return submit_changes(
        r, "acme", upserts=list(upserts), deletes=list(deletes), settings=SETTINGS, send=tasks
    )


def test_the_last_change_of_an_item_wins_a_delete_over_an_upsert_and_back(
    r: redis.Redis, sent: list[str]
) -> None:
    tasks = Tasks()
    # Given upserts, then a delete of one, then a new upsert of another deleted earlier
    submit(r, tasks, upserts=[course("a", "first"), course("b")])
    submit(r, tasks, upserts=[course("a", "second")], deletes=["b", "c"])
    submit(r, tasks, upserts=[course("c", "back")])
    # Then one change per item waits: the last one
    pending = waiting(r)
    assert set(pending) == {"a", "b", "c"}
    assert '"second"' in pending["a"] and pending["b"] == "D" and '"back"' in pending["c"]
    # And one delayed flush was scheduled for the window, not one per call
    assert tasks.flushes() == [{"countdown": 2.0}]
    # And the status of each says queued, with what will be done
    assert item_status(r, "acme", "b")["state"] == "queued"  # type: ignore[index]
    assert item_status(r, "acme", "b")["op"] == "deactivate"  # type: ignore[index]
    assert item_status(r, "acme", "a")["run_id"] is None  # type: ignore[index]


def test_invalid_upserts_come_back_with_field_and_reason_and_never_stop_the_valid_ones(
    r: redis.Redis, sent: list[str]
) -> None:
    tasks = Tasks()
    bad = {"id": "bad", "title": "T", "url": "javascript:alert(1)"}
    receipt = submit(r, tasks, upserts=[course("ok1"), bad, {"title": "no id"}, course("ok2")], deletes=[""])
    assert receipt.accepted == 2 and receipt.window_s == 2.0
    by_id = {e["item_id"]: e for e in receipt.invalid}
    assert by_id["bad"]["field"] == "url" and "http" in by_id["bad"]["message"]
    assert any(e["field"] == "id" for e in receipt.invalid if e["item_id"] != "bad")
    assert set(waiting(r)) == {"ok1", "ok2"}
    status = item_status(r, "acme", "bad")
    assert status is not None and status["state"] == "invalid" and status["message"].startswith("url: ")


def test_a_delete_at_a_provider_that_cannot_deactivate_is_refused_in_the_receipt(
    r: redis.Redis, sent: list[str]
) -> None:
    receipt = submit_changes(r, "ti", upserts=[], deletes=["x"], settings=SETTINGS, send=Tasks())
    assert receipt.accepted == 0
    assert receipt.invalid[0]["code"] == "coursesync.CANNOT_DEACTIVATE"
    assert waiting(r, "ti") == {}


def test_unknown_connections_and_oversized_calls_are_refused_whole(r: redis.Redis, sent: list[str]) -> None:
    with pytest.raises(ConfigError, match="nope"):
        submit_changes(r, "nope", upserts=[course("a")], deletes=[], settings=SETTINGS, send=Tasks())
    too_many = [course(f"c{i}") for i in range(changes.MAX_CHANGES_PER_CALL)]
    with pytest.raises(RequestTooLarge, match="at most 1,000"):
        submit(r, Tasks(), upserts=too_many, deletes=["x"])
    assert waiting(r) == {}


def test_a_batch_size_of_waiting_changes_is_flushed_at_once(r: redis.Redis, sent: list[str]) -> None:
    tasks = Tasks()
    # batch_size is 100 in CONFIG
    submit(r, tasks, upserts=[course(f"c{i}") for i in range(99)])
    assert tasks.flushes() == [{"countdown": 2.0}]
    submit(r, tasks, upserts=[course("c99")])
    submit(r, tasks, upserts=[course("c100")])
    assert tasks.flushes() == [{"countdown": 2.0}, {}]  # once per window, not once per call


def test_a_flush_starts_one_run_of_upserts_and_deletes_and_item_status_follows_each_outcome(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str]
) -> None:
    provider = FakeProvider(reject={"r1"})
    deps = make_deps(r, raw_r, provider)
    tasks = Tasks()
    submit(r, tasks, upserts=[course("u1"), course("u2"), course("r1")])
    run_id = flush_changes(r, "acme", deps.settings, deps.send)
    assert run_id is not None and waiting(r) == {}
    doc = drain(deps, sent, run_id)
    assert doc["options"]["trigger"] == "changes"
    assert doc["counts"]["succeeded"] == 2 and doc["counts"]["failed"] == 1
    ok, failed = item_status(r, "acme", "u1"), item_status(r, "acme", "r1")
    assert ok is not None and ok["state"] == "succeeded" and ok["run_id"] == run_id
    assert ok["remote_id"] == "remote-u1" and ok["op"] == "upsert"
    assert failed is not None and failed["state"] == "failed" and failed["code"] == "REJECTED"
    assert failed["message"] == "rejected by the fake LMS"
    assert 0 < r.ttl(keys.item_status("acme", keys.item_bucket("u1"))) <= deps.settings.run_retention_s
    # When the same content comes again with a delete
    submit(r, tasks, upserts=[course("u1")], deletes=["u2"])
    second = flush_changes(r, "acme", deps.settings, deps.send)
    assert second is not None
    doc = drain(deps, sent, second)
    # Then the unchanged upsert ends unchanged, and the delete is a deactivation that succeeded
    assert doc["counts"]["unchanged"] == 1 and doc["counts"]["succeeded"] == 1
    assert provider.submissions[-1] == ("deactivate", ["u2"])
    assert item_status(r, "acme", "u1")["state"] == "unchanged"  # type: ignore[index]
    gone = item_status(r, "acme", "u2")
    assert gone is not None and gone["state"] == "succeeded" and gone["op"] == "deactivate"
    # And nothing waiting: no run
    assert flush_changes(r, "acme", deps.settings, deps.send) is None


def test_changes_submitted_during_a_flush_go_to_the_next_one(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    deps = make_deps(r, raw_r, FakeProvider())
    tasks = Tasks()
    submit(r, tasks, upserts=[course("a")])
    seen: dict[str, Any] = {}
    real = changes.start_changes_run

    def start_while_a_change_arrives(name: str, upserts: Any, deletes: Any, **kw: Any) -> str:
        # A change arrives after the take, before the run exists
        submit(r, tasks, upserts=[course("late")])
        seen["ids"] = [u["id"] for u in upserts]
        return real(name, upserts, deletes, **kw)

    monkeypatch.setattr(changes, "start_changes_run", start_while_a_change_arrives)
    first = flush_changes(r, "acme", deps.settings, deps.send)
    monkeypatch.setattr(changes, "start_changes_run", real)
    assert seen["ids"] == ["a"]
    # The late change waits for the next window, which it scheduled itself (the take cleared
    # the flag), and is sent once
    assert set(waiting(r)) == {"late"} and len(tasks.flushes()) == 2
    second = flush_changes(r, "acme", deps.settings, deps.send)
    assert drain(deps, sent, first)["counts"]["total"] == 1  # type: ignore[arg-type]
    assert drain(deps, sent, second)["counts"]["total"] == 1  # type: ignore[arg-type]


def test_changes_taken_by_a_flush_that_died_go_with_the_next_flush(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    deps = make_deps(r, raw_r, FakeProvider())
    tasks = Tasks()
    submit(r, tasks, upserts=[course("a", "old"), course("b")])
    real = changes.start_changes_run

    def die(*args: Any, **kwargs: Any) -> str:
        raise SystemExit("killed")

    # Given a flush that took the changes and died before their run existed
    monkeypatch.setattr(changes, "start_changes_run", die)
    with pytest.raises(SystemExit):
        flush_changes(r, "acme", deps.settings, deps.send)
    monkeypatch.setattr(changes, "start_changes_run", real)
    assert waiting(r) == {} and set(r.hgetall(keys.changes_taken("acme"))) == {"a", "b"}
    # And a newer change of one of them
    submit(r, tasks, upserts=[course("a", "new"), course("c")])
    # When the next flush runs, it sends the orphaned changes with the new, the newer winning
    run_id = flush_changes(r, "acme", deps.settings, deps.send)
    assert run_id is not None and r.exists(keys.changes_taken("acme")) == 0
    doc = drain(deps, sent, run_id)
    assert doc["counts"]["total"] == 3 and doc["counts"]["succeeded"] == 3
    assert item_status(r, "acme", "b")["state"] == "succeeded"  # type: ignore[index]
    assert r.zscore(keys.CHANGES_WAITING, "acme") is None


def test_beat_flushes_changes_whose_flush_was_lost(r: redis.Redis, sent: list[str]) -> None:
    tasks = Tasks()
    submit(r, tasks, upserts=[course("a")])
    assert sweep_changes(r, SETTINGS, tasks) == []  # young: its own flush is on its way
    # Given changes waiting for longer than a few windows (their flush task was lost)
    r.zadd(keys.CHANGES_WAITING, {"acme": 1})
    assert sweep_changes(r, SETTINGS, tasks) == ["acme"]
    assert tasks.sent[-1] == (ports.FLUSH_CHANGES, {"connection": "acme"}, {})


def test_a_flush_locked_out_by_another_comes_back_a_window_later(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str]
) -> None:
    deps = make_deps(r, raw_r, FakeProvider())
    tasks = Tasks()
    submit(r, tasks, upserts=[course("a")])
    r.set(keys.changes_lock("acme"), "someone")
    assert flush_changes(r, "acme", SETTINGS, tasks) is None
    assert tasks.sent[-1] == (ports.FLUSH_CHANGES, {"connection": "acme"}, {"countdown": 2.0})
    assert set(waiting(r)) == {"a"}
    lua.run(r, "release_lock", [keys.changes_lock("acme")], ["someone"])
    assert flush_changes(r, "acme", deps.settings, deps.send) is not None


def test_the_item_command_prints_the_status_and_says_when_nothing_is_known(
    r: redis.Redis,
    sent: list[str],
    redis_server: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from coursesync.cli import main
    from workers.config import get_settings

    monkeypatch.setenv("COURSESYNC_REDIS_URL", redis_server)
    get_settings.cache_clear()
    submit(r, Tasks(), upserts=[course("a")])
    assert main(["--redis-url", redis_server, "item", "acme", "a", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["state"] == "queued" and shown["item_id"] == "a" and shown["connection"] == "acme"
    assert main(["--redis-url", redis_server, "item", "acme", "a"]) == 0
    assert "state:     queued" in capsys.readouterr().out
    assert main(["--redis-url", redis_server, "item", "acme", "zzz"]) == 1
    assert main(["--redis-url", redis_server, "item", "nope", "a"]) == 2
