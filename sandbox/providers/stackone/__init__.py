"""The fake StackOne: ``api`` (its routes) and ``store`` (the content it holds)."""

__all__: list[str] = []
