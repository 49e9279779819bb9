"""The workers' Celery app on a busy machine: each pool process takes longer than Celery's 4 s default to load."""
from __future__ import annotations

import os
import time

from celery.signals import worker_process_init

from worker.celery_app import app  # noqa: F401 - `celery -A tests.slow_start` runs this app


@worker_process_init.connect
def _slow_load(**_kwargs) -> None:
    """As loading TensorFlow and exiftool does while other processes compete for the cores."""
    time.sleep(float(os.environ.get("SLOW_START_S", "6")))
