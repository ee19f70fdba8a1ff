"""Answer mutation for integration fuzzing: a share of 2xx answers comes back subtly broken.

With ``mutate_rate`` above 0, each 2xx provider answer is, with that probability, changed once,
by one of ``BODY_KINDS`` (its JSON) or ``HEADER_KINDS`` (its wait hints), drawn from a generator
seeded by ``seed`` so a failing run can be replayed. Every change is one a strict client can
detect (a key gone, a value of another type, a list wrapped or unwrapped, null, truncated
JSON, duplicated, reordered or extra entries, unknown keys, unreadable or far-off wait hints),
or a deletion that leaves an answer incomplete (a result entry gone: its item has no result).

None may turn a failure into a well-formed success claim. Values only ever change type (never
``"FAILED"`` into ``"SUCCEEDED"``), no list is ever emptied, and lists whose entries mean
something by position or by presence are ``PROTECTED``: StackOne's ``errors`` (an entry dropped
or moved would pin another item's errors, or none, on an item) and Thought Industries'
``invalidRows`` (a refused row dropped would read as accepted) are never shortened or reordered.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from typing import Any

from sandbox.http import Response

__all__ = ["BODY_KINDS", "HEADER_KINDS", "PROTECTED", "mutate"]

Path = tuple[Any, ...]
#: Per provider, paths ("*": any key) of lists that are never shortened or reordered.
PROTECTED: dict[str, tuple[Path, ...]] = {
    "stackone": (("errors",),),
    "thoughtindustries": (("data", "*", "invalidRows"),),
}
BODY_KINDS = (
    "drop_key", "retype", "wrap", "unwrap", "null", "truncate", "duplicate_entry", "reorder",
    "unknown_key", "drop_entry",
)  # fmt: skip
HEADER_KINDS = ("garbage_retry_after", "huge_retry_after", "reset_epoch_ms", "huge_reset")
#: Kinds that shorten or reorder a list.
_LIST_CUTS = frozenset({"unwrap", "reorder", "drop_entry"})
_GARBAGE = ("abc", "inf", "-inf", "nan", "1e400", "-5", "", "Wed, 99 Foo 2026 99:99:99 GMT", "0x1F")
_HUGE = ("99999999999", "1e300", "99999999999999999999999", "18446744073709551616")


def _nodes(doc: Any, path: Path = ()) -> list[tuple[Path, Any]]:
    """Every value of ``doc`` with its path, the root first."""
    found = [(path, doc)]
    children = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for key, value in children:
        found += _nodes(value, (*path, key))
    return found


def _protected(provider: str, path: Path) -> bool:
    for pattern in PROTECTED.get(provider, ()):
        if len(path) >= len(pattern) and all(p in ("*", k) for p, k in zip(pattern, path, strict=False)):
            return True
    return False


def _other_type(value: Any, rng: random.Random) -> Any:
    """A value of another JSON type than ``value`` (never the same type with a new value)."""
    options: list[Any] = ["sandbox-mutated", 7, 1.5, True, {"sandbox": "mutated"}, ["sandbox-mutated"]]
    same = [
        isinstance(value, str),
        isinstance(value, int) and not isinstance(value, bool),
        isinstance(value, float),
        isinstance(value, bool),
        isinstance(value, dict),
        isinstance(value, list),
    ]
    return rng.choice([o for o, is_same in zip(options, same, strict=True) if not is_same])


def _set(doc: Any, path: Path, value: Any) -> Any:
    if not path:
        return value
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return doc


def _edit(kind: str, doc: Any, provider: str, rng: random.Random) -> Any | None:
    """``doc`` changed by ``kind`` at a random eligible place, or None when there is none."""
    nodes = _nodes(doc)
    lists = [(p, v) for p, v in nodes if isinstance(v, list)]
    objects = [(p, v) for p, v in nodes if isinstance(v, dict)]
    if kind in _LIST_CUTS:
        lists = [(p, v) for p, v in lists if not _protected(provider, p)]
    in_place: dict[str, tuple[list[tuple[Path, Any]], Callable[[Any], None]]] = {
        "drop_key": ([o for o in objects if o[1]], lambda v: v.pop(rng.choice(list(v)))),
        "duplicate_entry": ([x for x in lists if x[1]], lambda v: _duplicate(v, rng.randrange(len(v)))),
        "reorder": ([x for x in lists if len(x[1]) > 1], lambda v: v.reverse()),
        "unknown_key": (objects, lambda v: v.update({f"sandbox_unknown_{rng.randrange(99)}": [1, None]})),
        "drop_entry": ([x for x in lists if len(x[1]) > 1], lambda v: v.pop(rng.randrange(len(v)))),
    }
    replaced: dict[str, tuple[list[tuple[Path, Any]], Callable[[Any], Any]]] = {
        "retype": (nodes, lambda v: _other_type(v, rng)),
        "wrap": (nodes, lambda v: [v]),
        # Never to an empty list: [] may claim "no errors at all" (StackOne).
        "unwrap": ([x for x in lists if x[1] and x[1][0] != []], lambda v: v[0]),
        "null": ([n for n in nodes if n[1] is not None], lambda v: None),
    }
    if kind in in_place:
        targets, change = in_place[kind]
        if not targets:
            return None
        change(rng.choice(targets)[1])
        return doc
    candidates, make = replaced[kind]
    if not candidates:
        return None
    path, value = rng.choice(candidates)
    return _set(doc, path, make(value))


def _duplicate(entries: list[Any], i: int) -> None:
    entries.insert(i, json.loads(json.dumps(entries[i])))  # a copy: later edits touch one only


def _headers(kind: str, response: Response, rng: random.Random) -> None:
    if kind == "garbage_retry_after":
        response.headers[rng.choice(("Retry-After", "retry-after-ms"))] = rng.choice(_GARBAGE)
    elif kind == "huge_retry_after":
        response.headers["Retry-After"] = rng.choice(_HUGE)
    elif kind == "reset_epoch_ms":  # a reset two seconds away, in epoch milliseconds
        reset_ms = str(int(time.time() * 1000) + 2000)
        response.headers.update({"ratelimit-reset": reset_ms, "X-RateLimit-Reset": reset_ms})
    else:
        response.headers[rng.choice(("ratelimit-reset", "X-RateLimit-Reset"))] = rng.choice(_HUGE)


def mutate(provider: str, response: Response, rng: random.Random) -> str | None:
    """Change ``response`` (a 2xx) once, in place; returns the kind applied, or None."""
    try:
        doc = json.loads(response.body) if response.body else None
    except ValueError:
        doc = None
    kinds = list(BODY_KINDS if response.body and doc is not None else ()) + list(HEADER_KINDS)
    rng.shuffle(kinds)
    for kind in kinds:
        if kind in HEADER_KINDS:
            _headers(kind, response, rng)
            return kind
        if kind == "truncate":
            response.body = response.body[: rng.randrange(len(response.body))]
            return kind
        changed = _edit(kind, json.loads(response.body), provider, rng)
        if changed is not None:
            response.body = json.dumps(changed, separators=(",", ":")).encode()
            return kind
    return None
