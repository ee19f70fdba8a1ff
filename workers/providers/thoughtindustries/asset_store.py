"""Where a bulk import file is put before the provider is told its path (Thought Industries A1).

``asset_store`` is a connection setting: ``file:///dir`` writes into a local (or mounted)
directory the provider can read, and the asset path is the file's absolute path; an http(s)
URL prefix receives the file by ``PUT {prefix}/{name}``, and the asset path is that URL.

Names are derived from the connection and the file's content (``asset_name``), so a retried
batch writes the same name again: an overwrite with the same bytes, never a second file.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, unquote, urlsplit

import httpx

from workers.errors import AuthError, PermanentError, ProviderError, ProviderUnavailable
from workers.providers.json_api import ErrorWords, JsonApi

__all__ = ["AssetStore", "FileAssetStore", "HttpAssetStore", "asset_name", "open_asset_store"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class AssetStore(Protocol):
    def put(self, name: str, content: bytes) -> str:
        """Store ``content`` as ``name``; returns the asset path to hand to the provider."""
        ...


def asset_name(connection: str, content: bytes, suffix: str = ".csv") -> str:
    """``coursesync-<connection>-<sha256 of content, 32 hex>.csv``: same bytes, same name."""
    digest = hashlib.sha256(content).hexdigest()[:32]
    return f"coursesync-{_UNSAFE.sub('-', connection)[:64]}-{digest}{suffix}"


class FileAssetStore:
    """A directory; each asset is written to a temporary file, then renamed (atomic)."""

    def __init__(self, directory: Path, *, connection: str) -> None:
        self.directory = directory
        self._connection = connection

    def put(self, name: str, content: bytes) -> str:
        target = self.directory / name
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".upload-", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(content)
                    fh.flush()
                    os.fsync(fh.fileno())
                # mkstemp makes the file private (0600); the provider may read as another user.
                os.chmod(tmp, 0o644)
                # Readers never see a half-written asset: the name appears complete or not at all.
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except (PermissionError, NotADirectoryError, FileExistsError) as exc:
            raise PermanentError(
                f"cannot write the import file {str(target)!r}: {exc} "
                f"(connection {self._connection!r}: check asset_store)",
                connection=self._connection,
            ) from exc
        except OSError as exc:  # a full disk or a flaky mount may recover
            raise ProviderUnavailable(
                f"cannot write the import file {str(target)!r}: {exc}", connection=self._connection
            ) from exc
        return str(target.resolve())


class HttpAssetStore:
    """An http(s) URL prefix that accepts ``PUT {prefix}/{name}``.

    The provider's Bearer key is sent only when the prefix is on the provider's own host, so
    the key never leaks to a foreign storage service.
    """

    def __init__(
        self, prefix: str, http: httpx.Client, *, provider: str, connection: str, headers: dict[str, str]
    ) -> None:
        self.prefix = prefix.rstrip("/")
        self._api = JsonApi(http, provider, connection, _WORDS)
        self._connection = connection
        self._headers = headers

    def put(self, name: str, content: bytes) -> str:
        url = f"{self.prefix}/{quote(name)}"
        headers = {**self._headers, "Content-Type": "text/csv; charset=utf-8"}
        try:
            self._api.checked(self._api.exchange("PUT", url, headers=headers, content=content))
        except AuthError as exc:
            if not self._headers:
                exc.message += "; a foreign asset store gets no credentials from coursesync"
            raise
        return url


def _read(body: Any, response: httpx.Response) -> tuple[str | None, str]:
    message = body.get("message") if isinstance(body, dict) else None
    return None, f"the asset store refused the upload: {message or response.reason_phrase}"


def _hint(exc: ProviderError) -> str | None:
    return "check asset_store" if isinstance(exc, PermanentError) else None


_WORDS = ErrorWords(read=_read, hint=_hint)


def open_asset_store(
    url: str, http: httpx.Client, *, provider: str, connection: str, base_url: str, api_key: str
) -> AssetStore:
    """The store ``url`` names: ``file:///dir`` or an http(s) prefix (see module docstring)."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        directory = Path(unquote(parts.path))
        if parts.netloc not in ("", "localhost") or not directory.is_absolute():
            raise PermanentError(
                f"asset_store {url!r} is not a local absolute directory; use file:///absolute/dir",
                connection=connection,
            )
        return FileAssetStore(directory, connection=connection)
    if parts.scheme in ("http", "https") and parts.netloc:
        own = urlsplit(base_url)
        same_host = (parts.scheme, parts.netloc.lower()) == (own.scheme, own.netloc.lower())
        headers = {"Authorization": f"Bearer {api_key}"} if same_host else {}
        return HttpAssetStore(url, http, provider=provider, connection=connection, headers=headers)
    raise PermanentError(
        f"asset_store {url!r} is neither file:///dir nor an http(s) URL prefix", connection=connection
    )
