"""Opening a catalog source: a file path or an http(s) URL, streamed, optionally gzipped."""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import IO, Any
from urllib.parse import urlsplit

import httpx

from producers.capped import CatalogCaps, capped_stream
from producers.readers import FORMATS, Record, read_csv, read_json_array, read_jsonl
from workers.config import Settings
from workers.errors import CatalogError
from workers.outbound import OutboundRefused, open_stream, outbound_policy
from workers.redact import redact_text, redact_url

__all__ = ["Source", "detect_format", "is_url", "open_source", "read_records", "records_of"]

_EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv"}
#: Downloading a catalog may take long; a stalled server may not.
_URL_TIMEOUT = httpx.Timeout(60.0, connect=10.0)


def is_url(source: str) -> bool:
    return urlsplit(source).scheme in ("http", "https")


def detect_format(name: str, explicit: str | None = None) -> str:
    """The catalog format from ``--format`` or the file extension (``.gz`` looked through)."""
    if explicit:
        if explicit not in FORMATS:
            raise CatalogError(f"unknown format {explicit!r}; use one of {', '.join(FORMATS)}")
        return explicit
    suffixes = [s.lower() for s in PurePosixPath(urlsplit(name).path if is_url(name) else name).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    fmt = _EXTENSIONS.get(suffixes[-1]) if suffixes else None
    if fmt is None:
        raise CatalogError(
            f"cannot tell the format of {name!r} from its extension; "
            "name it .jsonl, .ndjson, .json or .csv, or pass --format jsonl|json|csv"
        )
    return fmt


class _ChunkReader(io.RawIOBase):
    """A readable binary stream over an iterator of byte chunks (an HTTP response body)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._rest = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._rest:
            try:
                self._rest = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._rest))
        buffer[:n] = self._rest[:n]
        self._rest = self._rest[n:]
        return n


@contextmanager
def open_source(source: str, caps: CatalogCaps | None = None) -> Iterator[IO[bytes]]:
    """A binary stream of the catalog at ``source``, held to ``caps`` (default: the settings');
    errors name the source and the fix."""
    gz = source.lower().split("?")[0].endswith(".gz")
    if is_url(source):
        shown = redact_url(source)  # a catalog URL may carry credentials or a signature
        try:
            with open_stream(source, outbound_policy(), timeout=_URL_TIMEOUT) as resp:
                if resp.status_code >= 400:
                    raise CatalogError(f"catalog URL {shown} answered HTTP {resp.status_code}")
                raw: IO[bytes] = io.BufferedReader(_ChunkReader(resp.iter_bytes()), 1 << 16)
                yield capped_stream(raw, gz=gz, caps=caps)
        except OutboundRefused as exc:
            raise CatalogError(f"catalog URL refused: {exc}") from None
        except (gzip.BadGzipFile, EOFError) as exc:
            raise CatalogError(f"catalog URL {shown} is not valid gzip: {redact_text(str(exc))}") from None
        except httpx.HTTPError as exc:
            raise CatalogError(f"cannot download catalog {shown}: {redact_text(str(exc))}") from None
        return
    path = Path(source)
    if not path.exists():
        raise CatalogError(f"catalog file {source!r} not found")
    if not path.is_file():
        raise CatalogError(f"catalog {source!r} is not a file")
    try:
        with path.open("rb") as fh:
            yield capped_stream(fh, gz=gz, caps=caps)
    except PermissionError:
        raise CatalogError(f"catalog file {source!r} cannot be read: permission denied") from None
    except (gzip.BadGzipFile, EOFError) as exc:
        raise CatalogError(f"catalog file {source!r} is not valid gzip: {exc}") from None
    except OSError as exc:  # a read that fails midway: EIO from a bad disk or a vanished mount
        raise CatalogError(f"catalog file {source!r} cannot be read: {exc.strerror or exc}") from None


def read_records(stream: IO[bytes], fmt: str, max_line_bytes: int | None = None) -> Iterator[Record]:
    reader = {"jsonl": read_jsonl, "json": read_json_array, "csv": read_csv}[fmt]
    return reader(stream, max_line_bytes)


#: A catalog: a path, an http(s) URL, or the items themselves.
Source = str | Iterable[dict[str, Any]]


def records_of(source: Source, fmt: str | None, settings: Settings) -> Iterator[Record]:
    """The records of ``source``, streamed; ``fmt`` overrides the file extension."""
    if isinstance(source, str):
        fmt = detect_format(source, fmt)
        caps = CatalogCaps.from_settings(settings)
        with open_source(source, caps) as stream:
            yield from read_records(stream, fmt, caps.max_line_bytes)
    else:
        for index, data in enumerate(source, start=1):
            yield Record(index, data)
