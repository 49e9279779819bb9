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


def send(name: str, args: list, queue: str | None = None) -> None:
    """Publish one task; raise QueueUnavailable when the broker does not answer."""
    client: Celery = current_app.extensions["celery_client"]
    queue = queue or current_app.config["SETTINGS"].queue
    try:
        client.send_task(name, args=args, queue=queue, retry=True,
                         retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5})
    except Exception as exc:  # kombu raises several connection error types
        raise QueueUnavailable(f"the job queue is unavailable: {exc.__class__.__name__}") from exc


def enqueue_analysis(analysis_id: str) -> None:
    send(tasks.ANALYZE, [analysis_id])
