"""The fake providers: one folder each, whose ``api`` module's ``API`` class serves it.

``api_classes`` lists them by reading this package's folders, so a new fake provider is one new
folder (``api.py`` with ``API``, its store, its contract) and nothing else to edit. Each class
builds on ``FakeApi``: a name, a URL prefix, the counters it reports in ``/_sandbox/stats`` and a
store of the remote objects it holds, kept in the sandbox's ``State`` until the next reset.
"""

from __future__ import annotations

import importlib
import pkgutil
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    from sandbox.http import Provider
    from sandbox.state import State

__all__ = ["FakeApi", "Store", "api_classes"]


class Store(Protocol):
    def held(self, now_s: float) -> list[str]:
        """Our item ids the fake LMS holds at ``now_s`` (epoch seconds)."""
        ...


S = TypeVar("S", bound=Store)


class FakeApi(Generic[S]):
    """What every fake provider shares (it implements ``sandbox.http.Provider`` but ``routes``
    and ``error``, which are the provider's own)."""

    name: str
    prefix: str
    #: Counters under ``name`` in ``/_sandbox/stats`` (besides ``distinct_ids``).
    counters: ClassVar[tuple[str, ...]] = ()

    def __init__(self, state: State) -> None:
        self.state = state
        state.declare(self.name, self.counters)

    def new_store(self) -> S:
        """An empty store of the provider's remote objects (after each reset)."""
        raise NotImplementedError

    @property
    def store(self) -> S:
        return self.state.store(self.name, self.new_store)

    def held(self) -> list[str]:
        return self.store.held(time.time())


def api_classes() -> list[Callable[[State], Provider]]:
    """The ``API`` class of every folder of this package, by folder name."""
    found = []
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module.ispkg:
            found.append(importlib.import_module(f"{__name__}.{module.name}.api").API)
    return found
