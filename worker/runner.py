"""Run queued analyses: read their rows, release the connection, compute, write the outcomes.

Safe to run twice for the same ids (a job delivered twice writes one result): finished analyses are
skipped, and an image already analysed with the same model version is answered from the database.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker, undefer

from shared import outbox, storage
from shared.db import make_engine, make_sessionmaker
from shared.models import Analysis, Batch, Status, utcnow
from shared.settings import Settings
from worker.errors import AnalysisError
from worker.pipeline import Outcome, Resources, analyze_files

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3  # a file that kills the worker this often is failed instead of retried forever


@lru_cache(maxsize=None)
def sessions(url: str) -> sessionmaker[Session]:
    """One engine per worker process (created lazily, so after fork)."""
    return make_sessionmaker(make_engine(url))


@dataclass
class Finished:
    """What happened to one analysis, for notifications (webhooks, batch completion)."""

    id: str
    status: str
    batch_id: str | None
    callback_url: str | None


def _claim(session: Session, ids: list[str], model_version: str) -> tuple[list[Analysis], list[Finished]]:
    """Mark runnable analyses running; answer repeats from the database; fail poison files."""
    todo, finished = [], []
    rows = session.scalars(select(Analysis).where(Analysis.id.in_(ids)).with_for_update()).all()
    for a in rows:
        if a.status in Status.FINAL:  # delivered twice: the first delivery already wrote it
            continue
        if a.attempts >= MAX_ATTEMPTS:
            _set_failed(a, f"the worker stopped {a.attempts} times while analysing this file")
        elif (earlier := _earlier_result(session, a, model_version)) is not None:
            _copy(earlier, a)
        else:
            a.status, a.started_at, a.attempts = Status.RUNNING, utcnow(), a.attempts + 1
            todo.append(a)
            continue
        finished.append(Finished(a.id, a.status, a.batch_id, a.callback_url))
    outbox.analyses_finished(session, finished)  # webhooks go out with the state change, or not at all
    session.commit()
    return todo, finished


def _earlier_result(session: Session, a: Analysis, model_version: str) -> Analysis | None:
    stmt = (select(Analysis).options(undefer(Analysis.result), undefer(Analysis.file_metadata))
            .where(Analysis.sha256 == a.sha256, Analysis.status == Status.DONE,
                   Analysis.model_version == model_version, Analysis.id != a.id)
            .order_by(Analysis.finished_at).limit(1))
    return session.scalars(stmt).first()


def _copy(src: Analysis, dst: Analysis) -> None:
    for field in ("verdict", "fake_probability", "metadata_score", "model_version", "width", "height", "result",
                  "file_metadata", "phash", "has_provenance"):
        setattr(dst, field, getattr(src, field))
    dst.status, dst.finished_at, dst.error, dst.reused_from = Status.DONE, utcnow(), None, src.id


def _set_failed(a: Analysis, reason: str) -> None:
    a.status, a.error, a.finished_at = Status.FAILED, reason, utcnow()


def _write(a: Analysis, outcome: Outcome) -> None:
    a.status, a.finished_at, a.error = Status.DONE, utcnow(), None
    a.verdict, a.fake_probability, a.metadata_score = outcome.verdict, outcome.fake_probability, outcome.metadata_score
    a.model_version, a.width, a.height = outcome.model_version, outcome.width, outcome.height
    a.result, a.file_metadata = outcome.result, outcome.metadata
    a.phash, a.has_provenance = outcome.phash, outcome.has_provenance


def run_chunk(ids: list[str], res: Resources) -> list[Finished]:
    """Analyse a chunk of queued analyses with one batched model pass; one transaction to write them all."""
    settings: Settings = res.settings
    Session_ = sessions(settings.database_url)
    model_version = res.detector.version
    with Session_() as session:
        todo, finished = _claim(session, ids, model_version)
        work = [(a.id, a.sha256, a.batch_id, a.callback_url) for a in todo]
    if not work:
        return finished
    # no connection is held while the model runs
    paths = [storage.path_for(settings.upload_dir, sha) for _, sha, _, _ in work]
    derived = [storage.derived_dir(settings.upload_dir, sha) for _, sha, _, _ in work]
    outcomes = analyze_files(paths, res, derived)
    answered = len(finished)
    with Session_() as session:
        rows = {a.id: a for a in session.scalars(select(Analysis).where(Analysis.id.in_([w[0] for w in work])))}
        for (analysis_id, _, batch_id, callback), outcome in zip(work, outcomes):
            a = rows[analysis_id]
            if isinstance(outcome, AnalysisError):
                _set_failed(a, str(outcome))
            else:
                _write(a, outcome)
            finished.append(Finished(analysis_id, a.status, batch_id, callback))
        outbox.analyses_finished(session, finished[answered:])
        session.commit()
    return finished


def close_finished_batches(settings: Settings, batch_ids: set[str]) -> list[str]:
    """Mark batches whose analyses are all final as finished; returns those this call finished (once each)."""
    closed = []
    with sessions(settings.database_url)() as session:
        for batch_id in batch_ids:
            open_items = session.scalar(select(func.count()).select_from(Analysis).where(
                Analysis.batch_id == batch_id, Analysis.status.not_in(Status.FINAL)))
            if open_items:
                continue
            # the conditional update makes exactly one worker the one that closes it
            changed = session.execute(update(Batch).where(Batch.id == batch_id, Batch.finished_at.is_(None))
                                      .values(finished_at=utcnow())).rowcount
            if changed and (url := session.scalar(select(Batch.callback_url).where(Batch.id == batch_id))):
                outbox.add(session, "batch", batch_id, url)
            session.commit()
            if changed:
                closed.append(batch_id)
    return closed


def fail(analysis_ids: list[str], settings: Settings, reason: str) -> list[Finished]:
    """Mark analyses failed with a reason (time limit hit, retries exhausted)."""
    out = []
    with sessions(settings.database_url)() as session:
        for a in session.scalars(select(Analysis).where(Analysis.id.in_(analysis_ids))):
            if a.status not in Status.FINAL:
                _set_failed(a, reason)
                out.append(Finished(a.id, a.status, a.batch_id, a.callback_url))
        outbox.analyses_finished(session, out)
        session.commit()
    return out
