"""The hostile-input corpus, part two: provider hints and configuration values.

Each kind gets a clear answer: a wait that is finite, never negative and never longer than the
cap (a hint coursesync cannot read is no hint), or a ConfigError naming the connection, the key
and the reason. Nothing raises outside the error tree. The rest of the corpus lives beside the
code it attacks: catalog files and cells (``test_hostile_files.py``, ``test_readers_fuzz.py``,
``tests/integration/test_bad_input.py``), customers' URLs and redirects (``test_outbound.py``),
provider answers (``test_answer_properties.py``), secrets (``tests/integration/test_security.py``).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest
import redis

from tests.unit.helpers import connection
from workers.connections import load_connections
from workers.errors import ConfigError
from workers.providers.http import max_hint_s, retry_after_s
from workers.ratelimit import Limits, MemoryBackend
from workers.ratelimit.feedback import learn

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"retry-after": "inf"}, None),
        ({"retry-after": "nan"}, None),
        ({"retry-after": "1e400"}, None),
        ({"retry-after": "-5"}, None),  # a wait in the past is no wait to honour
        ({"retry-after": "abc"}, None),
        ({"retry-after": "Wed, 99 Foo 2026 99:99:99 GMT"}, None),
        ({"retry-after": ""}, None),
        ({"retry-after": "99999999"}, "cap"),
        ({"retry-after-ms": "2500"}, 2.5),
        ({"retry-after-ms": "-1"}, None),
        ({"ratelimit-reset": str(int((NOW + 30) * 1000))}, 30.0),  # epoch milliseconds
        ({"ratelimit-reset": str(int(NOW + 30))}, 30.0),  # epoch seconds
        ({"x-ratelimit-reset": "12"}, 12.0),  # seconds from now
        ({"ratelimit-reset": str(int((NOW + 10**9) * 1000))}, "cap"),  # 31 years ahead
        ({"retry-after": b"\x00\xff"}, None),
    ],
)
def test_a_provider_hint_is_read_sanely_or_not_at_all(headers: dict[str, str | bytes], wait: object) -> None:
    found = retry_after_s(httpx.Headers(headers), now_s=NOW)
    assert found == (max_hint_s() if wait == "cap" else wait)


@pytest.mark.parametrize(
    "headers",
    [
        {"retry-after": "inf", "ratelimit-remaining": "0"},
        {"ratelimit-remaining": "-1e400", "ratelimit-reset": "nan"},
        {"concurrency-limit": "1e400"},
        {"concurrency-limit": "-3"},
        {"ratelimit-remaining": "0", "ratelimit-reset": str(int(time.time() * 1000) + 5_000_000)},
    ],
)
def test_hostile_limit_headers_on_any_answer_never_raise_and_never_pause_for_ever(
    headers: dict[str, str], r: redis.Redis
) -> None:
    limits = Limits(MemoryBackend())
    conn = connection()
    request = httpx.Request("POST", "http://127.0.0.1:9/kombo/v1/lms/courses/bulk")
    for status in (200, 429):
        learn(limits, r, conn, httpx.Response(status, headers=headers, request=request))
        assert limits.paused_s(conn, "requests") <= max_hint_s()
        assert limits.dispatch_cap(conn) >= 0


_KOMBO = """[connections.acme]
provider = "kombo"
base_url = "https://api.kombo.dev/v1"
api_key = "env:ACME_KEY"
integration_id = "acme:1"
"""


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ("batch_size = -1\n", "batch_size must be greater than 0"),
        ("batch_size = 99999999\n", "above kombo's maximum"),
        ("requests_per_minute = true\n", "must be a number"),
        ('max_in_flight = "30"\n', "wrong type"),
        ("webhook_url = 5\n", "wrong type"),
        ('surprise = "x"\n', "is not a kombo setting"),
        ('[connections.acme.schedule]\nsource = ""\nevery = "1h"\n', "source must be"),
        ('[connections.acme.schedule]\nsource = "x.jsonl"\nevery = "-1h"\n', "every"),
        ('[connections.acme.schedule]\nsource = "x.jsonl"\ncron = "not a cron"\n', "cron"),
    ],
)
def test_a_hostile_configuration_value_is_refused_naming_the_connection_and_key(
    tmp_path: Path, extra: str, says: str
) -> None:
    path = tmp_path / "coursesync.toml"
    path.write_text(_KOMBO + extra)
    with pytest.raises(ConfigError, match=r"connections\.acme") as info:
        load_connections(path)
    assert says in str(info.value)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('[connections.acme]\nprovider = "moodle"\nbase_url = "https://x"\n', "expected one of"),
        ('[connections.acme]\nprovider = "kombo"\nbase_url = "javascript:alert(1)"\n', "http(s) URL"),
        ('[connections.acme]\nprovider = "kombo"\nbase_url = "file:///etc/passwd"\n', "http(s) URL"),
        ("[connections.acme\n", "not valid TOML"),
        ("x = 1\n", "unknown top-level"),
    ],
)
def test_a_hostile_configuration_file_is_refused_with_the_reason(
    tmp_path: Path, text: str, says: str
) -> None:
    path = tmp_path / "coursesync.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(says)):
        load_connections(path)


def test_a_secret_reference_to_nothing_is_refused_when_used_naming_the_variable_or_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "coursesync.toml"
    path.write_text(_KOMBO.replace("env:ACME_KEY", f"file:{tmp_path}/no-such-secret"))
    conn = load_connections(path)["acme"]  # references are read at use, not at load
    with pytest.raises(ConfigError, match="no-such-secret"):
        conn.secret("api_key")
    monkeypatch.delenv("ACME_KEY", raising=False)
    path.write_text(_KOMBO)
    with pytest.raises(ConfigError, match="ACME_KEY, which is not set"):
        load_connections(path)["acme"].secret("api_key")
