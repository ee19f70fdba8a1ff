"""The fake Thought Industries: ``api`` (its routes), ``contract`` (its own reading of the docs, never the
client's assumptions), ``rows`` (the CSV asset's rows) and ``store`` (assets, imports, jobs)."""

__all__: list[str] = []
