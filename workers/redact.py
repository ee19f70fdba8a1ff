"""One way to show a URL anywhere coursesync shows one: without the secrets it may carry.

A catalog URL may hold credentials (``https://user:pw@host/...``) or a signature in its query
string (a pre-signed S3 link: ``X-Amz-Signature=...``). Failure reasons, logs, run documents,
``status``/``runs``, webhook bodies and Flower all show URLs through ``redact_url`` (or
``redact_text`` for a message that may quote one): the user info becomes ``***``, every query
value becomes ``***`` (the names stay, they tell what was there), the fragment goes.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

__all__ = ["redact", "redact_text", "redact_url"]

_HIDDEN = "***"
#: A URL inside free text: a scheme, then anything up to whitespace or a closing quote/bracket.
_URL_IN_TEXT = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>)\]]+")


def redact_url(url: str) -> str:
    """``url`` with its user info and query values replaced by ``***`` and no fragment."""
    try:
        parts = urlsplit(url)
    except ValueError:  # not even a URL we can take apart: show none of it
        return _HIDDEN
    if not parts.scheme or not parts.netloc:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{_HIDDEN}@{netloc.rpartition('@')[2]}"
    query = "&".join(f"{name}={_HIDDEN}" for name, _ in parse_qsl(parts.query, keep_blank_values=True))
    if parts.query and not query:  # a query that is not name=value pairs: hide it whole
        query = _HIDDEN
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def redact_text(text: str) -> str:
    """``text`` with every URL in it redacted (an exception message quoting the URL...)."""
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)


def redact(value: Any) -> Any:
    """``value`` with every string inside it (lists, tuples, dicts) passed through ``redact_text``."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, list | tuple):
        return type(value)(redact(v) for v in value)
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    return value
