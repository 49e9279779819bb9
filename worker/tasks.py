"""Thin Celery tasks: names, retries, time limits. The work is in worker.runner / worker.pipeline."""
from __future__ import annotations

from functools import lru_cache

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from shared import outbox, storage, tasks as names
from shared.models import Analysis, Batch, Maps, Status
from shared.settings import Settings
from worker import lease, maps_task, runner
from worker.pipeline import Resources

RETRIED = (OperationalError, storage.Unavailable)  # the database or the object store away: try again later


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
    _queue_maps([f.id for f in finished if f.status == Status.DONE], res.settings)
    return [f.status for f in finished]


def _queue_maps(done_ids: list[str], settings: Settings) -> None:
    """After the verdicts are committed: queue the maps of those that asked for them (on the maps queue)."""
    if not done_ids:
        return
    with runner.sessions(settings.database_url)() as session:
        wanted = list(session.scalars(select(Analysis.id).where(Analysis.id.in_(done_ids),
                                                                Analysis.maps_state == Maps.PENDING)))
    for analysis_id in wanted:
        make_maps.apply_async(args=[analysis_id], queue=names.queue_for(names.MAKE_MAPS, settings))


@shared_task(name=names.ANALYZE, acks_late=True, autoretry_for=RETRIED,
             retry_backoff=2, retry_backoff_max=60, retry_jitter=True, max_retries=8)
def analyze(analysis_id: str) -> list[str]:
    """Analyse one stored upload by id."""
    return _run([analysis_id])


@shared_task(name=names.ANALYZE_CHUNK, acks_late=True, autoretry_for=RETRIED,
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


@shared_task(name=names.MAKE_MAPS, acks_late=True, autoretry_for=RETRIED, retry_backoff=2,
             retry_backoff_max=60, retry_jitter=True, max_retries=8)
def make_maps(analysis_id: str) -> str | None:
    """The thumbnail and forensic maps of a finished analysis (claimed once; worker/maps_task.py)."""
    try:
        return maps_task.make_maps(analysis_id, resources())
    except SoftTimeLimitExceeded:
        settings = resources().settings
        with runner.sessions(settings.database_url)() as session:
            session.execute(update(Analysis).where(Analysis.id == analysis_id, Analysis.maps_state == Maps.RUNNING)
                            .values(maps_state=Maps.FAILED, maps_error=f"the maps took longer than the "
                                    f"{settings.task_soft_time_limit} s limit"))
            session.commit()
        return Maps.FAILED
