"""Celery tasks: thin adapters that validate their message and call one plain function."""
