"""The 360Learning integration a connection writes into: configured, or created once for the fleet.

A connection names its integration with ``integration_id``, or gives an ``integration`` table
(``external_platform``, ``group_id``, ``author_id``, optional API fields in snake_case) from
which coursesync creates it with ``POST /api/v2/integrations`` the first time it is needed. The
new id is kept in Redis (``keys.integration_id``, no TTL) and a lock makes one worker create it.
360Learning refuses a second integration for the same platform and group
(``duplicateExternalPlatform``) without saying which one exists, so the existing one is looked
up with ``GET /api/v2/integrations?externalPlatform[eq]=...`` (needs ``integrations:read``).

Storing a created id and forgetting one (360Learning says it is gone) each increment a
per-connection generation in the same transaction; ``workers.targets`` reads both with
``created_integration`` to tell which integration a run's digests belong to.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import httpx
import redis

from workers import keys
from workers.connections import Connection
from workers.errors import AuthError, ConfigError, ProviderRejected, ProviderUnavailable
from workers.providers.http import json_body
from workers.providers.learning360.single_flight import single_flight

__all__ = ["Integrations", "created_integration", "integration_body", "target_parts"]

#: Keys of the connection's ``integration`` table -> fields of 360Learning's BaseIntegrationDTO.
TABLE_FIELDS = {
    "external_platform": "externalPlatform",
    "group_id": "groupId",
    "author_id": "authorId",
    "default_completion": "defaultCompletion",
    "default_progress": "defaultProgress",
    "no_group_propagation": "noGroupPropagation",
    "external_platform_logo_url": "externalPlatformLogoUrl",
    "external_platform_unicolor_logo_url": "externalPlatformUnicolorLogoUrl",
}
REQUIRED = ("external_platform", "group_id", "author_id")
#: Pages of 100 integrations read at most while looking for an existing one.
MAX_LIST_PAGES = 50
_OBJECT_ID = re.compile(r"^[a-fA-F0-9]{24}$")

#: The provider's authenticated request: (method, path or URL, JSON body or None) -> 2xx response.
Call = Callable[[str, str, Any], httpx.Response]


def integration_body(connection: Connection) -> dict[str, Any]:
    """The ``POST /api/v2/integrations`` body of the connection's ``integration`` table."""
    where = f"connections.{connection.name}.integration"
    table = connection.option("integration")
    if not isinstance(table, dict):
        raise ConfigError(f"connection {connection.name!r}: set integration_id or an [{where}] table")
    problems = []
    missing = [k for k in REQUIRED if not table.get(k)]
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    unknown = sorted(set(table) - set(TABLE_FIELDS))
    if unknown:
        problems.append(f"unknown key(s) {unknown}; known: {sorted(TABLE_FIELDS)}")
    if problems:
        raise ConfigError(f"{where}: {'; '.join(problems)}")
    return {TABLE_FIELDS[k]: v for k, v in table.items()}


def created_integration(kv: redis.Redis, connection: str) -> tuple[str | None, int]:
    """The integration id coursesync created (or found) for ``connection``, None while there is
    none, and the generation: how many times such an id was stored or forgotten."""
    pipe = kv.pipeline(transaction=False)
    pipe.get(keys.integration_id(connection))
    pipe.get(keys.integration_generation(connection))
    found, generation = (v.decode() if isinstance(v, bytes) else v for v in pipe.execute())
    return found or None, int(generation or 0)


def target_parts(kv: redis.Redis, connection: Connection, parts: dict[str, str]) -> dict[str, str]:
    """The registration's ``target`` hook: without ``integration_id``, the target is the
    integration coursesync created (or found), else "none created yet" with the generation
    (``workers.targets`` says why both)."""
    if "integration_id" in parts:
        return parts
    created, generation = created_integration(kv, connection.name)
    if created:
        return {**parts, "integration_id": created}
    return {**parts, "integration": f"none created yet, generation {generation}"}


class Integrations:
    """The connection's integration id, resolved once per process."""

    def __init__(self, connection: Connection, kv: redis.Redis, call: Call, *, lock_s: float) -> None:
        self._conn = connection
        self._kv = kv
        self._call = call
        self._lock_s = lock_s
        self._id: str | None = None

    @property
    def created(self) -> bool:
        """True when coursesync creates the integration (no ``integration_id`` configured)."""
        return not self._conn.option("integration_id")

    def get(self) -> str:
        if self._id is None:
            configured = self._conn.option("integration_id")
            if configured:
                self._id = str(configured)
            else:
                self._id = single_flight(
                    self._kv,
                    keys.integration_lock(self._conn.name),
                    self._stored,
                    self._create,
                    lock_s=self._lock_s,
                    what="360Learning integration",
                    connection=self._conn.name,
                )
        return self._id

    def forget(self, integration_id: str) -> None:
        """360Learning no longer knows ``integration_id``: a created one is created again next time."""
        self._id = None
        if self.created and self._stored() == integration_id:
            self._change(None)

    def _stored(self) -> str | None:
        found = self._kv.get(keys.integration_id(self._conn.name))
        return (found.decode() if isinstance(found, bytes) else found) or None

    def _create(self) -> str:
        body = integration_body(self._conn)
        try:
            doc = json_body(self._call("POST", "/api/v2/integrations", body))
            integration_id = doc.get("_id") if isinstance(doc, dict) else None
        except ProviderRejected as exc:
            if exc.code != "duplicateExternalPlatform":
                raise
            integration_id = self._find(body, exc)
        if not isinstance(integration_id, str) or not _OBJECT_ID.match(integration_id):
            raise ProviderUnavailable(
                f"360Learning answered the integration creation without a valid _id ({integration_id!r})",
                provider="360learning",
                connection=self._conn.name,
            )
        self._change(integration_id)
        return integration_id

    def _change(self, integration_id: str | None) -> None:
        """Store (or with None, forget) the created id, and count the change: a run that starts
        with no integration known must not share digests with one that started before it."""
        pipe = self._kv.pipeline(transaction=True)
        if integration_id is None:
            pipe.delete(keys.integration_id(self._conn.name))
        else:
            pipe.set(keys.integration_id(self._conn.name), integration_id)
        pipe.incr(keys.integration_generation(self._conn.name))
        pipe.execute()

    def _find(self, body: dict[str, Any], duplicate: ProviderRejected) -> str:
        """The id of the integration of ``body``'s platform and group, which already exists."""
        platform, group = body["externalPlatform"], body["groupId"]
        target = "/api/v2/integrations?" + urlencode({"externalPlatform[eq]": platform})
        why = "it is not in the list of integrations"
        try:
            for _ in range(MAX_LIST_PAGES):
                response = self._call("GET", target, None)
                found = json_body(response)
                for doc in found if isinstance(found, list) else []:
                    if isinstance(doc, dict) and (doc.get("externalPlatform"), doc.get("groupId")) == (
                        platform,
                        group,
                    ):
                        return str(doc.get("_id"))
                target = response.links.get("next", {}).get("url") or ""
                if not target:
                    break
        except AuthError as exc:
            why = f"listing integrations was refused ({exc.message})"
        raise ProviderRejected(
            f"an integration for externalPlatform {platform!r} already exists in group {group!r} "
            f"(duplicateExternalPlatform) and coursesync cannot find its id: {why}; set integration_id "
            f"on connection {self._conn.name!r} to that integration's id",
            provider="360learning",
            connection=self._conn.name,
            status_code=duplicate.status_code,
            code=duplicate.code,
            url=duplicate.url,
        )
