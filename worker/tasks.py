"""Thin Celery tasks: names, retries, time limits. The work is in worker.runner / worker.pipeline."""
from __future__ import annotations

import logging
from functools import lru_cache

import redis
from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from shared import outbox, storage, tasks as names
from shared.models import Analysis, Batch, Maps, Status
from shared.settings import Settings
from worker import lease, maps_task, runner
from worker.pipeline import Resources

log = logging.getLogger(__name__)

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


def _run(ids: list[str], job_size: int | None = None) -> tuple[list[str], bool]:
    """Run ids through the pipeline; (their statuses, whether the job's soft time limit was hit)."""
    res = resources()
    owner = lease.new_owner()
    timed_out = False
    try:
        finished = runner.run_chunk(ids, res, owner)
    except SoftTimeLimitExceeded:  # the job's limit is TASK_SOFT_TIME_LIMIT per analysis (web.core.queue sets it)
        n = job_size or len(ids)
        each, (soft, _) = res.settings.task_soft_time_limit, res.settings.job_time_limits(n)
        reason = (f"the analysis took longer than the {each} s limit" if n == 1 else
                  f"this job of {n} analyses took longer than {soft} s ({each} s each)")
        finished, timed_out = runner.fail(ids, res.settings, reason, owner), True
    _notify(finished, res.settings)
    _queue_maps([f.id for f in finished if f.status == Status.DONE], res.settings)
    return [f.status for f in finished], timed_out


@lru_cache(maxsize=1)
def _broker(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def _people_waiting(settings: Settings) -> bool:
    """A single upload waits on the interactive queue, and this worker consumes that queue.

    A dedicated bulk pool (WORKER_QUEUES=bulk) never yields: nobody else would take its slice. Unknown
    (broker unreachable) counts as no: the chunk goes on rather than being re-sent into a broken broker."""
    if settings.queue not in settings.consumed_queues:
        return False
    try:
        return bool(_broker(settings.redis_url).llen(settings.queue))
    except redis.RedisError:
        return False


def _send_rest(ids: list[str], settings: Settings) -> None:
    """The unstarted rest of a chunk back on the bulk queue, with its own time limits."""
    soft, hard = settings.job_time_limits(len(ids))
    analyze_chunk.apply_async(args=[ids], queue=names.queue_for(names.ANALYZE_CHUNK, settings),
                              soft_time_limit=soft, time_limit=hard)


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
    return _run([analysis_id])[0]


@shared_task(name=names.ANALYZE_CHUNK, acks_late=True, autoretry_for=RETRIED,
             retry_backoff=2, retry_backoff_max=60, retry_jitter=True, max_retries=8)
def analyze_chunk(analysis_ids: list[str]) -> list[str]:
    """Analyse a chunk of a batch, the model running on BULK_SLICE images at once.

    Bulk yields to people: before each slice after the first, if a single upload is waiting, the rest of
    the chunk goes back on the bulk queue and this job ends, so the worker's next fetch (in priority order)
    is the upload, which waits for one slice at most instead of a whole chunk. The rest has not been
    claimed, so nothing runs twice; if this worker dies after re-sending it, the redelivered original finds
    the finished analyses and live leases and skips them (runner.claim).
    """
    ids, settings = list(analysis_ids), resources().settings
    step, statuses = settings.bulk_slice, []
    for i in range(0, len(ids), step):
        if i and _people_waiting(settings):
            log.info("chunk yields to a single upload after %d of %d files; the rest is queued again", i, len(ids))
            _send_rest(ids[i:], settings)
            break
        done, timed_out = _run(ids[i:i + step], job_size=len(ids))
        statuses += done
        if timed_out and i + step < len(ids):  # the rest has not started: it gets a job (and a limit) of its own
            _send_rest(ids[i + step:], settings)
            break
    return statuses


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
