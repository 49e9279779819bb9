"""Thin Celery tasks: names, retries, time limits. The work is in worker.runner / worker.pipeline."""
from __future__ import annotations

from functools import lru_cache

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy.exc import OperationalError

from shared import outbox, tasks as names
from shared.models import Analysis, Batch
from shared.settings import Settings
from worker import lease, runner
from worker.pipeline import Resources


@lru_cache(maxsize=1)
def resources() -> Resources:
    """This process's model and exiftool (created on first use, i.e. after fork)."""
    return Resources(Settings.from_env())


def _notify(finished: list[runner.Finished], settings: Settings) -> None:
    """Close the batches this chunk completed; their webhooks enter the outbox in the same transaction.

    Single analyses' webhooks were written with their results; worker/dispatch.py sends them all.
    """
    batch_ids = {f.batch_id for f in finished if f.batch_id}
    if batch_ids:
        runner.close_finished_batches(settings, batch_ids)


def _run(ids: list[str]) -> list[str]:
    res = resources()
    owner = lease.new_owner()
    try:
        finished = runner.run_chunk(ids, res, owner)
    except SoftTimeLimitExceeded:  # the job's limit is TASK_SOFT_TIME_LIMIT per analysis (web.queue sets it)
        each, (soft, _) = res.settings.task_soft_time_limit, res.settings.job_time_limits(len(ids))
        reason = (f"the analysis took longer than the {each} s limit" if len(ids) == 1 else
                  f"this job of {len(ids)} analyses took longer than {soft} s ({each} s each)")
        finished = runner.fail(ids, res.settings, reason, owner)
    _notify(finished, res.settings)
    return [f.status for f in finished]


@shared_task(name=names.ANALYZE, acks_late=True, autoretry_for=(OperationalError,),
             retry_backoff=2, retry_backoff_max=60, retry_jitter=True, max_retries=8)
def analyze(analysis_id: str) -> list[str]:
    """Analyse one stored upload by id."""
    return _run([analysis_id])


@shared_task(name=names.ANALYZE_CHUNK, acks_late=True, autoretry_for=(OperationalError,),
             retry_backoff=2, retry_backoff_max=60, retry_jitter=True, max_retries=8)
def analyze_chunk(analysis_ids: list[str]) -> list[str]:
    """Analyse a chunk of a batch, the model running on all of its images at once."""
    return _run(list(analysis_ids))


@shared_task(name=names.DELIVER_WEBHOOK, acks_late=True, autoretry_for=(OperationalError,), retry_backoff=2,
             retry_backoff_max=60, max_retries=8)
def deliver_webhook(kind: str, object_id: str) -> None:
    """Jobs queued before the outbox existed: move them into it (once); the dispatcher sends them."""
    settings = resources().settings
    with runner.sessions(settings.database_url)() as session:
        obj = session.get(Batch if kind == "batch" else Analysis, object_id)
        if obj is not None and obj.callback_url and not outbox.already_queued(session, kind, object_id):
            outbox.add(session, kind, object_id, obj.callback_url)
            session.commit()
