"""``coursesync demo``: the whole pipeline on one machine, against the sandbox, no set-up."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

from coursesync.sample import SampleCounts, write_sample
from coursesync.stack import Stack

__all__ = ["DEMO_SECRETS", "demo_config", "run_demo"]

#: The sandbox's default credentials, handed to the workers through the environment only.
DEMO_SECRETS = {"COURSESYNC_DEMO_KOMBO_KEY": "sandbox-kombo-key"}


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
# The sandbox allows 20 requests/s; coursesync paces the whole fleet to exactly that.
requests_per_minute = 1200
"""


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run_demo(*, items: int = 3000, keep: bool = False) -> bool:
    """Run the demo; True when every valid item succeeded and every count is as expected."""
    import os

    stack = Stack(env=dict(DEMO_SECRETS))
    started = time.monotonic()
    try:
        redis_url = stack.start_redis()
        _say(f"redis     {redis_url}" + (" (private, started for the demo)" if stack.private_redis else ""))
        sandbox_url = stack.start_sandbox(["--kombo-pending-s", "1.5", "--kombo-rate-per-s", "20"])
        _say(f"sandbox   {sandbox_url} (fake provider APIs)")
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
        _say(f"workers   1 worker (4 processes) + beat; logs in {stack.workdir}")
        catalog = stack.workdir / "sample_catalog.jsonl"
        expected = write_sample(catalog, items)
        _say(
            f"catalog   {catalog} ({expected.total:,} items: {expected.invalid} invalid, "
            f"{expected.rejected} that the sandbox LMS rejects)\n"
        )
        return _sync_and_check(catalog, expected, started)
    finally:
        stack.stop()
        if keep:
            _say(f"kept      {stack.workdir}")
        else:
            shutil.rmtree(stack.workdir, ignore_errors=True)


def _sync_and_check(catalog: Path, expected: SampleCounts, started: float) -> bool:
    from coursesync.cli import wait_and_report
    from producers.sync import SyncOptions, start_run
    from workers.redis_client import get_redis
    from workers.store.runs import run_document

    r = get_redis()
    run_id = start_run("demo-kombo", str(catalog), SyncOptions(full=True, trigger="demo"), r=r)
    print(f"run {run_id}", flush=True)
    wait_and_report(r, run_id, as_json=False, timeout_s=600)
    doc = run_document(r, run_id) or {}
    c = doc.get("counts", {})
    ok = bool(
        c.get("succeeded") == expected.succeeded
        and c.get("failed") == expected.rejected
        and c.get("invalid") == expected.invalid
        and c.get("pending") == 0
    )
    verdict = "as expected" if ok else "NOT as expected"
    print(
        f"\ndemo: {verdict}: {expected.succeeded:,} valid items should succeed, "
        f"{expected.rejected} be rejected by the LMS and {expected.invalid} be invalid; "
        f"took {time.monotonic() - started:.1f} s"
    )
    return ok
