"""Enqueue work by task name, so the web tier never imports the worker (or TensorFlow)."""
from __future__ import annotations

from celery import Celery
from flask import Flask, current_app

from shared import tasks


class QueueUnavailable(Exception):
    """The broker could not take the job (the analysis stays saved as queued)."""


def init_app(app: Flask) -> None:
    """A Celery client used only to send tasks."""
    settings = app.config["SETTINGS"]
    client = Celery("web", broker=settings.redis_url, set_as_current=False)
    client.conf.update(
        task_ignore_result=True,
        broker_connection_timeout=3,
        broker_connection_retry=False,
        broker_transport_options={"socket_connect_timeout": 3, "socket_timeout": 5},
    )
    app.extensions["celery_client"] = client


def send_many(jobs: list[tuple[str, list]], analyses_per_job: list[int] | None = None) -> None:
    """Publish jobs over one connection; raise QueueUnavailable when the broker does not answer.

    A job of n analyses gets n times TASK_SOFT_TIME_LIMIT (the limit is per analysis, the job runs n).
    """
    client: Celery = current_app.extensions["celery_client"]
    settings = current_app.config["SETTINGS"]
    retry_policy = {"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5}
    try:
        with client.producer_or_acquire() as producer:
            for (name, args), n in zip(jobs, analyses_per_job or [1] * len(jobs)):
                soft, hard = settings.job_time_limits(n)
                client.send_task(name, args=args, queue=tasks.queue_for(name, settings), producer=producer, retry=True,
                                 retry_policy=retry_policy, soft_time_limit=soft, time_limit=hard)
    except Exception as exc:  # kombu raises several connection error types
        raise QueueUnavailable(f"the job queue is unavailable: {exc.__class__.__name__}") from exc


def enqueue_analyses(ids: list[str], batch: bool = False) -> None:
    """One job for a single upload; chunks for batches, so workers run the model on several images at once."""
    if len(ids) == 1 and not batch:
        return send_many([(tasks.ANALYZE, [ids[0]])])
    size = max(1, current_app.config["SETTINGS"].batch_chunk)
    chunks = [ids[i:i + size] for i in range(0, len(ids), size)]
    send_many([(tasks.ANALYZE_CHUNK, [chunk]) for chunk in chunks], [len(chunk) for chunk in chunks])


def enqueue_maps(analysis_id: str) -> None:
    """The thumbnail and maps of one finished analysis, on the lowest-priority queue."""
    send_many([(tasks.MAKE_MAPS, [analysis_id])])
