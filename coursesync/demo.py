"""``coursesync demo``: the whole pipeline on one machine, against the sandbox, no set-up.

It starts (or reuses) Redis, the sandbox of all four provider APIs, a Celery worker and beat;
syncs a generated sample catalog to every provider at once (or one); shows progress; checks
each run ended exactly as the sample predicts; and stops everything it started.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from coursesync.sample import sample_items, write_sample
from coursesync.stack import Stack

__all__ = ["DEMO_SECRETS", "PROVIDERS", "demo_config", "run_demo"]

#: The sandbox's default credentials, handed to the workers through the environment only.
DEMO_SECRETS = {
    "COURSESYNC_DEMO_KOMBO_KEY": "sandbox-kombo-key",
    "COURSESYNC_DEMO_STACKONE_KEY": "sandbox-stackone-key",
    "COURSESYNC_DEMO_L360_CLIENT_ID": "sandbox-360-client",
    "COURSESYNC_DEMO_L360_CLIENT_SECRET": "sandbox-360-secret",
    "COURSESYNC_DEMO_TI_KEY": "ti_test_sandbox",
    # The sandbox's asset store is on loopback, where customers' URLs may not go by default.
    "COURSESYNC_OUTBOUND_ALLOW": "loopback",
}

#: provider -> the demo's connection name.
PROVIDERS = {
    "kombo": "demo-kombo",
    "stackone": "demo-stackone",
    "360learning": "demo-360",
    "thoughtindustries": "demo-ti",
}

#: The sandbox enforces each provider's documented limits; coursesync paces to them.
SANDBOX_ARGS = [
    "--kombo-pending-s", "1.5", "--kombo-rate-per-s", "20",
    "--stackone-rate-per-s", "16",
    "--l360-pending-s", "1.5", "--l360-write-rate-per-s", "10", "--l360-read-rate-per-s", "50",
    "--ti-pending-s", "1.5", "--ti-rate-per-s", "2",
]  # fmt: skip


def demo_config(sandbox_url: str) -> str:
    """A connections file pointing every provider at the sandbox."""
    return f"""\
# Written by `coursesync demo`: every connection points at the local sandbox.
[connections.demo-kombo]
provider = "kombo"
base_url = "{sandbox_url}/kombo/v1"
api_key = "env:COURSESYNC_DEMO_KOMBO_KEY"
integration_id = "sandbox:coursesync-demo"
batch_size = 250
requests_per_minute = 1200        # the sandbox allows 20/s; the fleet paces to exactly that

[connections.demo-stackone]
provider = "stackone"
base_url = "{sandbox_url}/stackone"
api_key = "env:COURSESYNC_DEMO_STACKONE_KEY"
account_id = "sandbox-account"
batch_size = 100

[connections.demo-360]
provider = "360learning"
base_url = "{sandbox_url}/360learning"
client_id = "env:COURSESYNC_DEMO_L360_CLIENT_ID"
client_secret = "env:COURSESYNC_DEMO_L360_CLIENT_SECRET"
batch_size = 500                  # more bulk operations than the 3 360Learning runs at once
default_subjects = ["General"]

[connections.demo-360.integration]  # created once by the fleet; its id is kept in Redis
external_platform = "coursesync-demo"
group_id = "5f1a2b3c4d5e6f7a8b9c0d1e"
author_id = "5f1a2b3c4d5e6f7a8b9c0d1f"

[connections.demo-ti]
provider = "thoughtindustries"
base_url = "{sandbox_url}/thoughtindustries"
api_key = "env:COURSESYNC_DEMO_TI_KEY"
content = "courseGroup/webinar"
asset_store = "{sandbox_url}/thoughtindustries/assets"
dry_run_first = true
"""


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def expected_counts(provider: str, n: int) -> dict[str, int]:
    """What a sync of the sample must end with at ``provider``: items its mapping cannot take are
    invalid too, and the sandbox's LMS rejects valid items whose URL host does not resolve."""
    from producers.prepare import Prepared, prepare
    from producers.readers import Record
    from schemas.mappers import get_mapper

    records, _ = sample_items(n)
    mapper = get_mapper(provider)
    counts = {"total": n, "invalid": 0, "failed": 0, "succeeded": 0}
    options = {"default_subjects": ["General"]}
    for position, raw in enumerate(records, start=1):
        rec = Record(position, error="malformed JSON") if isinstance(raw, str) else Record(position, raw)
        if not isinstance(prepare(rec, mapper, options), Prepared):
            counts["invalid"] += 1
        elif str(raw["url"]).split("/")[2].endswith(".invalid"):
            counts["failed"] += 1
        else:
            counts["succeeded"] += 1
    return counts


def run_demo(*, items: int = 3000, keep: bool = False, providers: list[str] | None = None) -> bool:
    """Run the demo; True when every run ended exactly as the sample predicts."""
    chosen = providers or list(PROVIDERS)
    stack = Stack(env=dict(DEMO_SECRETS))
    started = time.monotonic()
    try:
        redis_url = stack.start_redis()
        _say(f"redis     {redis_url}" + (" (private, started for the demo)" if stack.private_redis else ""))
        sandbox_url = stack.start_sandbox(SANDBOX_ARGS)
        _say(f"sandbox   {sandbox_url} (fake Kombo, StackOne, 360Learning and Thought Industries APIs)")
        config = stack.workdir / "coursesync.toml"
        config.write_text(demo_config(sandbox_url))
        stack.env["COURSESYNC_CONFIG"] = str(config)
        os.environ.update(
            {"COURSESYNC_REDIS_URL": redis_url, "COURSESYNC_CONFIG": str(config), **DEMO_SECRETS}
        )
        from workers.config import get_settings

        get_settings.cache_clear()  # this process reads the demo's Redis and config from now on
        stack.start_worker(concurrency=4)
        stack.start_beat()
        _say(f"workers   1 worker (4 processes) + beat; logs and config in {stack.workdir}")
        catalog = stack.workdir / "sample_catalog.jsonl"
        sample = write_sample(catalog, items)
        _say(f"catalog   {catalog}: {sample.total:,} items, {sample.invalid} of them invalid and "
             f"{sample.rejected} that the sandbox's LMS refuses\n")  # fmt: skip
        return _sync_all(catalog, chosen, items, started)
    finally:
        stack.stop()
        if keep:
            _say(f"kept      {stack.workdir}")
        else:
            shutil.rmtree(stack.workdir, ignore_errors=True)


def _sync_all(catalog: Path, providers: list[str], items: int, started: float) -> bool:
    from coursesync.report import summary
    from producers.sync import SyncOptions, start_run
    from workers.celery_app import send
    from workers.ledger import item_errors
    from workers.redis_client import get_redis

    r = get_redis()
    options = SyncOptions(full=True, trigger="demo")
    run_ids = {p: start_run(PROVIDERS[p], str(catalog), options, r=r, send=send) for p in providers}
    docs = _wait(r, run_ids)
    ok = True
    for provider, doc in docs.items():
        print(summary(doc, max_errors=3))
        rejected = [e for e in item_errors(r, doc["run_id"]) if e["stage"] == "provider"][:2]
        for e in rejected:
            print(f"    {e['item_id']} [provider/{e['code']}] {e['message']}")
        print()
        want = expected_counts(provider, items)
        got = {k: doc["counts"][k] for k in want}
        if got != want or doc["counts"]["pending"]:
            ok = False
            print(f"demo: {provider} ended NOT as expected: {got} instead of {want}\n")
    verdict = "every run ended exactly as expected" if ok else "some runs did NOT end as expected"
    took = time.monotonic() - started
    print(f"demo: {verdict} ({len(providers)} providers, {items:,} items each) in {took:.1f} s")
    return ok


def _wait(r: Any, run_ids: dict[str, str], timeout_s: float = 900.0) -> dict[str, dict[str, Any]]:
    """One progress line per provider until every run has ended."""
    from workers.ledger import FINAL_STATES, run_document

    deadline = time.monotonic() + timeout_s
    tty = sys.stderr.isatty()
    last = ""
    while True:
        docs = {p: run_document(r, run_id) or {} for p, run_id in run_ids.items()}
        parts = []
        for p, d in docs.items():
            c = d.get("counts", {})
            done = c.get("total", 0) - c.get("pending", 0)
            parts.append(
                f"{p} {done:,}/{c.get('total', 0):,}{' done' if d.get('state') in FINAL_STATES else ''}"
            )
        line = "  ".join(parts)
        if line != last:
            print(
                ("\r" + line + "\x1b[K") if tty else line,
                end="" if tty else "\n",
                file=sys.stderr,
                flush=True,
            )
            last = line
        if all(d.get("state") in FINAL_STATES for d in docs.values()) or time.monotonic() > deadline:
            if tty:
                print(file=sys.stderr)
            return docs
        time.sleep(0.5)
