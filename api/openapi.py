"""Write the API's OpenAPI document to ``api/openapi.json`` (committed; a test fails on drift).

./run python -m api.openapi          rewrite it after changing a route or a schema
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["COMMITTED", "build"]

COMMITTED = Path(__file__).with_name("openapi.json")


def build() -> dict[str, Any]:
    """The document as the served app answers it, built without Redis or a broker."""
    from api.app import create_app, openapi_document
    from workers.config import Settings

    app = create_app(None, Settings(), lambda *_: None)  # type: ignore[arg-type]
    return openapi_document(app.extensions["smorest_api"])


def main() -> int:
    COMMITTED.write_text(json.dumps(build(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {COMMITTED}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
