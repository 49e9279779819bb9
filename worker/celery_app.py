"""The Celery app of the workers: `celery -A worker.celery_app worker`."""
from __future__ import annotations

import logging
import os

from celery import Celery
from kombu import Queue
from celery.signals import worker_process_init, worker_process_shutdown, worker_ready

from shared.settings import Settings

log = logging.getLogger(__name__)
settings = Settings.from_env()

app = Celery("deepfake", broker=settings.redis_url, include=["worker.tasks"])
app.conf.update(
    task_default_queue=settings.queue,
    # consumed without -Q: WORKER_QUEUES, or every queue, highest priority first (settings.queues)
    task_queues=[Queue(name) for name in settings.consumed_queues],
    task_ignore_result=True,  # results live in the database
    task_acks_late=True,  # a job is acknowledged after it ran, so a killed worker does not lose it
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,  # long tasks: take one at a time
    task_soft_time_limit=settings.task_soft_time_limit,
    task_time_limit=settings.task_time_limit,
    # an unacknowledged job returns to the queue this long after its worker vanished (killed, host lost);
    # longer than a one-analysis job's hard limit. A chunk may run longer (n x the limit): its job is then
    # handed out again while it runs, and that delivery finds the live leases and does nothing.
    # "priority": each fetch takes from the first non-empty queue in that order (Redis' default round-robins
    # them, which lets a batch's chunks delay a person's upload)
    broker_transport_options={"visibility_timeout": settings.unacked_timeout, "queue_order_strategy": "priority",
                              "unacked_restore_interval": max(1, min(10, settings.unacked_timeout // 6)),
                              "unacked_restore_throttle": 1},
    broker_connection_retry_on_startup=True,
    # a new pool process reports UP only after _load_resources: give it the time that load takes
    worker_proc_alive_timeout=settings.worker_start_timeout_s,
    worker_hijack_root_logger=False,
)


@worker_process_init.connect
def _load_resources(**_kwargs) -> None:
    """Load the model and start exiftool in each pool process, after fork."""
    from worker import tasks

    res = tasks.resources()
    if os.environ.get("WORKER_PRELOAD", "1") == "1":
        res.detector  # noqa: B018 - load once so the first upload does not wait for it
        log.info("worker process warm-up: the first forward pass took %.2f s", res.warm_up())
        log.info("worker process ready: model %s on %s, batch %d", res.detector.version[:12], res.device,
                 settings.model_batch)


@worker_process_shutdown.connect
def _close_resources(**_kwargs) -> None:
    from worker import tasks

    tasks.resources().close()


@worker_ready.connect
def _start_sweeper(sender=None, **_kwargs) -> None:  # noqa: ANN001
    """In the worker's main process: re-enqueue lost work, keep a heartbeat for /readyz, send webhooks."""
    from worker.dispatch import Dispatcher
    from worker.sweep import Sweeper

    Sweeper(settings, app, hostname=getattr(sender, "hostname", None) or "worker").start()
    Dispatcher(settings).start()
