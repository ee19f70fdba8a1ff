"""coursesync workers: the Celery app (``celery -A workers worker``), tasks and provider clients.

``workers.app`` is created on first access, so importing a submodule (``workers.errors``)
does not configure Celery or read settings before the caller has set its environment.
"""

from __future__ import annotations

from typing import Any

__all__ = ["app"]


def __getattr__(name: str) -> Any:
    if name == "app":
        from workers.celery_app import app

        return app
    raise AttributeError(f"module 'workers' has no attribute {name!r}")
