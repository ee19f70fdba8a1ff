"""thoughtindustries."""

__all__: list[str] = []
