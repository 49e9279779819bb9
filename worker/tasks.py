"""Thin Celery tasks: names, retries, time limits. The work is in worker.runner / worker.pipeline."""
from __future__ import annotations

from functools import lru_cache

from celery import current_app, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy.exc import OperationalError

from shared import tasks as names
from shared.settings import Settings
from worker import lease, runner, webhooks
from worker.pipeline import Resources

WEBHOOK_ATTEMPTS = 8


@lru_cache(maxsize=1)
def resources() -> Resources:
    """This process's model and exiftool (created on first use, i.e. after fork)."""
    return Resources(Settings.from_env())


def _notify(finished: list[runner.Finished], settings: Settings) -> None:
    """Webhooks for single analyses that asked for one, and for batches this chunk completed."""
    jobs = [("analysis", f.id) for f in finished if f.callback_url and not f.batch_id]
    batch_ids = {f.batch_id for f in finished if f.batch_id}
    if batch_ids:
        jobs += [("batch", b) for b in runner.close_finished_batches(settings, batch_ids)]
    for kind, object_id in jobs:
        current_app.send_task(names.DELIVER_WEBHOOK, args=[kind, object_id], queue=settings.queue)


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


@shared_task(name=names.DELIVER_WEBHOOK, bind=True, acks_late=True, max_retries=WEBHOOK_ATTEMPTS - 1)
def deliver_webhook(self, kind: str, object_id: str) -> bool:
    """POST the signed summary; retry with exponential backoff until the receiver answers 2xx."""
    settings = resources().settings
    if webhooks.deliver(kind, object_id, self.request.retries + 1, settings):
        return True
    if self.request.retries + 1 >= WEBHOOK_ATTEMPTS:
        return False
    raise self.retry(countdown=settings.webhook_retry_base_s * 2 ** self.request.retries)
