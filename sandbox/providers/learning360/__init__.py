"""The fake 360Learning: ``api`` (its routes) and ``store`` (tokens, integrations, bulk
operations, courses)."""

__all__: list[str] = []
