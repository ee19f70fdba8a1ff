"""stackone."""

__all__: list[str] = []
