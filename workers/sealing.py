"""Secrets coursesync must keep in Redis, sealed with a key only the processes know.

Most secrets never reach Redis (connections name them as ``env:`` or ``file:`` references,
read at use). A few must travel with a run, such as a ``--webhook`` URL that carries
credentials or a signed query string. Those are stored sealed (Fernet: AES-128-CBC with an
HMAC) under a key derived from ``COURSESYNC_SECRET_KEY``, which every worker must be given;
Redis, its dumps and its replicas only ever see ciphertext.
"""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING

from workers.config import get_settings
from workers.errors import ConfigError

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

__all__ = ["is_sealed", "seal", "unseal"]

_PREFIX = "sealed:v1:"


def _fernet() -> Fernet:
    # Imported here: most processes never seal anything, and cryptography is slow to load.
    from cryptography.fernet import Fernet

    key = get_settings().secret_key
    if not key:
        raise ConfigError(
            "COURSESYNC_SECRET_KEY is not set: coursesync needs it to keep a secret in Redis "
            "(give every worker the same long random value, e.g. `openssl rand -hex 32`)"
        )
    # Any string is accepted; SHA-256 turns it into the 32 bytes Fernet needs.
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest()))


def seal(text: str) -> str:
    """``text`` encrypted, as a string safe to store anywhere."""
    return _PREFIX + _fernet().encrypt(text.encode()).decode()


def is_sealed(value: str) -> bool:
    return value.startswith(_PREFIX)


def unseal(value: str) -> str:
    """The text ``seal`` sealed; a ConfigError if this process's key cannot open it."""
    if not is_sealed(value):
        return value
    from cryptography.fernet import InvalidToken

    try:
        return _fernet().decrypt(value[len(_PREFIX) :].encode()).decode()
    except InvalidToken:
        raise ConfigError(
            "a sealed secret cannot be opened with this process's COURSESYNC_SECRET_KEY: give every "
            "process the same key"
        ) from None
