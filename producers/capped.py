"""What reading one catalog may cost: bytes in all, bytes per line, gzip's expansion.

A catalog comes from outside. Read naively, a 300 KB ``.jsonl.gz`` holding one long line grew
the producer to 1 GB. Three caps (``workers.config``) keep reading streaming and its memory
flat whatever a file holds:

- ``catalog_max_line_bytes``: a JSON Lines line, CSV record or ``.json`` array element longer
  than this is one invalid item; the readers skip the rest of it in bounded chunks
  (``bounded_lines`` here, ``producers.json_skip`` for arrays).
- ``catalog_max_bytes``: a catalog larger than this, decompressed, stops its run.
- ``catalog_max_gzip_ratio``: a gzip stream expanding more than this stops its run (a bomb).

The last two are ``capped_stream``, which ``producers.sources`` puts around every source, file
or URL; they raise ``CatalogError`` naming the cap and the setting that raises it.
"""

from __future__ import annotations

import gzip
import io
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

import orjson

from workers.config import Settings, get_settings
from workers.errors import CatalogError

__all__ = [
    "HEAD_BYTES",
    "LINE_SETTING",
    "CatalogCaps",
    "Oversized",
    "bounded_lines",
    "capped_stream",
    "line_cap",
    "sniff_id",
    "too_long",
]

#: The variables that raise each cap, named in every message a cap gives.
LINE_SETTING = "COURSESYNC_CATALOG_MAX_LINE_BYTES"
_SIZE_SETTING = "COURSESYNC_CATALOG_MAX_BYTES"
_RATIO_SETTING = "COURSESYNC_CATALOG_MAX_GZIP_RATIO"

_READ_BYTES = 1 << 16
#: Compressed bytes handed to the gzip decoder per read: the ratio is known to this grain, so a
#: bomb is stopped after at most ratio x 16 KiB of output.
_GZIP_READ_BYTES = 1 << 14
#: Below this much output no gzip stream is a danger, and a ratio over a few bytes is noise.
_RATIO_GRACE_BYTES = 1 << 20
#: Kept from the start of an oversized line or item: enough to name it by its id.
HEAD_BYTES = 4096


@dataclass(frozen=True, slots=True)
class CatalogCaps:
    """The three caps, in bytes and as a ratio (see ``workers.config.Settings``)."""

    max_line_bytes: int
    max_bytes: int
    max_gzip_ratio: float

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> CatalogCaps:
        s = settings or get_settings()
        return cls(s.catalog_max_line_bytes, s.catalog_max_bytes, s.catalog_max_gzip_ratio)


def line_cap(max_line_bytes: int | None) -> int:
    """The cap given, or the setting's."""
    return get_settings().catalog_max_line_bytes if max_line_bytes is None else max_line_bytes


def too_long(what: str, cap: int) -> str:
    """The reason an oversized line, record or item is invalid."""
    return f"{what} is longer than {cap:,} bytes ({LINE_SETTING}): skipped unread"


@dataclass(frozen=True, slots=True)
class Oversized:
    """A line longer than the cap: its first ``HEAD_BYTES`` (to name its item); the rest was
    read past in bounded chunks, never held."""

    head: bytes


def bounded_lines(stream: IO[bytes], max_line_bytes: int) -> Iterator[bytes | Oversized]:
    """The lines of ``stream`` with their ``\\n``, each at most ``max_line_bytes`` long without
    it; a longer line comes as ``Oversized``."""
    readline = stream.readline
    limit = max_line_bytes + 1
    while line := readline(limit):
        if len(line) < limit or line[-1] == 0x0A:
            yield line
            continue
        head = line[:HEAD_BYTES]
        del line  # the cap's worth of bytes: not kept while the rest is skipped
        while (rest := readline(_READ_BYTES)) and rest[-1] != 0x0A:
            pass
        yield Oversized(head)


#: An object whose first key is "id", with a JSON string value.
_FIRST_KEY_ID = re.compile(
    rb'\A(?:\xef\xbb\xbf)?[ \t\r\n]*\{[ \t\r\n]*"id"[ \t\r\n]*:[ \t\r\n]*("(?:[^"\\\x00-\x1f]|\\.){1,1024}")'
)


def sniff_id(head: bytes) -> str | None:
    """The id of the JSON object ``head`` begins, when "id" is its first key; else None.

    Only the first key is trusted: an "id" further on may belong to a nested object, and a
    wrong id is worse than none (pruning spares the ids it sees; without one it refuses).
    """
    m = _FIRST_KEY_ID.match(head)
    if m is None:
        return None
    try:
        value = orjson.loads(m.group(1))  # strict: no lone surrogates, valid UTF-8
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, str) and value.strip() else None


def capped_stream(raw: IO[bytes], *, gz: bool, caps: CatalogCaps | None = None) -> IO[bytes]:
    """``raw`` (gunzipped when ``gz``) as a buffered stream that raises ``CatalogError`` once it
    has given more than ``max_bytes``, or a gzip stream has expanded more than ``max_gzip_ratio``.

    gzip's errors pass through for the caller to name its source: ``EOFError`` (cut short) and
    ``BadGzipFile``, which ``zlib.error`` (corrupt data) becomes here, where it arises.
    """
    caps = caps or CatalogCaps.from_settings()
    counted = _Counted(raw, caps.max_bytes) if gz else None
    inner: IO[bytes] = gzip.GzipFile(fileobj=counted) if counted else raw  # type: ignore[assignment]
    return io.BufferedReader(_Capped(inner, counted, caps), _READ_BYTES)


class _Counted(io.RawIOBase):
    """The compressed input, counted, in reads of ``_GZIP_READ_BYTES``. Also capped: a stream of
    empty gzip members yields nothing to count downstream, however long it runs."""

    def __init__(self, raw: IO[bytes], max_bytes: int) -> None:
        self._raw, self._max_bytes = raw, max_bytes
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(min(len(buffer), _GZIP_READ_BYTES))
        self.count += len(data)
        if self.count > self._max_bytes:
            raise CatalogError(_larger_than(self._max_bytes))
        buffer[: len(data)] = data
        return len(data)


class _Capped(io.RawIOBase):
    def __init__(self, inner: IO[bytes], counted: _Counted | None, caps: CatalogCaps) -> None:
        self._inner, self._counted, self._caps = inner, counted, caps
        self._total = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        try:
            data = self._inner.read(len(buffer))
        except zlib.error as exc:
            raise gzip.BadGzipFile(f"corrupt compressed data ({exc})") from None
        self._total += len(data)
        if self._total > self._caps.max_bytes:
            raise CatalogError(_larger_than(self._caps.max_bytes))
        ratio = self._caps.max_gzip_ratio
        if self._counted is not None and self._total > max(_RATIO_GRACE_BYTES, ratio * self._counted.count):
            raise CatalogError(
                f"the gzip stream expands more than {ratio:g}-fold ({_RATIO_SETTING}): a "
                f"decompression bomb? Reading stopped after {self._total:,} bytes from "
                f"{self._counted.count:,} compressed"
            )
        buffer[: len(data)] = data
        return len(data)


def _larger_than(max_bytes: int) -> str:
    return f"the catalog is larger than {max_bytes:,} bytes ({_SIZE_SETTING}): reading stopped there"
