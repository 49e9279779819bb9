"""Celery task names: the only thing the web tier knows about the worker."""

ANALYZE = "deepfake.analyze"
