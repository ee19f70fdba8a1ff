"""The target of a connection: which remote place its digests and remote ids are about."""

from __future__ import annotations

import re
from typing import Any

import fakeredis
import httpx
import pytest

from workers.connections import Connection
from workers.errors import ConfigError
from workers.providers.installed import get_plugin
from workers.providers.learning360.integration import Integrations
from workers.targets import Target, current_target

BASE_OPTIONS: dict[str, dict[str, Any]] = {
    "kombo": {"api_key": "kombo-secret", "integration_id": "acme:HWUTwvyx2wLo"},
    "stackone": {"api_key": "stackone-secret", "account_id": "acme-account-1"},
    "360learning": {
        "client_id": "cid",
        "client_secret": "l360-secret",
        "integration_id": "64a1b2c3d4e5f6a7b8c9d0e1",
    },
    "thoughtindustries": {
        "api_key": "ti-secret",
        "content": "courseGroup/webinar",
        "asset_store": "file:///tmp/assets",
    },
}
#: The setting that names each provider's place, and another value for it.
PLACE = {
    "kombo": ("integration_id", "acme:other"),
    "stackone": ("account_id", "acme-account-2"),
    "360learning": ("integration_id", "64a1b2c3d4e5f6a7b8c9d0ff"),
    "thoughtindustries": ("content", "session/webinar"),
}
SECRETS = {
    "kombo": "api_key",
    "stackone": "api_key",
    "360learning": "client_secret",
    "thoughtindustries": "api_key",
}
GROUP = "5f0000000000000000000001"
TABLE = {"external_platform": "coursesync", "group_id": GROUP, "author_id": GROUP}


def conn(
    provider: str, base_url: str = "https://lms.example/api", name: str = "acme", **options: Any
) -> Connection:
    opts = {**BASE_OPTIONS[provider], **options}
    return Connection(name, provider, base_url, {k: v for k, v in opts.items() if v is not None}, None,
                      get_plugin(provider).spec)  # fmt: skip


def target(c: Connection) -> Target:
    return current_target(fakeredis.FakeRedis(decode_responses=True), c)


@pytest.mark.parametrize("provider", sorted(BASE_OPTIONS))
def test_each_provider_names_its_place_by_a_short_id_and_words(provider: str) -> None:
    found = target(conn(provider))
    key, _ = PLACE[provider]
    assert re.fullmatch(r"[0-9a-f]{16}", found.id)
    assert found.label == f"{provider} {key}={BASE_OPTIONS[provider][key]} at https://lms.example/api"
    # The same place gives the same id, run after run
    assert target(conn(provider)) == found


@pytest.mark.parametrize("provider", sorted(BASE_OPTIONS))
def test_the_id_changes_with_the_place_and_the_base_url(provider: str) -> None:
    key, other = PLACE[provider]
    first = target(conn(provider)).id
    assert target(conn(provider, **{key: other})).id != first
    assert target(conn(provider, base_url="https://lms.example/api2")).id != first
    assert target(conn(provider, base_url="https://eu.lms.example/api")).id != first


@pytest.mark.parametrize("provider", sorted(BASE_OPTIONS))
def test_a_secret_is_never_part_of_the_target(provider: str) -> None:
    secret_key = SECRETS[provider]
    first = target(conn(provider))
    # A new credential reaches the same place: the digests still hold
    assert target(conn(provider, **{secret_key: "rotated"})) == first
    # Credentials in the base URL are not part of it either, and never shown
    with_userinfo = target(conn(provider, base_url="https://user:pa55word@LMS.example/api/"))
    assert with_userinfo == first and "pa55word" not in with_userinfo.label
    assert BASE_OPTIONS[provider][secret_key] not in first.label


def test_two_connections_on_one_place_keep_separate_memories() -> None:
    # Pruning one must never deactivate what the other's catalog sent
    assert target(conn("kombo", name="catalog-a")).id != target(conn("kombo", name="catalog-b")).id


def test_a_target_setting_from_an_unset_environment_variable_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="KOMBO_INTEGRATION"):
        target(conn("kombo", integration_id="env:KOMBO_INTEGRATION"))


def test_a_target_setting_from_the_environment_names_the_value_it_holds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KOMBO_INTEGRATION", "acme:HWUTwvyx2wLo")
    assert target(conn("kombo", integration_id="env:KOMBO_INTEGRATION")) == target(conn("kombo"))


class Api360:
    """``POST /api/v2/integrations``: a new integration id each time."""

    def __init__(self) -> None:
        self.created = 0

    def __call__(self, method: str, path: str, body: Any) -> httpx.Response:
        assert (method, path) == ("POST", "/api/v2/integrations")
        self.created += 1
        return httpx.Response(201, json={"_id": f"{self.created:024x}"})


def test_a_recreated_360learning_integration_never_reuses_the_old_digests() -> None:
    kv = fakeredis.FakeRedis(decode_responses=True)
    c = conn("360learning", integration_id=None, integration=TABLE)
    integrations = Integrations(c, kv, Api360(), lock_s=1.0)
    # Given a connection whose integration coursesync creates: before it exists, one target
    before = current_target(kv, c)
    assert "none created yet" in before.label
    # When it is created, the target is that integration, as if it were configured
    first_id = integrations.get()
    first = current_target(kv, c)
    assert first != before and first == current_target(kv, conn("360learning", integration_id=first_id))
    # When 360Learning loses it and coursesync forgets it, runs until it is made again start empty
    integrations.forget(first_id)
    between = current_target(kv, c)
    assert between not in (before, first)
    # And the recreated integration is a target of its own
    second_id = integrations.get()
    second = current_target(kv, c)
    assert second_id != first_id and second not in (before, first, between)


def test_a_run_started_with_no_integration_never_shares_its_target_with_a_later_such_run() -> None:
    kv = fakeredis.FakeRedis(decode_responses=True)
    c = conn("360learning", integration_id=None, integration=TABLE)
    integrations = Integrations(c, kv, Api360(), lock_s=1.0)
    seen = {current_target(kv, c).id}
    for _ in range(3):
        created = integrations.get()
        seen.add(current_target(kv, c).id)
        integrations.forget(created)
        seen.add(current_target(kv, c).id)
    assert len(seen) == 7
