"""The fake Kombo: ``api`` (its routes), ``body`` (the checks of a request body), ``store``
(its tasks and courses)."""

__all__: list[str] = []
