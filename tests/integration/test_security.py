"""Secrets stay secret: a sync to all four providers leaves no credential in Redis, in broker
messages or in logs, and the sandbox refuses wrong credentials as the real APIs do.

Everything Redis is told during the syncs is recorded with ``MONITOR`` (so broker messages,
unacknowledged copies, events and result-backend writes are seen even if they are gone by the
end), every key left in Redis is read by type, and every log of the producer, the workers and
beat (JSON lines) is read. Each is searched for every secret and for the OAuth access token the
fleet obtained from 360Learning, through the layers that would hide one: zlib-compressed batch
payloads and base64 message bodies.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import contextlib
import json
import re
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from coursesync.demo import DEMO_SECRETS, PROVIDERS, demo_config, expected_counts
from coursesync.sample import write_sample
from tests.integration.conftest import Pipeline
from workers.connection_store import put_connection
from workers.ledger import item_errors
from workers.providers.learning360.auth import TokenCache
from workers.providers.registry import get_connection

pytestmark = pytest.mark.integration

N_ITEMS = 200
#: Credentials the sandbox does not accept, given to two more connections.
WRONG = {
    "COURSESYNC_WRONG_KOMBO_KEY": "wrong-kombo-key-7f3a9c",
    "COURSESYNC_WRONG_L360_SECRET": "wrong-360-secret-b81e",
}
#: Seals the webhook URL that carries credentials (a secret itself).
SECRET_KEY = "sealing-key-9d2c41e07b"
#: Every value a leak would reveal (client ids are identifiers, not secrets).
SECRETS = [v for k, v in {**DEMO_SECRETS, **WRONG}.items() if not k.endswith("CLIENT_ID")]


def config(sandbox_url: str) -> str:
    return (
        demo_config(sandbox_url)
        + f"""
[connections.wrong-kombo]
provider = "kombo"
base_url = "{sandbox_url}/kombo/v1"
api_key = "env:COURSESYNC_WRONG_KOMBO_KEY"
integration_id = "sandbox:coursesync-demo"

[connections.wrong-360]
provider = "360learning"
base_url = "{sandbox_url}/360learning"
client_id = "env:COURSESYNC_DEMO_L360_CLIENT_ID"
client_secret = "env:COURSESYNC_WRONG_L360_SECRET"
integration_id = "64a1b2c3d4e5f6a7b8c9d0e1"
"""
    )


class RedisRecorder:
    """Every command Redis executes, arguments as bytes, from ``MONITOR`` on its own thread."""

    _ARG = re.compile(rb'"((?:[^"\\]|\\.)*)"')

    def __init__(self, url: str) -> None:
        self.commands: list[list[bytes]] = []
        self._conn = redis.Redis.from_url(url).connection_pool.get_connection()
        self._conn.send_command("MONITOR")
        assert self._conn.read_response() in (b"OK", "OK")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                line = self._conn.read_response()
            except (redis.ConnectionError, OSError, ValueError):
                return
            raw = line if isinstance(line, bytes) else str(line).encode()
            # +1700000000.000000 [0 127.0.0.1:50000] "SET" "key" "value \x78\x9c ..."
            self.commands.append([codecs.escape_decode(a)[0] for a in self._ARG.findall(raw)])

    def stop(self) -> list[list[bytes]]:
        self._stop.set()
        self._conn.disconnect()
        self._thread.join(timeout=5)
        return self.commands


def redis_contents(r: redis.Redis) -> Iterator[bytes]:
    """Every key name and value left in Redis, read by type (Celery's lists and hashes too)."""
    for key in r.scan_iter(count=1000):
        yield key
        kind = r.type(key).decode()
        if kind == "none":
            continue  # it expired since the scan saw it (a lock, a rate-limit state)
        if kind == "string":
            yield r.get(key) or b""
        elif kind == "hash":
            for field, value in r.hgetall(key).items():
                yield field
                yield value
        elif kind == "list":
            yield from r.lrange(key, 0, -1)
        elif kind == "set":
            yield from r.smembers(key)
        elif kind == "zset":
            yield from r.zrange(key, 0, -1)
        else:
            raise AssertionError(f"no reader for {kind} key {key!r}")


_BASE64 = re.compile(r"[A-Za-z0-9+/=_-]{12,}")


def readable_forms(blob: bytes, depth: int = 0) -> Iterator[bytes]:
    """``blob`` and what it may hide: an inflated zlib payload, base64 strings inside JSON
    (Celery message bodies), recursively."""
    yield blob
    if depth >= 4:
        return
    if blob[:1] == b"\x78":
        with contextlib.suppress(zlib.error):
            yield from readable_forms(zlib.decompress(blob), depth + 1)
    try:
        doc = json.loads(blob)
    except (ValueError, UnicodeDecodeError):
        return
    for text in strings_in(doc):
        if _BASE64.fullmatch(text):
            try:
                decoded = base64.b64decode(
                    text + "=" * (-len(text) % 4), altchars=b"-_" if "-" in text else None
                )
            except (binascii.Error, ValueError):
                continue
            yield from readable_forms(decoded, depth + 1)


def strings_in(doc: Any) -> Iterator[str]:
    if isinstance(doc, str):
        yield doc
    elif isinstance(doc, dict):
        for k, v in doc.items():
            yield from strings_in(k)
            yield from strings_in(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from strings_in(v)


def leaks(blobs: Iterator[bytes], secrets: list[str]) -> list[str]:
    """Each secret found in any readable form of any blob, with where it was found."""
    needles = {s: (s.encode(), base64.b64encode(f"{s}:".encode())) for s in secrets}  # + HTTP Basic
    found = []
    for blob in blobs:
        for form in readable_forms(blob):
            for secret, (plain, basic) in needles.items():
                if plain in form or basic in form:
                    found.append(f"{secret[:6]}... in {form[:200]!r}")
    return found


@pytest.fixture(scope="module")
def pipeline(start_pipeline: Callable[..., Pipeline]) -> Pipeline:
    env = {**DEMO_SECRETS, **WRONG, "COURSESYNC_LOG_JSON": "1", "COURSESYNC_LOG_LEVEL": "DEBUG",
           "COURSESYNC_SECRET_KEY": SECRET_KEY}  # fmt: skip
    args = ["--kombo-pending-s", "0.5", "--l360-pending-s", "0.5", "--ti-pending-s", "0.5"]
    return start_pipeline(config, sandbox_args=args, workers=1, concurrency=4, env=env)


def cli(pipeline: Pipeline, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "coursesync.cli", *args],
        env={**pipeline.env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_no_secret_reaches_redis_broker_messages_or_logs(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given a sample catalog, and every Redis command being recorded
    r = pipeline.use(monkeypatch)
    catalog = tmp_path / "catalog.jsonl"
    write_sample(catalog, N_ITEMS)
    recorder = RedisRecorder(pipeline.env["COURSESYNC_REDIS_URL"])
    # And a connection created at runtime, its key given in plain text (sealed in the store)
    put_connection(r, "api-kombo", {"provider": "kombo", "base_url": f"{pipeline.stack.sandbox_url}/kombo/v1",
                                    "api_key": DEMO_SECRETS["COURSESYNC_DEMO_KOMBO_KEY"],
                                    "integration_id": "sandbox:coursesync-demo"})  # fmt: skip
    time.sleep(1.5)  # the workers' connections_refresh_s (1 s), and a margin
    # When it is synced to all four providers (one run started as upstreams do, through the
    # coursesync.sync_catalog task, so the result backend holds its answer), and to two
    # connections whose credentials are wrong
    from celery import Celery

    client = Celery(broker=pipeline.env["COURSESYNC_REDIS_URL"], backend=pipeline.env["COURSESYNC_REDIS_URL"])
    client.conf.task_default_queue = "coursesync"
    celery_run = client.send_task(
        "coursesync.sync_catalog", args=(PROVIDERS["thoughtindustries"], str(catalog))
    )
    producers = [
        cli(pipeline, "sync", PROVIDERS[p], str(catalog)) for p in ("kombo", "stackone", "360learning")
    ]
    producers += [cli(pipeline, "sync", name, str(catalog)) for name in ("wrong-kombo", "wrong-360")]
    # (--full: it shares demo-kombo's integration, whose run may have proved the items already)
    producers.append(cli(pipeline, "sync", "api-kombo", str(catalog), "--full"))
    run_ids = [p.stdout.strip() for p in producers]
    assert all(run_ids) and all(p.returncode == 0 for p in producers), [p.stderr[-500:] for p in producers]
    run_ids.insert(3, celery_run.get(timeout=60))
    client.close()
    docs = [pipeline.wait_for_run(r, run_id, timeout_s=120) for run_id in run_ids]
    # Then each provider's run ended exactly as the sample predicts...
    for provider, doc in zip(("kombo", "stackone", "360learning", "thoughtindustries"), docs, strict=False):
        want = expected_counts(provider, N_ITEMS)
        assert {k: doc["counts"][k] for k in want} == want, (provider, doc["errors"][:2])
    # ...the stored connection's run as the file's Kombo one, everything sent...
    want = expected_counts("kombo", N_ITEMS)
    assert {k: docs[6]["counts"][k] for k in want} == want, docs[6]["errors"][:2]
    # ...and the wrong credentials failed their runs with the provider's refusal
    for doc in docs[4:6]:
        assert doc["state"] == "failed"
        reasons = {e["message"] for e in item_errors(r, doc["run_id"]) if e["stage"] == "provider"}
        assert reasons and all("401" in m or "refused" in m or "invalid" in m.lower() for m in reasons), (
            reasons
        )
    # And the OAuth token the fleet shares is known (decrypted from Redis with the demo secret)
    token = TokenCache(get_connection(PROVIDERS["360learning"]), httpx.Client(), r).get()
    assert pipeline.sandbox("/_sandbox/stats")["360learning"]["tokens_issued"] == 1
    secrets = [*SECRETS, token]
    commands = recorder.stop()
    # Then no secret and no token was ever written to Redis or published through it...
    assert len(commands) > 1000 and any(c[:1] == [b"LPUSH"] for c in commands)  # broker messages seen
    assert not leaks((arg for c in commands for arg in c), secrets)
    # ...none is left in any key (run state, Celery's queues, unacked messages, results)...
    raw = redis.Redis.from_url(pipeline.env["COURSESYNC_REDIS_URL"])
    assert raw.exists(f"celery-task-meta-{celery_run.id}")
    assert not leaks(redis_contents(raw), secrets)
    # ...and none is in any log of the producers, the workers or beat
    logs = [(p.stdout + p.stderr).encode() for p in producers]
    logs += [path.read_bytes() for path in pipeline.stack.workdir.glob("*.log")]
    assert sum(line.startswith(b'{"ts"') for log in logs for line in log.splitlines()) > 100  # JSON logs
    assert not leaks(iter(logs), secrets)


def test_the_sandbox_refuses_wrong_credentials_like_each_provider(pipeline: Pipeline) -> None:
    base = pipeline.stack.sandbox_url
    wrong_basic = base64.b64encode(b"not-the-key:").decode()
    refused = {
        "kombo": httpx.get(f"{base}/kombo/v1/lms/courses", timeout=10,
                           headers={"Authorization": "Bearer not-the-key",
                                    "X-Integration-Id": "sandbox:coursesync-demo"}),
        "stackone": httpx.get(f"{base}/stackone/unified/lms/content", timeout=10,
                              headers={"Authorization": f"Basic {wrong_basic}", "x-account-id": "sandbox-account"}),
        "360learning token": httpx.post(f"{base}/360learning/api/v2/oauth2/token", timeout=10,
                                        json={"grant_type": "client_credentials", "client_id": "sandbox-360-client",
                                              "client_secret": "not-the-secret"}),
        "360learning API": httpx.get(f"{base}/360learning/api/v2/integrations", timeout=10,
                                     headers={"Authorization": "Bearer not-a-token", "360-api-version": "v2.0"}),
        "thoughtindustries": httpx.get(f"{base}/thoughtindustries/incoming/v2/jobs/1", timeout=10,
                                       headers={"Authorization": "Bearer not-the-key"}),
    }  # fmt: skip
    assert {name: resp.status_code for name, resp in refused.items()} == dict.fromkeys(refused, 401)
    assert refused["360learning token"].json() == {"error": "invalid_client"}
    assert refused["360learning API"].json() == {"error": "invalid_token"}
    assert refused["kombo"].json()["error"]["code"] == "PLATFORM.AUTHENTICATION_INVALID"
    # And without any credentials at all, too
    assert httpx.get(f"{base}/stackone/unified/lms/content", timeout=10).status_code == 401


class _CatalogServer(BaseHTTPRequestHandler):
    """A customer's catalog host: a signed link that is gone, a redirect to the cloud metadata
    service, a catalog behind basic auth; and a webhook receiver that keeps what it was sent."""

    received: list[bytes] = []  # noqa: RUF012 - one test, one server

    def do_GET(self) -> None:
        if self.path.startswith("/signed.jsonl"):
            self.send_response(404)
            self.end_headers()
        elif self.path.startswith("/moved.jsonl"):
            self.send_response(302)
            self.send_header(
                "Location", "http://169.254.169.254/latest/meta-data/iam?token=" + URL_SECRETS[2]
            )
            self.end_headers()
        else:
            ok = (
                self.headers.get("Authorization")
                == "Basic " + base64.b64encode(b"reader:" + URL_SECRETS[1].encode()).decode()
            )
            self.send_response(200 if ok else 401)
            self.end_headers()
            if ok:
                self.wfile.write(b'{"id": "s-1", "title": "T", "url": "https://learn.example/s-1"}\n')

    def do_POST(self) -> None:
        self.received.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


#: A signature, a password, a token in a redirect, a webhook's password and token.
URL_SECRETS = ["SIGabc123def456", "readerpw77", "REDIRTOKEN55", "HOOKPASS42", "HOOKTOKEN99"]


def test_failing_redirected_and_signed_urls_leave_no_secret_anywhere(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = pipeline.use(monkeypatch)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CatalogServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"127.0.0.1:{server.server_address[1]}"
    sources = [
        f"http://{base}/signed.jsonl?X-Amz-Signature={URL_SECRETS[0]}&X-Amz-Expires=60",
        f"http://reader:{URL_SECRETS[1]}@{base}/catalog.jsonl",
        f"http://{base}/moved.jsonl",
    ]
    webhook = f"http://hook:{URL_SECRETS[3]}@{base}/hook?token={URL_SECRETS[4]}"
    recorder = RedisRecorder(pipeline.env["COURSESYNC_REDIS_URL"])
    try:
        # When each is synced (through the command, with a webhook whose URL carries credentials)
        started = [cli(pipeline, "sync", PROVIDERS["kombo"], url, "--webhook", webhook) for url in sources]
        run_ids = [p.stdout.strip() for p in started]
        assert all(run_ids), [p.stderr[-300:] for p in started]
        docs = [pipeline.wait_for_run(r, run_id, timeout_s=60) for run_id in run_ids]
        # Then the signed link and the redirect failed with a reason, the catalog behind basic
        # auth was read, and every run's end reached the webhook (its URL kept sealed)
        assert [d["state"] for d in docs] == ["failed", "completed", "failed"], [
            d.get("reason") for d in docs
        ]
        assert "404" in docs[0]["reason"] and "169.254.169.254" in docs[2]["reason"]
        deadline = time.monotonic() + 30
        while len(_CatalogServer.received) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(_CatalogServer.received) == 3
        shown = [cli(pipeline, "status", run_id, "--json").stdout for run_id in run_ids]
        shown += [cli(pipeline, "runs", "--json").stdout, cli(pipeline, "status", run_ids[0]).stdout]
    finally:
        commands = recorder.stop()
        server.shutdown()
        server.server_close()
    secrets = [*URL_SECRETS, SECRET_KEY]
    # And no URL secret is in Redis (ever written, or left), a log, the webhook bodies or the output
    assert not leaks((arg for c in commands for arg in c), secrets)
    assert not leaks(redis_contents(redis.Redis.from_url(pipeline.env["COURSESYNC_REDIS_URL"])), secrets)
    logs = [(p.stdout + p.stderr).encode() for p in started]
    logs += [path.read_bytes() for path in pipeline.stack.workdir.glob("*.log")]
    assert not leaks(iter(logs), secrets)
    assert not leaks(iter(_CatalogServer.received), secrets)
    assert not leaks((s.encode() for s in shown), secrets)
    assert "X-Amz-Signature=***" in shown[0]
