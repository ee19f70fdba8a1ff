"""The house's arrows point down: no import from a lower layer to a higher one, no package
cycle, the Celery app imported only by entry points, and a sandbox that shares nothing with the
clients but the providers' OpenAPI files.

The layers, top to bottom (README, "Architecture"), each a list of module names: ``a.b`` names
that module and everything under it, ``=a`` that module alone; a module belongs to the layer of
its longest matching name. Imports are read from the source (``ast``),
at module level and inside functions alike; ``if TYPE_CHECKING:`` imports are arrows too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("coursesync", "api", "producers", "workers", "schemas", "sandbox")

#: Top first. The same layer may import itself; lower layers never import higher ones.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "entry points",
        (
            "coursesync",
            "api",
            "=workers",  # the package itself: `celery -A workers` finds the app through it
            "workers.celery_app",
            "workers.tasks",
            "workers.broker",
            "workers.taskrepr",
            "workers.traces",
            "producers.tasks",
            "=producers",  # the package itself: sync_catalog() is the Python entry point
        ),
    ),
    ("producers", ("producers",)),
    (
        "worker flows",
        (
            "workers.submit",
            "workers.poller",
            "workers.dispatch",
            "workers.admission",
            "workers.doctor",
            "workers.catalog_files",
            "workers.control",
            "workers.scheduler",
            "workers.splitting",
            "workers.webhooks",
            "workers.health",
            "workers.deps",
            "workers.clients",
            "workers.metrics.collector",
            "workers.metrics.server",
            "workers.metrics.budgets",
        ),
    ),
    ("state owners", ("workers.ledger", "workers.ratelimit")),
    # A connection names its provider, and its provider's registration says what it may hold.
    (
        "providers and connections",
        (
            "workers.providers",
            "workers.targets",
            "workers.connections",
            "workers.entitlements",
            "workers.connection_store",
            "workers.schedules",
            "workers.quota",
        ),
    ),
    (
        "foundation",
        (
            "workers.config",
            "workers.errors",
            "workers.keys",
            "workers.lua",
            "workers.locks",
            "workers.logs",
            "workers.redis_client",
            "workers.redis_url",
            "workers.timing",
            "workers.crashpoints",
            "workers.ports",
            "workers.signals",
            "workers.retry",
            "workers.redact",
            "workers.sealing",
            "workers.outbound",
            "=workers.metrics",  # the package and its record module: cheap counters
            "workers.metrics.record",
            "workers.metrics.timeline",
        ),
    ),
    ("schemas", ("schemas",)),
]
#: The sandbox stands apart: written from the providers' documents, it may read the vendored
#: OpenAPI files (``schemas.vendored``) and nothing else of ours.
SANDBOX_MAY_IMPORT = ("sandbox", "schemas.vendored")
#: Modules allowed to import the Celery app (everything else is handed a ``ports.Send``).
CELERY_APP_IMPORTERS = ("coursesync", "=workers", "workers.celery_app", "workers.tasks", "=producers",
                        "producers.tasks")  # fmt: skip


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            found[_module_name(path)] = path
    return found


def _imports(name: str, path: Path) -> Iterator[str]:
    """Every module of ours ``name`` imports (``from a import b`` counts as ``a.b`` when that
    is a module, else ``a``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules() else base for a in node.names]
        else:
            continue
        yield from (t for t in targets if t.split(".")[0] in PACKAGES)


def _matches(module: str, name: str) -> bool:
    if name.startswith("="):
        return module == name[1:]
    return module == name or module.startswith(name + ".")


def _layer(module: str) -> int:
    best, layer = -1, -1
    for index, (_, names) in enumerate(LAYERS):
        for name in names:
            if _matches(module, name) and len(name.lstrip("=")) > best:
                best, layer = len(name.lstrip("=")), index
    assert layer >= 0, f"{module} belongs to no layer: add it to LAYERS"
    return layer


def _edges() -> Iterator[tuple[str, str]]:
    for name, path in modules().items():
        for target in _imports(name, path):
            if target != name:
                yield name, target


def test_no_module_imports_a_higher_layer() -> None:
    upward = []
    for source, target in _edges():
        if source.startswith("sandbox") or target.startswith("sandbox"):
            continue
        if _layer(target) < _layer(source):
            upward.append(f"{source} ({LAYERS[_layer(source)][0]}) -> {target} ({LAYERS[_layer(target)][0]})")
    assert upward == [], "\n".join(upward)


def test_the_packages_import_each_other_without_a_cycle() -> None:
    graph: dict[str, set[str]] = {p: set() for p in PACKAGES}
    for source, target in _edges():
        a, b = source.split(".")[0], target.split(".")[0]
        if a != b:
            graph[a].add(b)
    seen: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        if seen.get(node) == 1:
            raise AssertionError("package cycle: " + " -> ".join([*trail, node]))
        if seen.get(node) == 2:
            return
        seen[node] = 1
        for nxt in sorted(graph[node]):
            visit(nxt, [*trail, node])
        seen[node] = 2

    for package in PACKAGES:
        visit(package, [])


def test_only_entry_points_import_the_celery_app() -> None:
    offenders = [
        source
        for source, target in _edges()
        if target == "workers.celery_app" and not any(_matches(source, m) for m in CELERY_APP_IMPORTERS)
    ]
    assert offenders == [], offenders


def test_the_sandbox_shares_nothing_with_the_clients_but_the_openapi_files() -> None:
    borrowed = [
        f"{source} -> {target}"
        for source, target in _edges()
        if source.startswith("sandbox") and not any(_matches(target, m) for m in SANDBOX_MAY_IMPORT)
    ]
    assert borrowed == [], borrowed


def test_the_layers_name_every_module() -> None:
    for name in modules():
        if not name.startswith("sandbox"):
            _layer(name)
