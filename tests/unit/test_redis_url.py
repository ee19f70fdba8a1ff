"""COURSESYNC_REDIS_URL naming Sentinels: one parser, ConfigErrors that say what is wrong."""

from __future__ import annotations

from unittest.mock import ANY

import pytest

from workers.errors import ConfigError
from workers.redis_url import SentinelUrl, celery_url, parse_sentinel_url


@pytest.mark.parametrize(
    "url", ["redis://localhost:6379/0", "rediss://h:6380/1", "unix:///tmp/redis.sock", "localhost:6379"]
)
def test_a_url_naming_one_redis_is_not_a_sentinel_url(url: str) -> None:
    assert parse_sentinel_url(url) is None


def test_the_documented_form_reads_every_part() -> None:
    url = "sentinel://:s3cr%40t@h1:26379;h2:26380;10.0.0.3/2?master=cs&sentinel_password=sp"
    found = parse_sentinel_url(url)
    assert found == SentinelUrl(
        (("h1", 26379), ("h2", 26380), ("10.0.0.3", 26379)),
        master="cs",
        db=2,
        password="s3cr@t",
        sentinel_password="sp",
    )


@pytest.mark.parametrize(
    "url",
    [
        "redis+sentinel://h1:26379,h2:26379/0",
        "sentinel://h1:26379;h2:26379",
        "SENTINEL://h1;h2/",
        "sentinel://h1:26379;sentinel://h2:26379/0",  # kombu's own syntax, pasted in
    ],
)
def test_schemes_separators_and_defaults(url: str) -> None:
    found = parse_sentinel_url(url)
    assert found is not None
    assert found.sentinels == (("h1", 26379), ("h2", 26379))
    assert found.master == "mymaster" and found.db == 0 and found.password is None


def test_user_and_password_and_ipv6() -> None:
    found = parse_sentinel_url("sentinel://app:pw@[::1]:26379;[fe80::2]/0")
    assert found is not None
    assert found.sentinels == (("::1", 26379), ("fe80::2", 26379))
    assert (found.username, found.password) == ("app", "pw")
    assert "pw" not in repr(found)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("sentinel:///0?master=m", "no Sentinel host"),
        ("sentinel://h1:notaport/0", "no valid port"),
        ("sentinel://h1:70000/0", "no valid port"),
        ("sentinel://:pw@:26379/0", "no host name"),
        ("sentinel://h1/zero", "database must be a number"),
        ("sentinel://h1/0?master=", "master= is empty"),
        ("sentinel://h1/0?mastr=m", "unknown parameter(s) mastr"),
    ],
)
def test_a_malformed_sentinel_url_is_a_config_error_naming_the_problem(url: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_sentinel_url(url)
    assert says in str(caught.value)
    assert "pw" not in str(caught.value)


def test_celery_gets_kombus_syntax_and_the_group_in_transport_options() -> None:
    found = parse_sentinel_url("sentinel://:p%3Aw@h1:26379;h2:26380/3?master=cs&sentinel_password=sp")
    assert found is not None
    assert found.kombu_url() == "sentinel://:p%3Aw@h1:26379/3;sentinel://:p%3Aw@h2:26380/3"
    options = found.transport_options()
    assert options["master_name"] == "cs" and options["sentinel_kwargs"]["password"] == "sp"
    assert options["sentinel_kwargs"]["socket_timeout"] > 0  # a dead Sentinel is skipped, not waited on
    assert celery_url("sentinel://h1/0") == (
        "sentinel://h1:26379/0",
        {"master_name": "mymaster", "sentinel_kwargs": ANY},
    )
    assert celery_url("redis://h:6379/1") == ("redis://h:6379/1", {})
