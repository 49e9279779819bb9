"""Thin Celery tasks: names, retries, time limits. The work is in worker.runner / worker.pipeline."""
from __future__ import annotations

from functools import lru_cache

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy.exc import OperationalError

from shared import tasks as names
from shared.settings import Settings
from worker import runner
from worker.pipeline import Resources


@lru_cache(maxsize=1)
def resources() -> Resources:
    """This process's model and exiftool (created on first use, i.e. after fork)."""
    return Resources(Settings.from_env())


@shared_task(name=names.ANALYZE, bind=True, acks_late=True, autoretry_for=(OperationalError,),
             retry_backoff=2, retry_backoff_max=60, retry_jitter=True, max_retries=8)
def analyze(self, analysis_id: str) -> str:
    """Analyse one stored upload by id."""
    res = resources()
    try:
        return runner.run_analysis(analysis_id, res)
    except SoftTimeLimitExceeded:
        runner.fail(analysis_id, res.settings,
                    f"the analysis took longer than the {res.settings.task_soft_time_limit} s limit")
        return "failed"
