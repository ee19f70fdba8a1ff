"""Process settings: one frozen dataclass read from the environment once.

Every duration carries its unit in its name and is converted at the edge. Connection settings
(providers, credentials, schedules) are not here: they live in the TOML file read by
``workers.connections`` and in the connection store (``workers.connection_store``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Any

from workers.errors import ConfigError

__all__ = ["DEFAULT_REDIS_URL", "Settings", "get_settings"]

#: Where Redis is when nothing says otherwise (product.md).
DEFAULT_REDIS_URL = "redis://localhost:6379/0"

_ENV_PREFIX = "COURSESYNC_"


@dataclass(frozen=True)
class Settings:
    """Tunables of every coursesync process. Each field is read from ``COURSESYNC_<NAME>``."""

    #: Broker and home of all run/job state.
    redis_url: str = DEFAULT_REDIS_URL
    #: The connections file (product.md).
    config: str = "coursesync.toml"
    #: One provider HTTP request may take this long before it counts as a transient failure.
    provider_timeout_s: float = 30.0
    #: Redis broker redelivers an unacknowledged message after this long. Every task finishes
    #: well within it, and nothing uses a countdown near it (kombu #337).
    visibility_timeout_s: int = 900
    #: A batch handed to a worker is handed out again if not settled within this lease. Never
    #: shorter than the batch lock and the submit task's time limit (``workers.timing``).
    batch_lease_s: float = 120.0
    #: The longest wait a provider's hint (Retry-After, a reset header, a 429 body) may impose:
    #: a misread or hostile header must not park a batch, or through the limiter a whole
    #: connection, for days. Longer than any documented quota window (per minute).
    max_provider_wait_s: float = 900.0
    #: A batch that failed transiently this many times fails for good, with its last reason.
    max_attempts: int = 8
    #: Exponential backoff between attempts: base * 2**attempt, capped, full jitter.
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 300.0
    #: First status poll of a remote job this long after submission, then backing off to the max.
    poll_initial_delay_s: float = 2.0
    poll_max_interval_s: float = 60.0
    #: Jobs younger than this are polled every poll_initial_delay_s; older ones back off.
    poll_fast_phase_s: float = 60.0
    #: Poll a job when it is likely done, from its connection's past jobs of that size
    #: (``workers.ledger.durations``); off: the fixed schedule above.
    poll_learn_durations: bool = True
    #: A remote job not finished after this long fails with PLATFORM.TASK_TIMED_OUT-like reason.
    job_deadline_s: float = 24 * 3600.0
    #: How often beat runs the pump (deferred -> ready -> Celery) and the status sweep. Polls and
    #: retries wait for a tick, so it bounds their lateness; an idle tick costs under 1 ms of Redis.
    tick_interval_s: float = 0.5
    #: A batch refused as a whole for validation is halved until its bad items stand alone; one
    #: batch (and its halves) may cost at most this many extra requests doing so.
    split_max_extra_requests: int = 64
    #: A run whose producer shows no sign of life for this long is ended: the items it had not
    #: yet read are not sent (the next sync sends them), what it enqueued finishes normally.
    producer_silence_s: float = 60.0
    #: The producer shows a sign of life this often while it reads.
    producer_heartbeat_s: float = 5.0
    #: How often beat runs the doctor: open runs checked, stranded batches put back, silent
    #: producers' runs ended, unannounced run ends delivered.
    doctor_interval_s: float = 30.0
    #: Single-item changes from upstream (``producers.changes``) wait this long, per connection,
    #: to be sent together as one run: a stream of one-item changes costs bulk requests, not one
    #: request each. A connection's batch size of waiting changes is sent at once.
    changes_window_s: float = 2.0
    #: A prune that would deactivate more than this share of the catalog is refused unless forced.
    prune_max_fraction: float = 0.10
    #: Longest JSON Lines line, CSV record or ``.json`` array element read; a longer one is one
    #: invalid item, skipped unread. A parsed line takes up to ~30x its size in memory (16 MiB
    #: of ``{},`` measured 515 MiB), so 1 MiB bounds it near 35 MB, while a course at the schema's
    #: limits (a 100,000-character description, even as ``\uXXXX`` escapes: 600 KB) still fits.
    catalog_max_line_bytes: int = 1 << 20
    #: A catalog larger than this once decompressed stops its run: reading streams, so this bounds
    #: time, not memory. 16 GiB is 25 million items of the producer bench's 631 bytes (README:
    #: "thousands to millions"), about 20 minutes of reading; a stream that never ends stops there.
    catalog_max_bytes: int = 16 << 30
    #: A gzip stream that expands more than this stops its run (a decompression bomb). Catalogs
    #: measured 10-17x, 216x when every item repeats one 9 KB description; bombs sit near
    #: deflate's ceiling of 1032x (514x for a repeated small JSON line).
    catalog_max_gzip_ratio: int = 400
    #: Where `coursesync api` keeps an uploaded catalog until its producer has read it: a
    #: directory every worker can read (one volume shared by the api and worker containers).
    catalog_dir: str = "var/catalogs"
    #: The largest catalog upload the API accepts (bytes, compressed size as sent).
    api_max_upload_bytes: int = 8 << 30
    #: A POST repeated with the same ``Idempotency-Key`` within this long answers the first result.
    api_idempotency_ttl_s: int = 86400
    #: A run the API recorded waits this long for a worker to start reading its catalog (it may
    #: queue behind other catalogs) before the doctor ends it as never started.
    api_start_grace_s: float = 600.0
    #: Finished runs and their per-item outcomes are kept this long.
    run_retention_s: int = 30 * 86400
    #: Stored batch payloads expire after this long even if the batch never settles.
    batch_payload_ttl_s: int = 7 * 86400
    #: Logs as one JSON object per line instead of plain text.
    log_json: bool = False
    log_level: str = "INFO"
    #: What a customer's URL (catalog source, webhook, HTTP asset store) may reach besides public
    #: addresses: ``loopback``, ``private``, ``link-local`` and/or CIDR ranges, comma-separated
    #: (``workers.outbound``). Empty: public addresses only.
    outbound_allow: str = ""
    #: ``user:password`` (several: comma-separated) for `coursesync metrics`, in the format of
    #: Flower's FLOWER_BASIC_AUTH. Unset: the endpoint serves loopback only. Kept out of repr.
    metrics_auth: str = field(default="", repr=False)
    #: Every process looks for connection changes (the store's generation counter) at most this
    #: often: the per-batch lookup pays no Redis round trip, and a change is seen within it.
    connections_refresh_s: float = 1.0
    #: Seals the few secrets that must sit in Redis (``workers.sealing``): the same long random
    #: value for every process. Kept out of repr.
    secret_key: str = field(default="", repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every field from ``COURSESYNC_<FIELD>``; a malformed value is a ConfigError."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(_ENV_PREFIX + f.name.upper())
            if raw is None or raw == "":
                continue
            values[f.name] = _parse(f.name, f.type, raw)
        return cls(**values)


def _parse(name: str, type_name: object, raw: str) -> object:
    var = _ENV_PREFIX + name.upper()
    try:
        if type_name in ("float", float):
            value: object = float(raw)
        elif type_name in ("int", int):
            value = int(raw)
        elif type_name in ("bool", bool):
            lowered = raw.strip().lower()
            if lowered not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
                raise ValueError(raw)
            value = lowered in {"1", "true", "yes", "on"}
        else:
            value = raw
    except ValueError:
        raise ConfigError(f"{var}={raw!r} is not a valid {type_name}") from None
    if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
        raise ConfigError(f"{var}={raw!r} must not be negative")
    return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings.from_env()
