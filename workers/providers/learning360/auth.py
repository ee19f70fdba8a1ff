"""360Learning OAuth2 client-credentials tokens, shared by the whole fleet through Redis.

One token serves every worker of a connection until shortly before it expires: it is kept in
Redis under ``keys.oauth_token`` *encrypted* (Fernet, with a key derived by HKDF from the client
secret, the client id and the connection name), so Redis, its dumps and its replicas never hold
a usable token, and a worker without the secret cannot read it. A short lock makes a fleet that
needs a token at the same moment send one token request, not one per worker.
"""

from __future__ import annotations

import base64
import json
import math
import time
from typing import Any

import httpx
import redis
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from workers import keys
from workers.connections import Connection
from workers.errors import ProviderUnavailable
from workers.providers.http import dumps
from workers.providers.json_api import JsonApi
from workers.providers.learning360.errors import TOKEN_WORDS
from workers.providers.learning360.single_flight import single_flight

__all__ = ["TokenCache", "usable_lifetime_s"]

PROVIDER = "360learning"
TOKEN_PATH = "/api/v2/oauth2/token"  # noqa: S105 (a path, not a password)
#: A token is given up this long before 360Learning says it expires (clock skew, slow requests).
REFRESH_MARGIN_S = 60.0
_HKDF_SALT = b"coursesync/360learning/oauth-token/v1"


def usable_lifetime_s(expires_in_s: float) -> float:
    """Seconds a token is used: ``expires_in`` less a minute, or half of a very short lifetime."""
    return expires_in_s - REFRESH_MARGIN_S if expires_in_s > 2 * REFRESH_MARGIN_S else expires_in_s / 2


def _text(value: Any) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def _positive_finite(value: Any) -> bool:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return number and 0 < value < math.inf


class TokenCache:
    """The connection's access token: this process's copy, else Redis', else a new one."""

    def __init__(self, connection: Connection, http: httpx.Client, kv: redis.Redis) -> None:
        self._conn = connection
        self._api = JsonApi(http, PROVIDER, connection.name, TOKEN_WORDS)
        self._kv = kv
        self._fernet: Fernet | None = None
        self._memory: tuple[str, float] | None = None  # (token, usable until epoch s)
        timeout_s = http.timeout.read or 30.0
        #: Long enough for one token request to finish, short enough if its worker dies.
        self._lock_s = timeout_s + 5.0

    def get(self) -> str:
        """A token valid for at least ``REFRESH_MARGIN_S`` more seconds."""
        if self._memory is not None and self._memory[1] > time.time():
            return self._memory[0]
        return self._obtain(stale=None)

    def refresh(self, stale: str) -> str:
        """A token other than ``stale``, which 360Learning just refused (401)."""
        self._memory = None
        return self._obtain(stale)

    def _obtain(self, stale: str | None) -> str:
        def read() -> tuple[str, float] | None:
            found = self._read()
            return found if found is not None and found[0] != stale else None

        lock = keys.oauth_token_lock(self._conn.name)
        self._memory = single_flight(
            self._kv,
            lock,
            read,
            self._fetch,
            lock_s=self._lock_s,
            what="OAuth token",
            connection=self._conn.name,
        )
        return self._memory[0]

    def _cipher(self) -> Fernet:
        if self._fernet is None:
            info = f"{self._conn.name}\n{self._conn.secret('client_id')}".encode()
            hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=info)
            key = hkdf.derive(self._conn.secret("client_secret").encode())
            self._fernet = Fernet(base64.urlsafe_b64encode(key))
        return self._fernet

    def _read(self) -> tuple[str, float] | None:
        sealed = _text(self._kv.get(keys.oauth_token(self._conn.name)))
        if not sealed:
            return None
        try:
            doc = json.loads(self._cipher().decrypt(sealed.encode()))
        except (InvalidToken, ValueError):  # other credentials sealed it: ignore, replace
            return None
        if not isinstance(doc, dict) or doc.get("usable_until_s", 0) <= time.time():
            return None
        return str(doc["access_token"]), float(doc["usable_until_s"])

    def _fetch(self) -> tuple[str, float]:
        """``POST /api/v2/oauth2/token``; stores the sealed token for the fleet."""
        url = self._conn.base_url + TOKEN_PATH
        body = {
            "grant_type": "client_credentials",
            "client_id": self._conn.secret("client_id"),
            "client_secret": self._conn.secret("client_secret"),
        }
        doc = self._api.call("POST", url, body)
        token = doc.get("access_token") if isinstance(doc, dict) else None
        expires_in_s: Any = doc.get("expires_in") if isinstance(doc, dict) else None
        # A token that is no string, or a lifetime that is no finite positive number (inf, -1,
        # "3600"), cannot be kept safely: fetch again later rather than guess.
        if not isinstance(token, str) or not token or not _positive_finite(expires_in_s):
            raise ProviderUnavailable(
                "360Learning answered the token request without access_token/expires_in",
                provider=PROVIDER,
                connection=self._conn.name,
                url=url,
            )
        lifetime_s = usable_lifetime_s(float(expires_in_s))
        usable_until_s = time.time() + lifetime_s
        sealed = self._cipher().encrypt(dumps({"access_token": token, "usable_until_s": usable_until_s}))
        self._kv.set(keys.oauth_token(self._conn.name), sealed.decode(), px=max(1, int(lifetime_s * 1000)))
        return token, usable_until_s
