"""The connection store: runtime connections validated as the file's, credentials sealed in
Redis and never shown, seen by every process within the refresh interval."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from workers import keys
from workers.config import get_settings
from workers.connection_store import (
    delete_connection,
    public_view,
    put_connection,
    seed_from_file,
    stored_connections,
)
from workers.errors import ConfigError, ConnectionExists, VersionConflict
from workers.providers import registry

PLAIN_KEY = "kombo-plain-secret-5e1f0a"
HOOK_PASS = "hookpass-77c1"


def kombo(**extra: Any) -> dict[str, Any]:
    return {
        "provider": "kombo",
        "base_url": "https://api.kombo.dev/v1",
        "api_key": PLAIN_KEY,
        "integration_id": "acme:1",
        **extra,
    }


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch, redis_server: str, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("COURSESYNC_SECRET_KEY", "unit-sealing-key")
    monkeypatch.setenv("COURSESYNC_REDIS_URL", redis_server)
    monkeypatch.setenv("COURSESYNC_CONFIG", str(tmp_path / "absent.toml"))
    get_settings.cache_clear()
    registry._Cache.key, registry._Cache.checked_at = None, float("-inf")
    yield
    registry._Cache.key, registry._Cache.checked_at = None, float("-inf")


def everything_in(r: redis.Redis) -> Iterator[str]:
    """Every key name and value in Redis, read by type."""
    for key in r.scan_iter(count=1000):
        yield key
        kind = r.type(key)
        if kind == "string":
            yield r.get(key) or ""
        elif kind == "hash":
            for field, value in r.hgetall(key).items():
                yield field
                yield value
        elif kind == "list":
            yield from r.lrange(key, 0, -1)
        elif kind == "set":
            yield from r.smembers(key)
        elif kind == "zset":
            yield from r.zrange(key, 0, -1)
        else:
            raise AssertionError(f"no reader for {kind} key {key!r}")


def test_create_list_update_delete(r: redis.Redis) -> None:
    created = put_connection(r, "acme-kombo", kombo(batch_size=500))
    assert (created.source, created.version, created.batch_size) == ("api", 1, 500)
    assert list(stored_connections(r)) == ["acme-kombo"]
    updated = put_connection(r, "acme-kombo", kombo(batch_size=100), expected_version=1)
    assert (updated.version, updated.batch_size) == (2, 100)
    assert delete_connection(r, "acme-kombo") is True
    assert delete_connection(r, "acme-kombo") is False
    assert stored_connections(r) == {}


def test_create_only_and_expected_version_refuse_conflicting_writes(r: redis.Redis) -> None:
    put_connection(r, "acme-kombo", kombo(), create_only=True)
    with pytest.raises(ConnectionExists, match="'acme-kombo' already exists"):
        put_connection(r, "acme-kombo", kombo(), create_only=True)
    with pytest.raises(VersionConflict, match="at version 1, not 7"):
        put_connection(r, "acme-kombo", kombo(), expected_version=7)


@pytest.mark.parametrize(
    ("name", "change", "message"),
    [
        ("Acme Kombo", {}, "connection name 'Acme Kombo' is not allowed"),
        ("acme", {"provider": "moodle"}, r"connections\.acme\.provider is 'moodle'"),
        ("acme", {"batch_size": 5000}, r"connections\.acme\.batch_size 5000 is above"),
        ("acme", {"bacth_size": 1}, r"connections\.acme\.bacth_size is not a kombo setting"),
        ("acme", {"api_key": 42}, r"connections\.acme\.api_key has the wrong type"),
        ("acme", {"base_url": "ftp://x"}, r"connections\.acme\.base_url must be an http\(s\) URL"),
        ("acme", {"schedule": {"source": "s.jsonl", "every": "often"}}, "not a duration"),
    ],
)
def test_validation_is_the_files_and_names_the_field(
    r: redis.Redis, name: str, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        put_connection(r, name, kombo(**change))
    assert stored_connections(r) == {}


def test_a_missing_required_setting_is_named(r: redis.Redis) -> None:
    table = kombo()
    del table["integration_id"]
    with pytest.raises(ConfigError, match=r"connections\.acme: missing required setting integration_id"):
        put_connection(r, "acme", table)


def test_a_plain_secret_is_nowhere_in_redis_nor_shown_yet_resolves_at_use(r: redis.Redis) -> None:
    hook = f"https://hook:{HOOK_PASS}@hooks.example/in?token=tok-91"
    conn = put_connection(r, "acme", kombo(webhook_url=hook, webhook_secret="whsec-3c"))
    assert registry.get_connection("acme").source == "api"
    blobs = list(everything_in(r))
    assert len(blobs) >= 4
    for secret in (PLAIN_KEY, HOOK_PASS, "tok-91", "whsec-3c"):
        assert not [b for b in blobs if secret in b], secret
    view = json.dumps(public_view(conn))
    for secret in (PLAIN_KEY, HOOK_PASS, "tok-91", "whsec-3c", "sealed:"):
        assert secret not in view
    shown = public_view(conn)
    assert shown["api_key"] == {"set": True} and shown["source"] == "api"
    assert shown["webhook_url"] == {"set": True, "url": "https://***@hooks.example/in?token=***"}
    assert PLAIN_KEY not in repr(conn) and "sealed:" not in repr(conn)
    stored = registry.get_connection("acme")
    assert stored.secret("api_key") == PLAIN_KEY
    assert stored.option("webhook_url") == hook


def test_references_are_stored_as_written_and_shown_by_name(
    r: redis.Redis, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "wh").write_text("whsec-file\n")
    conn = put_connection(r, "acme", kombo(api_key="env:ACME_KEY", webhook_secret=f"file:{tmp_path}/wh"))
    assert stored_connections(r)["acme"]["table"]["api_key"] == "env:ACME_KEY"
    view = public_view(conn)
    assert view["api_key"] == {"env": "ACME_KEY"} and view["webhook_secret"] == {"file": f"{tmp_path}/wh"}
    monkeypatch.setenv("ACME_KEY", "from-env")
    assert conn.secret("api_key") == "from-env" and conn.secret("webhook_secret") == "whsec-file"


def test_an_update_without_the_secret_keeps_it_and_null_removes_it(r: redis.Redis) -> None:
    put_connection(r, "acme", kombo(webhook_secret="whsec-3c"))
    table = kombo(batch_size=10)
    del table["api_key"]
    kept = put_connection(r, "acme", table)
    assert kept.secret("api_key") == PLAIN_KEY and kept.secret("webhook_secret") == "whsec-3c"
    assert kept.batch_size == 10
    removed = put_connection(r, "acme", {**table, "webhook_secret": None})
    assert "webhook_secret" not in removed.options and removed.secret("api_key") == PLAIN_KEY
    # A required secret cannot be removed
    with pytest.raises(ConfigError, match="missing required setting api_key"):
        put_connection(r, "acme", {**table, "api_key": None})


def test_a_new_connection_needs_its_secret(r: redis.Redis) -> None:
    table = kombo()
    del table["api_key"]
    with pytest.raises(ConfigError, match=r"connections\.acme: missing required setting api_key"):
        put_connection(r, "acme", table)


def test_a_wrong_secret_key_is_a_clear_config_error_not_garbage(
    r: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_connection(r, "acme", kombo())
    monkeypatch.setenv("COURSESYNC_SECRET_KEY", "another-key")
    get_settings.cache_clear()
    conn = registry.get_connection("acme")
    with pytest.raises(ConfigError, match=r"connections\.acme\.api_key: .*cannot be opened") as err:
        conn.secret("api_key")
    assert "sealed:" not in str(err.value)
    monkeypatch.delenv("COURSESYNC_SECRET_KEY")
    get_settings.cache_clear()
    with pytest.raises(ConfigError, match="COURSESYNC_SECRET_KEY is not set"):
        put_connection(r, "other", kombo())


FILE = """
[connections.acme-kombo]
provider = "kombo"
base_url = "https://api.kombo.dev/v1"
api_key = "env:KOMBO_API_KEY"
integration_id = "acme:file"

[connections.globex]
provider = "stackone"
base_url = "https://api.stackone.com"
api_key = "literal-stackone-key-0b"
account_id = "globex-1"

[connections.globex.schedule]
source = "https://catalog.globex.example/c.jsonl"
every = "6h"
"""


def test_seeding_copies_the_file_keeping_references_and_sealing_literals(
    r: redis.Redis, tmp_path: Path
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(FILE)
    assert seed_from_file(r, path) == ["acme-kombo", "globex"]
    stored = stored_connections(r)
    assert stored["acme-kombo"]["table"]["api_key"] == "env:KOMBO_API_KEY"
    assert stored["globex"]["table"]["api_key"].startswith("sealed:v1:")
    assert stored["globex"]["table"]["schedule"]["every"] == "6h"
    put_connection(r, "globex", {**stored["globex"]["table"], "account_id": "changed"})
    assert seed_from_file(r, path) == []  # stored ones are left alone...
    assert seed_from_file(r, path, overwrite=True) == ["acme-kombo", "globex"]  # ...unless asked
    assert stored_connections(r)["globex"]["table"]["account_id"] == "globex-1"
    assert registry.get_connection("globex").secret("api_key") == "literal-stackone-key-0b"


def test_a_stored_connection_overrides_the_file_one_and_deleting_it_restores_it(
    r: redis.Redis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(FILE)
    monkeypatch.setenv("COURSESYNC_CONFIG", str(path))
    get_settings.cache_clear()
    assert registry.get_connection("acme-kombo").source == "file"
    put_connection(r, "acme-kombo", kombo(integration_id="acme:api"))
    registry._Cache.checked_at = float("-inf")
    conn = registry.get_connection("acme-kombo")
    assert (conn.source, conn.option("integration_id")) == ("api", "acme:api")
    assert set(registry.get_connections()) == {"acme-kombo", "globex"}
    delete_connection(r, "acme-kombo")
    registry._Cache.checked_at = float("-inf")
    assert registry.get_connection("acme-kombo").option("integration_id") == "acme:file"


def test_without_file_or_stored_connections_the_error_is_the_files(r: redis.Redis) -> None:
    with pytest.raises(ConfigError, match="not found"):
        registry.get_connections()
    put_connection(r, "acme", kombo())
    registry._Cache.checked_at = float("-inf")
    assert list(registry.get_connections()) == ["acme"]


def test_the_registry_sees_another_clients_change_within_the_refresh_interval(
    r: redis.Redis, redis_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COURSESYNC_CONNECTIONS_REFRESH_S", "0.3")
    get_settings.cache_clear()
    put_connection(r, "acme", kombo())
    assert registry.get_connection("acme").batch_size == 1000
    other = redis.Redis.from_url(redis_server, decode_responses=True)
    put_connection(other, "acme", kombo(batch_size=7))
    changed_at = time.monotonic()
    # Within the interval the cached view may still be the old one (no round trip per lookup)...
    while registry.get_connection("acme").batch_size != 7:
        assert time.monotonic() - changed_at < 0.3 + 0.2, "not seen within the refresh interval"
        time.sleep(0.01)
    assert r.get(keys.CONNECTIONS_GENERATION) == "2"
    other.close()
