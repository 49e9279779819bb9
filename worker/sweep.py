"""Find analyses the queue lost track of and enqueue them again."""
from __future__ import annotations

from datetime import timedelta

from celery import Celery
from sqlalchemy import or_, select

from shared import tasks as names
from shared.db import make_engine, make_sessionmaker
from shared.models import Analysis, Status, utcnow
from shared.settings import Settings


def requeue_stale(settings: Settings, app: Celery, queued_for: int = 30) -> int:
    """Enqueue analyses queued for over `queued_for` s or running past the hard time limit."""
    engine = make_engine(settings.database_url)  # own engine: this runs in the worker's parent process
    try:
        now = utcnow()
        running_deadline = now - timedelta(seconds=settings.task_soft_time_limit + 60)
        with make_sessionmaker(engine)() as session:
            stmt = select(Analysis.id).where(or_(
                (Analysis.status == Status.QUEUED) & (Analysis.created_at < now - timedelta(seconds=queued_for)),
                (Analysis.status == Status.RUNNING) & (Analysis.started_at < running_deadline),
            ))
            ids = list(session.scalars(stmt))
        for analysis_id in ids:
            app.send_task(names.ANALYZE, args=[analysis_id], queue=settings.queue)
        return len(ids)
    finally:
        engine.dispose()
