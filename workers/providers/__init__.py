"""Provider clients: one folder per provider (``kombo/``...) behind the small ``Provider`` protocol.

Each folder registers itself with one ``ProviderPlugin`` (``plugin``), found through the
``coursesync.providers`` entry-point group (``installed``); the shared pieces live here: the
protocol and its values (``base``), the HTTP boundary (``http``, ``deadline``, ``json_api``),
the ``Mapper`` type (``mapping``) and the per-process clients (``registry``).
"""

from workers.providers.base import (
    ItemResult,
    JobStatus,
    OutboundItem,
    Provider,
    Submission,
)

__all__ = ["ItemResult", "JobStatus", "OutboundItem", "Provider", "Submission"]
