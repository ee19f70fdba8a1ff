"""``coursesync demo``: the whole pipeline on one machine, against the sandbox, no set-up.

It starts (or reuses) Redis, the sandbox of the provider APIs, a Celery worker and beat; syncs a
generated sample catalog to every provider at once (or one); shows progress; checks each run
ended exactly as the sample predicts; and stops everything it started. Which providers, and
how each is pointed at the sandbox, is the ``demo`` of each provider's registration.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import httpx

from coursesync.sample import sample_items, write_sample
from coursesync.stack import Stack
from workers.errors import ConfigError
from workers.providers.installed import get_mapper, plugins
from workers.providers.plugin import Demo

__all__ = ["DEMO_SECRETS", "PROVIDERS", "demo_config", "run_demo"]


def _demos() -> dict[str, Demo]:
    """provider -> how the demo runs it: every installed provider whose registration has a demo."""
    return {name: plugin.demo for name, plugin in plugins().items() if plugin.demo is not None}


#: provider -> the demo's connection name.
PROVIDERS = {name: demo.connection for name, demo in _demos().items()}
#: The sandbox's default credentials, handed to the workers through the environment only.
DEMO_SECRETS = {key: value for demo in _demos().values() for key, value in demo.secrets.items()}
#: The sandbox (an HTTP asset store among its fakes) is on loopback, where customers' URLs may
#: not go by default (``workers.outbound``).
_DEMO_ENV = {"COURSESYNC_OUTBOUND_ALLOW": "loopback"}
#: The sandbox enforces each provider's documented limits; coursesync paces to them.
SANDBOX_ARGS = [arg for demo in _demos().values() for arg in demo.sandbox_args]


def demo_config(sandbox_url: str) -> str:
    """A connections file pointing every provider at the sandbox."""
    tables = "\n".join(demo.table(sandbox_url) for demo in _demos().values())
    return f"# Written by `coursesync demo`: every connection points at the local sandbox.\n{tables}"


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def expected_counts(provider: str, n: int) -> dict[str, int]:
    """What a sync of the sample must end with at ``provider``: items its mapping cannot take are
    invalid too, and the sandbox's LMS rejects valid items whose URL host does not resolve."""
    from producers.prepare import Prepared, prepare
    from producers.readers import Record

    records, _ = sample_items(n)
    mapper = get_mapper(provider)
    counts = {"total": n, "invalid": 0, "failed": 0, "succeeded": 0}
    # The mapping sees the demo connection's own settings (360Learning's default_subjects...).
    options = tomllib.loads(demo_config("http://sandbox"))["connections"][PROVIDERS[provider]]
    for position, raw in enumerate(records, start=1):
        rec = Record(position, error="malformed JSON") if isinstance(raw, str) else Record(position, raw)
        if not isinstance(prepare(rec, mapper, options), Prepared):
            counts["invalid"] += 1
        elif str(raw["url"]).split("/")[2].endswith(".invalid"):
            counts["failed"] += 1
        else:
            counts["succeeded"] += 1
    return counts


def run_demo(
    *, items: int = 3000, keep: bool = False, providers: list[str] | None = None, serve: bool = False
) -> bool:
    """Run the demo; True when every run ended exactly as the sample predicts. ``serve`` keeps
    everything running afterwards (until Ctrl-C) so the API can be tried by hand."""
    chosen = providers or list(PROVIDERS)
    without = [p for p in chosen if p not in PROVIDERS]
    if without:
        known = ", ".join(PROVIDERS)
        raise ConfigError(f"provider {without[0]!r} has no demo in its registration; demos: {known}")
    # Sealing secrets in Redis needs a key; the demo's own, forgotten when it ends.
    stack = Stack(env={**DEMO_SECRETS, **_DEMO_ENV, "COURSESYNC_SECRET_KEY": secrets.token_hex(16)})
    started = time.monotonic()
    try:
        redis_url = stack.start_redis()
        _say(f"redis     {redis_url}" + (" (private, started for the demo)" if stack.private_redis else ""))
        sandbox_url = stack.start_sandbox(SANDBOX_ARGS)
        _say(f"sandbox   {sandbox_url} (fake Kombo, StackOne, 360Learning and Thought Industries APIs)")
        config = stack.workdir / "coursesync.toml"
        config.write_text(demo_config(sandbox_url))
        stack.env["COURSESYNC_CONFIG"] = str(config)
        stack.env["COURSESYNC_CATALOG_DIR"] = str(stack.workdir / "uploads")
        os.environ.update({"COURSESYNC_REDIS_URL": redis_url, **stack.env})
        from workers.config import get_settings

        get_settings.cache_clear()  # this process reads the demo's Redis and config from now on
        stack.start_worker(concurrency=4)
        stack.start_beat()
        _say(f"workers   1 worker (4 processes) + beat; logs and config in {stack.workdir}")
        api_url = stack.start_api()
        from api.tokens import create_token
        from workers.redis_client import get_redis

        token, _ = create_token(get_redis(), name="demo", scopes=["admin"], connections=["*"])
        _say(f"api       {api_url}/v1  token {token}\n"
             f"          (try: curl -H 'Authorization: Bearer {token}' {api_url}/v1/runs)\n"
             f"dashboard {api_url}/  (sign in with the token)")  # fmt: skip
        catalog = stack.workdir / "sample_catalog.jsonl"
        sample = write_sample(catalog, items)
        _say(f"catalog   {catalog}: {sample.total:,} items, {sample.invalid} of them invalid and "
             f"{sample.rejected} that the sandbox's LMS refuses\n")  # fmt: skip
        ok = _sync_all(catalog, chosen, items, started, api_url=api_url, token=token)
        if serve:
            _say(f"\nserving   the API, sandbox, worker and beat stay up until Ctrl-C:\n"
                 f"          curl -H 'Authorization: Bearer {token}' {api_url}/v1/runs\n"
                 f"          or open {api_url}/ and sign in with the token")  # fmt: skip
            with contextlib.suppress(KeyboardInterrupt):
                while True:
                    time.sleep(3600)
        return ok
    finally:
        stack.stop()
        if keep:
            _say(f"kept      {stack.workdir}")
        else:
            shutil.rmtree(stack.workdir, ignore_errors=True)


def _sync_all(
    catalog: Path, providers: list[str], items: int, started: float, *, api_url: str, token: str
) -> bool:
    """Each provider's run is started as an upstream system would: the catalog uploaded to the API."""
    from coursesync.report import summary
    from workers.ledger import item_errors
    from workers.redis_client import get_redis

    r = get_redis()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
    run_ids = {}
    for p in providers:
        with catalog.open("rb") as body:
            chunks = iter(lambda: body.read(1 << 20), b"")  # streamed, as a large catalog would be
            url = f"{api_url}/v1/connections/{PROVIDERS[p]}/runs"
            resp = httpx.post(url, params={"full": "true"}, content=chunks, headers=headers, timeout=120)
        resp.raise_for_status()
        run_ids[p] = resp.json()["run_id"]
    _say(f"started   {len(run_ids)} runs through POST /v1/connections/NAME/runs\n")
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
