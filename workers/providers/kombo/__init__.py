"""kombo."""

__all__: list[str] = []
