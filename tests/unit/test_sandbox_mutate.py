"""The sandbox's answer-mutation mode: broken 2xx answers that never claim a success falsely.

Two layers: the mutator alone, run many times over answers that carry failures, checked with the
clients' own strict readers (a mutation may only take successes away); and the four clients
driven over HTTP against a sandbox that mutates a large share of its answers, where nothing may
escape the ``workers.errors`` tree and an item may be ``ok`` only if the sandbox accepted it.
"""

from __future__ import annotations

import contextlib
import copy
import json
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fakeredis
import httpx
import pytest

from sandbox import SandboxServer, SandboxSettings
from sandbox.cli import add_arguments
from sandbox.http import Response
from sandbox.mutate import BODY_KINDS, HEADER_KINDS, mutate
from workers.connections import Connection
from workers.errors import CoursesyncError
from workers.providers.base import ItemResult, OutboundItem, Provider
from workers.providers.installed import get_plugin
from workers.providers.kombo.client import KomboProvider
from workers.providers.learning360.client import Learning360Provider
from workers.providers.stackone.answers import batch_results
from workers.providers.stackone.client import StackOneProvider
from workers.providers.thoughtindustries.answers import data_object, read_rows
from workers.providers.thoughtindustries.client import ThoughtIndustriesProvider

SEEDS = range(400)


def items(*ids: str) -> list[OutboundItem]:
    return [OutboundItem(i, "d", {"externalId": i}) for i in ids]


def ok_ids(results: tuple[ItemResult, ...]) -> set[str]:
    return {r.item_id for r in results if r.ok}


def mutated(provider: str, doc: Any, seed: int) -> Response:
    response = Response(202, json.dumps(doc).encode(), {"Content-Type": "application/json"})
    mutate(provider, response, random.Random(seed))
    return response


# --- the mutator alone -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "errors", [[[], ["Missing field: title"], []], [["a", "b"], []], [[], []], [["x"]], [[], [], ["y"], []]]
)
def test_stackone_errors_never_lose_a_failure_by_mutation(errors: list[list[str]]) -> None:
    # Given a StackOne answer, and the items its strict reader accepts from it
    doc = {"statusCode": 202, "message": "Batch operation accepted", "timestamp": "t", "errors": errors}
    batch = items(*(f"i{n}" for n in range(len(errors))))
    accepted = ok_ids(batch_results(202, doc, batch))
    for seed in SEEDS:
        # When the sandbox mutates it, the same reader accepts no item it did not accept before
        response = mutated("stackone", copy.deepcopy(doc), seed)
        try:
            body = json.loads(response.body)
        except ValueError:
            continue
        with contextlib.suppress(ValueError):  # unreadable: the client says UnverifiedAnswer
            assert ok_ids(batch_results(202, body, batch)) <= accepted, (seed, body)


@pytest.mark.parametrize("shape", ["flat", "nested", "row_number", "id_field"])
def test_thought_industries_invalid_rows_are_never_dropped(shape: str) -> None:
    entries = {
        "flat": [{"externalId": "b", "error": "bad"}, {"externalId": "c", "error": "bad"}],
        "nested": [
            {"row": {"externalId": "b"}, "error": "bad"},
            {"row": {"externalId": "c"}, "error": "bad"},
        ],
        "row_number": [{"rowNumber": 2, "error": "bad"}, {"rowNumber": 3, "error": "bad"}],
        "id_field": [{"id": "b", "error": "bad"}, {"id": "c", "error": "bad"}],
    }[shape]
    key = "APIBulkCourseGroupWebinarImport"
    doc = {"data": {key: {"dryRun": True, "validRows": [{"externalId": "a"}], "invalidRows": entries}}}
    batch = items("a", "b", "c")
    for seed in SEEDS:
        response = mutated("thoughtindustries", copy.deepcopy(doc), seed)
        try:
            result = data_object(json.loads(response.body), key, "c", "the dry run")
            rows = read_rows(result, batch, "c")
        except (ValueError, CoursesyncError):
            continue  # unreadable: the client says UnverifiedAnswer
        # Rows that can go on to the import: never b or c (refused), unless nothing goes on
        going_on = set() if rows.unmatched else {i.id for i in batch} - set(rows.refused)
        assert going_on <= {"a"}, (seed, result)


def test_every_kind_can_happen_and_values_only_change_type() -> None:
    entries = [{"origin_id": "a", "status": "FAILED"}, {"origin_id": "b", "status": "FAILED"}]
    doc = {"status": "success", "data": {"status": "FAILED", "data": entries}}
    seen: set[str] = set()
    for seed in range(600):
        response = Response(200, json.dumps(doc).encode(), {})
        kind = mutate("kombo", response, random.Random(seed))
        assert kind is not None
        seen.add(kind)
        assert b'"SUCCEEDED"' not in response.body and b'"COMPLETED"' not in response.body
    assert seen == set(BODY_KINDS) | set(HEADER_KINDS)


def test_an_empty_body_gets_a_header_mutation() -> None:
    response = Response(202, b"", {"Location": "http://x/op/1"})
    assert mutate("360learning", response, random.Random(1)) in HEADER_KINDS
    assert response.headers["Location"] == "http://x/op/1"


def test_the_mode_is_documented_in_help() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    text = parser.format_help()
    assert "--mutate-rate" in text and "never a failure" in text


# --- the clients against a mutating sandbox, over HTTP ----------------------------------------


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    settings = SandboxSettings(
        seed=5,
        mutate_rate=0.6,
        kombo_pending_s=0.0,
        l360_pending_s=0.0,
        ti_pending_s=0.0,
        l360_group_ids=("5f1a2b3c4d5e6f7a8b9c0d1e",),
    )
    with SandboxServer(settings) as server:
        yield server


def connection(provider: str, base: str, tmp_path: Path) -> Connection:
    options: dict[str, dict[str, Any]] = {
        "kombo": {"api_key": "sandbox-kombo-key", "integration_id": "sandbox:coursesync-demo"},
        "stackone": {"api_key": "sandbox-stackone-key", "account_id": "sandbox-account"},
        "360learning": {
            "client_id": "sandbox-360-client",
            "client_secret": "sandbox-360-secret",
            "integration_id": "64a1b2c3d4e5f6a7b8c9d0e1",
        },
        "thoughtindustries": {
            "api_key": "ti_test_sandbox",
            "content": "courseGroup/webinar",
            "asset_store": f"file://{tmp_path}",
        },
    }
    prefix = {"kombo": "/kombo/v1"}.get(provider, "/" + provider)
    return Connection("fuzz", provider, base + prefix, options[provider], None, get_plugin(provider).spec)


def payload(provider: str, item_id: str, good: bool) -> dict[str, Any]:
    url = f"https://{'learn.example' if good else 'x.invalid'}/{item_id}"
    if provider == "kombo":
        return {"origin_id": item_id, "course": {"type": "EXTERNAL", "title": item_id, "course_url": url}}
    if provider == "stackone":
        return {"external_reference": item_id, "title": item_id, "content_url": url}
    if provider == "360learning":
        return {"externalId": item_id, "name": item_id, "defaultLang": "en", "launchUrl": url,
                "sources": [{"name": "fuzz"}], "subjects": ["s"]}  # fmt: skip
    return {"externalId": item_id, "title": item_id, "url": url}


CLIENTS: dict[str, type[Provider]] = {
    "kombo": KomboProvider,  # type: ignore[dict-item]
    "stackone": StackOneProvider,  # type: ignore[dict-item]
    "360learning": Learning360Provider,  # type: ignore[dict-item]
    "thoughtindustries": ThoughtIndustriesProvider,  # type: ignore[dict-item]
}


@pytest.mark.parametrize("name", list(CLIENTS))
def test_a_client_never_claims_a_success_the_sandbox_did_not_grant(
    sandbox: SandboxServer, tmp_path: Path, name: str
) -> None:
    conn = connection(name, sandbox.url, tmp_path)
    claimed: set[str] = set()
    errors = 0
    with httpx.Client(timeout=5) as http:
        client = CLIENTS[name](conn, http, fakeredis.FakeRedis(decode_responses=True))  # type: ignore[call-arg]
        for n in range(12):
            # Given a batch of two good items and one the sandbox refuses
            batch = [
                OutboundItem(f"{name}-{n}-{i}", "d", payload(name, f"{name}-{n}-{i}", i != 1))
                for i in range(3)
            ]
            try:
                # When it is sent and (if there is a job) polled to its end
                sub = client.submit("upsert", batch)
                results = list(sub.results)
                for _ in range(20):
                    if sub.job_ref is None:
                        break
                    status = client.poll(sub.job_ref)
                    if status.state != "pending":
                        results += status.results
                        break
                    time.sleep(0.01)
            except CoursesyncError:
                errors += 1  # the workers.errors tree: what a strict client may say
                continue
            claimed |= ok_ids(tuple(results))
    # Then no refused item was ever claimed, nothing foreign escaped, and mutations happened
    assert not {c for c in claimed if c.endswith("-1")}, claimed
    assert sandbox.state.stats()["mutated_answers"] > 0
    assert errors < 12 or name == "360learning"  # some batches still get through
