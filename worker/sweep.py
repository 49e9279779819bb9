"""Find analyses the queue lost track of and enqueue them again; keep this worker's heartbeat.

Runs as a thread in each worker's main process (not in the pool processes). Three kinds of lost work:
- queued but never published (the web could not reach the broker: enqueued_at is NULL);
- everything unfinished when the broker lost its data (a Redis restart without persistence), noticed
  because the epoch key this sweeper keeps in Redis has vanished;
- running past the hard time limit plus a margin (its worker died and the job was not restored).
Re-enqueuing is safe: tasks skip finished analyses, so a job delivered twice writes one result.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from datetime import timedelta

import redis
from celery import Celery
from sqlalchemy import or_, select, update

from shared import heartbeat, tasks as names
from shared.db import make_engine, make_sessionmaker
from shared.models import Analysis, Status, utcnow
from shared.settings import Settings

log = logging.getLogger(__name__)
NEVER_PUBLISHED_AFTER_S = 10


def epoch_key(settings: Settings) -> str:
    return f"deepfake:epoch:{settings.queue}"


class Sweeper(threading.Thread):
    def __init__(self, settings: Settings, app: Celery, hostname: str):
        super().__init__(name="deepfake-sweeper", daemon=True)
        self.settings, self.app, self.hostname = settings, app, hostname
        self.engine = make_engine(settings.database_url)  # own engine: the main process never forks after this
        self.sessions = make_sessionmaker(self.engine)
        self.redis = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=5)
        self.last_purge = -3600.0

    def run(self) -> None:
        while True:
            try:
                self.sweep_once()
                self.purge_if_due()
            except Exception:  # the broker or the database is down: try again next round
                log.warning("sweep failed; retrying in %.0f s", self.settings.sweep_interval_s, exc_info=True)
            time.sleep(self.settings.sweep_interval_s)

    def purge_if_due(self) -> None:
        """With RETENTION_DAYS set, delete old uploads and maps (verdicts stay) about once an hour."""
        if self.settings.retention_days <= 0 or time.monotonic() - self.last_purge < 3600:
            return
        from shared import cleanup

        self.last_purge = time.monotonic()
        with self.sessions() as session:
            n = cleanup.purge_older_than(session, self.settings.upload_dir, self.settings.retention_days)
        if n:
            log.info("retention: purged the files of %d analyses", n)

    def sweep_once(self) -> int:
        """One round: heartbeat, then re-enqueue whatever was lost. Returns how many were enqueued."""
        ttl = max(5, int(self.settings.sweep_interval_s * 3))
        heartbeat.beat(self.redis, self.settings.queue, self.hostname, os.getpid(), ttl)
        broker_lost = bool(self.redis.set(epoch_key(self.settings), utcnow().isoformat(), nx=True))
        now = utcnow()
        stuck = now - timedelta(seconds=self.settings.task_time_limit + 60)
        unpublished = now - timedelta(seconds=NEVER_PUBLISHED_AFTER_S)
        lost = [(Analysis.status == Status.QUEUED) & Analysis.enqueued_at.is_(None)
                & (Analysis.created_at < unpublished),
                (Analysis.status == Status.RUNNING) & (Analysis.started_at < stuck)]
        if broker_lost:  # the queue's contents are gone: everything unfinished must be sent again
            lost.append(Analysis.status.in_([Status.QUEUED, Status.RUNNING]))
        with self.sessions() as session:
            ids = list(session.scalars(select(Analysis.id).where(or_(*lost))))
            for analysis_id in ids:
                self.app.send_task(names.ANALYZE, args=[analysis_id], queue=self.settings.queue)
            if ids:
                session.execute(update(Analysis).where(Analysis.id.in_(ids)).values(enqueued_at=utcnow()))
                session.commit()
        if ids:
            log.warning("re-enqueued %d analyses (%s)", len(ids), "broker lost its data" if broker_lost else "stale")
        return len(ids)
