"""coursesync's upstream HTTP API (``/v1``): runs, item changes, connections, pause and tokens.

``create_app`` builds the Flask app; ``coursesync api`` serves it with gunicorn. The routes are
thin: they check the token, read the request through ``schemas.api`` and call the same plain
functions as the CLI (``producers.sync``, ``producers.changes``, ``workers.control``,
``workers.connection_store``, ``workers.ledger``).
"""

from api.app import create_app

__all__ = ["create_app"]
