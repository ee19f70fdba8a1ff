"""Providers are plugins: one registration each, found through one entry-point group, loaded lazily."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from schemas.course import validate_item
from schemas.providers import PROVIDER_GROUP, provider_names
from workers.errors import ConfigError
from workers.providers.installed import get_mapper, get_plugin, plugins
from workers.providers.plugin import ProviderPlugin

BUILT_IN = ("360learning", "kombo", "stackone", "thoughtindustries")
ROOT = Path(__file__).resolve().parents[2]


def test_the_four_built_in_providers_are_registered_through_the_entry_point_group() -> None:
    # Given coursesync's own pyproject.toml, when the group is read, then each is there once
    assert set(BUILT_IN) <= set(provider_names())
    assert list(provider_names()) == sorted(provider_names())
    for name in BUILT_IN:
        plugin = get_plugin(name)
        assert isinstance(plugin, ProviderPlugin) and plugin.name == name == plugin.spec.name


@pytest.mark.parametrize("name", BUILT_IN)
def test_each_registration_leads_to_its_client_its_mapping_and_its_hooks(name: str) -> None:
    plugin = get_plugin(name)
    assert callable(plugin.load_client())
    assert get_mapper(name).provider == name
    hook = plugin.load_target()
    assert hook is None or callable(hook)
    if plugin.demo is not None:
        assert f"[connections.{plugin.demo.connection}]" in plugin.demo.table("http://sandbox")


def test_an_unknown_provider_is_a_config_error_naming_the_installed_ones() -> None:
    with pytest.raises(ConfigError, match=r"no provider 'moodle' is installed; installed: .*kombo"):
        get_plugin("moodle")


def test_extra_keys_are_the_installed_provider_names() -> None:
    # Given an item with an extra for each installed provider, and one for no provider
    base = {"id": "c-1", "title": "T", "url": "https://a.example/c"}
    # Then the first loads, the second names the field and the providers
    assert not isinstance(validate_item({**base, "extra": {name: {} for name in plugins()}}), list)
    errors = validate_item({**base, "extra": {"moodle": {}}})
    assert isinstance(errors, list) and errors[0].field == "extra.moodle"
    assert "'moodle' is not a provider; use one of: " + ", ".join(provider_names()) == errors[0].message


def test_listing_and_validating_providers_loads_no_client_and_no_cryptography() -> None:
    # Given a fresh process that lists every provider, reads every spec and every mapping
    code = (
        "import sys\n"
        "from workers.providers.installed import plugins, get_mapper\n"
        "import workers.connections, producers.sync\n"
        "for name, plugin in plugins().items(): plugin.spec, get_mapper(name)\n"
        "loaded = [m for m in sys.modules if m.startswith('workers.providers.') and m.endswith('.client') or m == 'cryptography.fernet']\n"
        "print(loaded)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    # Then no client module and not cryptography's Fernet was imported
    assert out.stdout.strip() == "[]", out.stdout


def test_schemas_import_nothing_from_the_layers_above() -> None:
    above = ("workers", "producers", "coursesync", "sandbox")
    found = []
    for path in sorted((ROOT / "schemas").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            found += [f"{path.name}: {n}" for n in names if n.split(".")[0] in above]
    assert found == []


@pytest.mark.parametrize("name", BUILT_IN)
def test_each_provider_package_exports_its_registration_and_nothing_else(name: str) -> None:
    (entry,) = (e for e in entry_points(group=PROVIDER_GROUP) if e.name == name)
    module = importlib.import_module(entry.module)
    assert module.__name__.startswith("workers.providers.")
    assert module.__all__ == ["PLUGIN"] and module.PLUGIN is get_plugin(name)
