"""The dashboard with 10,000 runs and a run with 100,000 failed items: page load times, as ratios
to the same pages over 60 runs (a full first page of 50, as in the large case) and a run with 10
failed items, measured in the same process.

A private Redis is filled directly (run records through the ledger, item errors and their counts
by reason in pipelines: set-up, not measured), a real `coursesync api` (gunicorn, one worker)
serves it, and each page is timed twice: the API calls it makes (median of --repeat, over HTTP),
and, with --browser, the whole page in headless Chromium (navigation until its table is drawn).

    python -m bench dashboard [--runs 10000] [--failed 100000] [--repeat 15] [--no-browser]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from collections.abc import Callable
from typing import Any

import httpx
import redis

from bench.common import machine
from coursesync.redis_server import start_private_redis
from coursesync.stack import Stack

_CONFIG = """
[connections.{name}]
provider = "kombo"
base_url = "https://api.kombo.dev/v1"
api_key = "env:X"
integration_id = "b:{name}"
"""
#: Codes the filler spreads failures over; the last is rare (1 in 1,000), as a real outlier is.
_CODES = ("REMOTE.INPUT_INVALID", "REMOTE.DUPLICATE", "REMOTE.TIMEOUT", "REMOTE.RARE")
_RETENTION_S = 86400
#: Enough for a full first page of runs (50), so the baseline draws as many rows as the large case.
_BASELINE_RUNS = 60


def _fill(r: redis.Redis, connection: str, runs: int, failed: int) -> str:
    """``runs`` finished runs with a few failures each, then one run with ``failed`` failed items
    (the newest). Returns the big run's id."""
    from workers import keys, ledger
    from workers.ledger.reasons import queue_reasons
    from workers.metrics.timeline import count_settled

    for n in range(runs):
        run_id = ledger.new_run_id()
        ledger.create_run(r, run_id=run_id, connection=connection, provider="kombo", retention_s=_RETENTION_S)
        pipe = r.pipeline(transaction=False)
        state = "completed_with_errors" if n % 3 else "completed"
        pipe.hset(
            keys.run(run_id), mapping={"state": state, "c_total": 100, "c_succeeded": 97, "c_failed": 3}
        )
        errors = [{"stage": "provider", "code": _CODES[i % 3], "message": "refused"} for i in range(3)]
        queue_reasons(pipe, run_id, errors, _RETENTION_S)
        pipe.execute()
    big = ledger.new_run_id()
    ledger.create_run(r, run_id=big, connection=connection, provider="kombo", retention_s=_RETENTION_S)
    r.hset(
        keys.run(big),
        mapping={"state": "running", "c_total": failed * 2, "c_succeeded": failed, "c_failed": failed},
    )
    chunk = 10_000
    for start in range(0, failed, chunk):
        errors = [
            {"item_id": f"item-{i:07d}", "stage": "provider", "code": _CODES[3 if i % 1000 == 7 else i % 3],
             "message": f"the LMS refused item {i}"}
            for i in range(start, min(failed, start + chunk))
        ]  # fmt: skip
        pipe = r.pipeline(transaction=False)
        pipe.hset(keys.run_item_errors(big), mapping={e["item_id"]: json.dumps([e]) for e in errors})
        queue_reasons(pipe, big, errors, _RETENTION_S)
        pipe.execute()
    pipe = r.pipeline(transaction=False)
    now = time.time()
    for minute in range(240):  # four hours of a busy run, a batch every few seconds
        bucket_time = now - 240 * 60 + minute * 60
        with _clock(bucket_time):
            count_settled(pipe, big, succeeded=failed // 240, failed=failed // 240, retention_s=_RETENTION_S)
    pipe.execute()
    return big


class _clock:
    """time.time() answers ``at`` inside the block (the timeline buckets by the wall clock)."""

    def __init__(self, at: float) -> None:
        self.at, self.real = at, time.time

    def __enter__(self) -> None:
        time.time = lambda: self.at

    def __exit__(self, *exc: object) -> None:
        time.time = self.real


def _median_ms(call: Callable[[], Any], repeat: int) -> float:
    call()  # warm: connection pools, imports
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        call()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def _api_pages(client: httpx.Client, big: str) -> dict[str, Callable[[], Any]]:
    def get(path: str, **params: Any) -> Callable[[], Any]:
        def call() -> Any:
            resp = client.get(path, params=params)
            resp.raise_for_status()
            return resp.json()

        return call

    def rare_first_page() -> None:  # follows cursors until the first item of the rare reason
        cursor = None
        while True:
            page = get(
                f"/v1/runs/{big}/items", code=_CODES[3], limit=25, **({"cursor": cursor} if cursor else {})
            )()
            if page["items"] or not page["next_cursor"]:
                return
            cursor = page["next_cursor"]

    return {
        "runs: newest 50": get("/v1/runs", limit=50),
        "runs: filtered by state (rare)": get("/v1/runs", limit=50, state="failed"),
        "run: document": get(f"/v1/runs/{big}"),
        "run: timeline": get(f"/v1/runs/{big}/timeline"),
        "run: failed items, first page": get(f"/v1/runs/{big}/items", limit=25),
        "run: items of a rare reason": rare_first_page,
        "failures: by reason, 7 days": get("/v1/failures"),
    }


def _browser_pages(base: str, token: str, big: str, repeat: int) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    path = shutil.which("chromium")
    if path is None:
        print("  (no chromium: page loads in a browser not measured; apt-get install chromium)")
        return {}
    pages = {
        "page: runs": ("#/runs", "[role=progressbar]"),
        "page: the big run": (f"#/runs/{big}", "#items-title ~ .table-wrap tbody tr"),
        "page: failures": ("#/failures", "tbody tr td code"),
    }
    found = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path)
        context = browser.new_context()
        context.add_init_script(f"sessionStorage.setItem('coursesync.token', {json.dumps(token)})")
        page = context.new_page()
        for name, (fragment, selector) in pages.items():

            def load(fragment: str = fragment, selector: str = selector) -> None:
                page.goto("about:blank")
                page.goto(f"{base}/{fragment}")
                page.wait_for_selector(selector, timeout=60_000)

            found[name] = _median_ms(load, max(3, repeat // 3))
        browser.close()
    return found


def _measure(base: str, token: str, big: str, repeat: int, browser: bool) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        found = {name: _median_ms(call, repeat) for name, call in _api_pages(client, big).items()}
    if browser:
        found.update(_browser_pages(base, token, big, repeat))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10_000, help="runs in the large case (default 10,000)")
    parser.add_argument(
        "--failed", type=int, default=100_000, help="failed items of the big run (default 100,000)"
    )
    parser.add_argument("--repeat", type=int, default=15, help="timings per API call (median)")
    parser.add_argument("--no-browser", action="store_true", help="time the API calls only")
    args = parser.parse_args(argv)
    private = start_private_redis()
    try:
        with Stack(redis_url=private.url) as stack:
            config = stack.workdir / "coursesync.toml"
            config.write_text(_CONFIG.format(name="small") + _CONFIG.format(name="large"))
            stack.env.update({"COURSESYNC_CONFIG": str(config), "COURSESYNC_LOG_LEVEL": "WARNING",
                              "COURSESYNC_SECRET_KEY": "bench"})  # fmt: skip
            stack.start_redis()
            base = stack.start_api(workers=1)
            r = redis.Redis.from_url(private.url, decode_responses=True)
            from api.tokens import create_token

            small_token = create_token(r, name="small", scopes=["read"], connections=["small"])[0]
            large_token = create_token(r, name="large", scopes=["read"], connections=["large"])[0]
            t0 = time.perf_counter()
            small_big = _fill(r, "small", _BASELINE_RUNS, 10)
            baseline = _measure(base, small_token, small_big, args.repeat, not args.no_browser)
            large_big = _fill(r, "large", args.runs, args.failed)
            fill_s = time.perf_counter() - t0
            memory_mb = int(r.info("memory")["used_memory"]) / 1e6
            large = _measure(base, large_token, large_big, args.repeat, not args.no_browser)
    finally:
        private.stop()
    print(f"machine: {machine()}")
    print(f"dashboard: {args.runs:,} runs + one run with {args.failed:,} failed items "
          f"(filled in {fill_s:.0f} s, Redis {memory_mb:.0f} MB) vs {_BASELINE_RUNS} runs + one with 10 failed items")  # fmt: skip
    print(f"  {'what':<34} {'baseline ms':>12} {'large ms':>10} {'ratio':>7}")
    for name, ms in large.items():
        base_ms = baseline.get(name, float("nan"))
        print(f"  {name:<34} {base_ms:>12.1f} {ms:>10.1f} {ms / base_ms:>7.2f}")
    return 0
