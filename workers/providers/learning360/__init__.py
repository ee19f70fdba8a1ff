"""learning360."""

__all__: list[str] = []
