"""Run, batch and dispatch state in Redis (keys in ``workers.keys``)."""
