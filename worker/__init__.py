"""The worker: Celery app, thin tasks, and the analysis pipeline as plain functions."""
