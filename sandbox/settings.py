"""The sandbox's knobs: set by CLI flags at start, changed at run time by ``POST /_sandbox/config``.

Durations end in ``_s`` (seconds), rates in ``_per_s`` (requests per second) or ``_per_min``,
shares (``_rate``) are 0..1; ``_windows`` are lists of rate limits written "N/W" (N requests per W
seconds). Each field's ``help`` metadata is the text ``--help`` shows, so the docs live in one
place; a text setting with a fixed set of values lists them in ``CHOICES``.
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field, fields
from typing import Any, get_type_hints

from sandbox.limits.windows import ALGORITHMS, parse_window
from sandbox.providers.thoughtindustries.contract import INVALID_ROW_SHAPES

__all__ = ["CHOICES", "SandboxSettings"]

#: The values a text setting may take (the first is its default).
CHOICES: dict[str, tuple[str, ...]] = {
    "kombo_unknown_fields": ("refuse", "ignore"),
    "limiter": ALGORITHMS,
    "ti_invalid_rows_shape": INVALID_ROW_SHAPES,
}


def _knob(default: Any, help_text: str) -> Any:
    return field(default=default, metadata={"help": help_text})


@dataclass
class SandboxSettings:
    """Every behaviour of the fake providers that a test, the demo or a benchmark may change."""

    seed: int | None = _knob(None, "seed for the random fault injection, so a failing run can be replayed")
    # --- Kombo (providers.md §1)
    kombo_api_keys: tuple[str, ...] = _knob(("sandbox-kombo-key",), "API keys Kombo accepts as Bearer tokens")
    kombo_integrations: tuple[str, ...] = _knob(
        ("sandbox:coursesync-demo",), "integration ids Kombo knows (the X-Integration-Id header)"
    )
    kombo_pending_s: float = _knob(1.0, "seconds a Kombo bulk task stays PENDING before it is COMPLETED")
    kombo_max_items: int = _knob(1000, "most items one Kombo bulk request may carry (more: 400)")
    kombo_rate_per_s: float | None = _knob(
        None, "Kombo requests per second per API key, polls included, before 429 (default: unlimited)"
    )
    kombo_rate_burst: int | None = _knob(
        None,
        "size of the Kombo token bucket (default: one second's worth of --kombo-rate-per-s); "
        "token_bucket only",
    )
    kombo_windows: tuple[str, ...] | None = _knob(
        None,
        "more Kombo limits per API key, each N/W (N requests per W seconds), e.g. 300/60 (default: none)",
    )
    kombo_concurrency_limit: int = _knob(30, "Kombo POST actions in flight per integration before 429")
    kombo_task_fail_rate: float = _knob(
        0.0, "share (0..1) of Kombo bulk tasks that end FAILED with --kombo-task-fail-code, nothing done"
    )
    kombo_task_fail_marker: str | None = _knob(
        None, "Kombo bulk tasks with an item whose origin_id contains this text end FAILED (default: none)"
    )
    kombo_task_fail_first: int = _knob(
        0, "the first N Kombo bulk tasks made for each body end FAILED (a task that times out, then works)"
    )
    kombo_task_fail_code: str = _knob(
        "PLATFORM.TASK_TIMED_OUT", "error.code of a FAILED Kombo task, e.g. INTEGRATION.INACTIVE"
    )
    kombo_unknown_fields: str = _knob(
        "refuse",
        "refuse: an unknown field in an item or its course fails the whole request (400 naming "
        "the item), as Kombo's validation does; ignore: accept it",
    )
    # --- StackOne (sandbox/providers/stackone/)
    stackone_api_keys: tuple[str, ...] = _knob(
        ("sandbox-stackone-key",), "API keys StackOne accepts (the HTTP Basic user; the password is empty)"
    )
    stackone_accounts: tuple[str, ...] = _knob(
        ("sandbox-account",), "linked account ids StackOne knows (the x-account-id header; others: 404)"
    )
    stackone_suspended_accounts: tuple[str, ...] = _knob(
        ("sandbox-suspended-account",), "linked account ids that are suspended or disabled (answered 412)"
    )
    stackone_max_items: int = _knob(1000, "most items one StackOne batch may carry (more: 422)")
    stackone_rate_per_s: float | None = _knob(
        None, "StackOne requests/s per API key before 429 + Retry-After (real: 16.7; default: unlimited)"
    )
    stackone_windows: tuple[str, ...] | None = _knob(
        None, "more StackOne limits per API key, each N/W, e.g. 1000/60 (the documented one; default: none)"
    )
    # --- 360Learning (sandbox/providers/learning360/)
    l360_clients: tuple[str, ...] = _knob(
        ("sandbox-360-client:sandbox-360-secret",),
        "360Learning API credentials as CLIENT_ID:CLIENT_SECRET; each client is one company",
    )
    l360_token_ttl_s: float = _knob(3600.0, "lifetime of a 360Learning access token (expires_in), seconds")
    l360_scopes: tuple[str, ...] = _knob(
        ("integrations:read", "integrations:write", "integrations:bulk", "bulkOperations:read"),
        "OAuth scopes 360Learning tokens carry (a call needing another one: 403 invalid_scope)",
    )
    l360_group_ids: tuple[str, ...] = _knob(
        ("5f1a2b3c4d5e6f7a8b9c0d1e",), "360Learning group ids (ObjectIds) integrations may be created in"
    )
    l360_integration_ids: tuple[str, ...] = _knob(
        ("64a1b2c3d4e5f6a7b8c9d0e1",), "360Learning integrations that exist from the start (ObjectIds)"
    )
    l360_pending_s: float = _knob(
        1.0, "seconds a 360Learning bulk operation takes from pending through queued and running to completed"
    )
    l360_bulk_concurrency: int = _knob(
        3, "360Learning bulk operations not yet ended per company before 429 (concurrency limit reached)"
    )
    l360_write_rate_per_s: float | None = _knob(
        None, "360Learning writes (POST, PUT, DELETE) per second and company, then 429 (real: 10)"
    )
    l360_read_rate_per_s: float | None = _knob(
        None, "360Learning reads (GET) per second and company, then 429 (real: 50)"
    )
    l360_write_windows: tuple[str, ...] | None = _knob(
        None, "more 360Learning write limits per company, each N/W, e.g. 300/60 (default: none)"
    )
    l360_read_windows: tuple[str, ...] | None = _knob(
        None, "more 360Learning read limits per company, each N/W, e.g. 1500/60 (default: none)"
    )
    # --- Thought Industries (sandbox/providers/thoughtindustries/)
    ti_api_keys: tuple[str, ...] = _knob(
        ("ti_test_sandbox",), "API keys Thought Industries accepts as Bearer tokens"
    )
    ti_pending_s: float = _knob(1.0, "seconds a Thought Industries import job stays running before complete")
    ti_rate_per_s: float | None = _knob(
        None, "Thought Industries requests per second per API key, polls included, before 429 (default: none)"
    )
    ti_windows: tuple[str, ...] | None = _knob(
        None,
        "more Thought Industries plan limits per API key, each N/W, e.g. 600/60 100/10 for the "
        "Enterprise plan's 600/min with a burst of 100 (default: none)",
    )
    ti_course_management_per_min: int | None = _knob(
        None,
        "Thought Industries course-management requests (the bulk imports) per minute and API key, "
        "on top of the plan limits (documented: 60; default: none)",
    )
    ti_invalid_rows_shape: str = _knob(
        "flat",
        "shape of each invalidRows entry: flat (cells + error), nested ({row, error}), row_number "
        "({rowNumber, error}), line ({line, error}; header = line 1), id_field ({id, error}) or "
        "unattributable ({error} only)",
    )
    # --- every provider
    limiter: str = _knob(
        "token_bucket",
        "algorithm of every rate limit: token_bucket (a rate R is a bucket of --kombo-rate-burst or "
        "one second's worth of tokens refilled at R; N/W is N tokens refilled at N/W per second), "
        "fixed_window (N per aligned W seconds, reset at each boundary; R is R per 1 s, or "
        "floor(R) per floor(R)/R s when R is not whole) or sliding_window (never more than N in "
        "any W seconds); the limits of one key are enforced together, a refused request takes "
        "from none",
    )
    max_body_bytes: int = _knob(10_000_000, "largest request body accepted, in bytes (more: 413)")
    latency_s: float = _knob(0.0, "seconds added to every provider request (makes concurrency visible)")
    fail_rate_5xx: float = _knob(0.0, "share (0..1) of provider requests answered 503 before any work")
    fail_rate_429: float = _knob(0.0, "share (0..1) of provider requests answered 429 before any work")
    timeout_rate: float = _knob(
        0.0, "share (0..1) of provider requests that are processed but answered only after --timeout-sleep-s"
    )
    timeout_sleep_s: float = _knob(35.0, "how long such a 'timed out' answer is held back, in seconds")
    down_until_epoch_s: float | None = _knob(
        None, "Unix time until which every provider request gets 503 (a provider outage)"
    )
    mutate_rate: float = _knob(
        0.0,
        "share (0..1) of 2xx provider answers changed once, for fuzzing a client: a key dropped, a "
        "value of another type, a list wrapped or unwrapped, null, truncated JSON, entries duplicated, "
        "reordered or dropped, unknown keys, or garbage/huge/epoch-ms wait-hint headers; never a failure "
        "made a success (see sandbox/mutate.py); replayable with --seed; counted in /_sandbox/stats",
    )

    def __post_init__(self) -> None:
        problems = [p for f in fields(self) for p in _problems(f.name, getattr(self, f.name))]
        if problems:
            raise ValueError("; ".join(problems))

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial update atomically: every value is checked before any is set.

        Raises:
            ValueError: naming each unknown field, wrongly typed value or value out of range.
        """
        hints = _hints()
        problems: list[str] = []
        converted: dict[str, Any] = {}
        for name, value in changes.items():
            if name not in hints:
                problems.append(f"unknown setting {name!r} (known: {', '.join(hints)})")
                continue
            try:
                converted[name] = _convert(name, hints[name], value)
            except ValueError as exc:
                problems.append(str(exc))
                continue
            problems += _problems(name, converted[name])
        if problems:
            raise ValueError("; ".join(problems))
        for name, value in converted.items():
            setattr(self, name, value)

    def as_dict(self) -> dict[str, Any]:
        """The settings as JSON-able values (tuples become lists)."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self)}


def _hints() -> dict[str, Any]:
    hints = get_type_hints(SandboxSettings)
    return {f.name: hints[f.name] for f in fields(SandboxSettings)}


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _convert(name: str, hint: Any, value: Any) -> Any:
    """``value`` (parsed JSON) as the type ``hint`` names, or ValueError."""
    options = set(hint.__args__) if isinstance(hint, types.UnionType) else {hint}
    if value is None and type(None) in options:
        return None
    # bool is an int subclass, but `true` for a rate is a mistake worth reporting.
    if float in options and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if int in options and isinstance(value, int) and not isinstance(value, bool):
        return value
    if str in options and isinstance(value, str):
        return value
    strings = isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)
    if tuple[str, ...] in options and strings:
        return tuple(value)
    kinds = {
        int: "an integer",
        float: "a number",
        str: "a string",
        type(None): "null",
        tuple[str, ...]: "a list of strings",
    }
    expected = " or ".join(kinds[o] for o in kinds if o in options)
    raise ValueError(f"{name} must be {expected}, not {value!r}")


#: Settings that count something (items, requests, bytes): zero would make no sense.
_AT_LEAST_ONE = (
    "kombo_max_items",
    "kombo_rate_burst",
    "kombo_concurrency_limit",
    "max_body_bytes",
    "stackone_max_items",
    "l360_bulk_concurrency",
    "ti_course_management_per_min",
)


def _is_share(name: str) -> bool:
    return name.startswith("fail_rate_") or name.endswith("_rate")


_WINDOW_RULE = "be N/W (N requests per W seconds, both positive), e.g. 600/60"


def _problems(name: str, value: Any) -> list[str]:
    """Range checks for an already well-typed value; [] when it is fine."""
    if value is None:
        return []
    broken = (
        (_is_share(name) and not 0.0 <= value <= 1.0, "be between 0 and 1"),
        (name in CHOICES and value not in CHOICES[name], f"be one of {', '.join(CHOICES.get(name, ()))}"),
        (name.endswith("_s") and value < 0, "not be negative"),
        (name.endswith("_per_s") and value <= 0, "be positive (null = unlimited)"),
        (name in _AT_LEAST_ONE and value < 1, "be at least 1"),
        (isinstance(value, tuple) and not value, "not be empty"),
        (name.endswith("_windows") and not all(map(_is_window, value)), _WINDOW_RULE),
    )
    return [f"{name} must {rule}, not {value!r}" for failed, rule in broken if failed]


def _is_window(text: str) -> bool:
    try:
        parse_window(text)
    except ValueError:
        return False
    return True
