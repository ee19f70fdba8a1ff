"""The connections file: every mistake is a ConfigError that names the place and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from workers.connections import load_connections
from workers.errors import ConfigError

GOOD = """
[connections.acme-kombo]
provider = "kombo"
base_url = "https://api.kombo.dev/v1/"
api_key = "env:KOMBO_API_KEY"
integration_id = "acme:HWUTwvyx2wLo"
batch_size = 500

[connections.acme-kombo.schedule]
source = "https://catalog.acme.example/courses.jsonl"
every = "6h"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "coursesync.toml"
    path.write_text(text)
    return path


def test_a_good_file_loads_with_defaults_and_lazy_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conns = load_connections(write(tmp_path, GOOD))
    c = conns["acme-kombo"]
    assert c.base_url == "https://api.kombo.dev/v1"
    assert c.batch_size == 500 and c.max_in_flight == 30
    assert c.schedule is not None and c.schedule.every_s == 6 * 3600
    with pytest.raises(ConfigError, match="KOMBO_API_KEY, which is not set"):
        c.secret("api_key")
    monkeypatch.setenv("KOMBO_API_KEY", "k")
    assert c.secret("api_key") == "k"


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        (('provider = "kombo"', 'provider = "moodle"'), "provider is 'moodle'; expected one of"),
        (('integration_id = "acme:HWUTwvyx2wLo"', ""), "missing required setting integration_id"),
        (("batch_size = 500", "batch_size = 5000"), "above kombo's maximum of 1000"),
        (("batch_size = 500", 'batch_size = "500"'), "wrong type"),
        (("batch_size = 500", "bacth_size = 500"), "bacth_size is not a kombo setting"),
        (('every = "6h"', 'every = "often"'), "not a duration"),
        (
            ('base_url = "https://api.kombo.dev/v1/"', 'base_url = "api.kombo.dev"'),
            "must be an http(s) URL",
        ),
    ],
)
def test_mistakes_are_named(tmp_path: Path, mutation: tuple[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_connections(write(tmp_path, GOOD.replace(*mutation)))


def test_a_missing_file_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"not found.*COURSESYNC_CONFIG"):
        load_connections(tmp_path / "nope.toml")


def test_invalid_toml_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_connections(write(tmp_path, "[connections.a\nprovider="))
