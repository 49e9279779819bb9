"""Run one queued analysis: read its row, release the connection, compute, write the outcome."""
from __future__ import annotations

import logging
from functools import lru_cache

from sqlalchemy.orm import Session, sessionmaker

from shared import storage
from shared.db import make_engine, make_sessionmaker
from shared.models import Analysis, Status, utcnow
from shared.settings import Settings
from worker.errors import AnalysisError
from worker.pipeline import Resources, analyze_file

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3  # a file that kills the worker this often is failed instead of retried forever


@lru_cache(maxsize=None)
def sessions(url: str) -> sessionmaker[Session]:
    """One engine per worker process (created lazily, so after fork)."""
    return make_sessionmaker(make_engine(url))


def run_analysis(analysis_id: str, res: Resources) -> str:
    """Analyse and store; returns the final status. Safe to run twice for the same id."""
    settings: Settings = res.settings
    Session_ = sessions(settings.database_url)
    with Session_() as session:
        analysis = session.get(Analysis, analysis_id)
        if analysis is None:
            log.warning("analysis %s not found; nothing to do", analysis_id)
            return "missing"
        if analysis.status in Status.FINAL:  # delivered twice: the first delivery already wrote it
            return analysis.status
        if analysis.attempts >= MAX_ATTEMPTS:
            _finish_failed(session, analysis, f"the worker stopped {analysis.attempts} times while analysing this file")
            return Status.FAILED
        analysis.status = Status.RUNNING
        analysis.started_at = utcnow()
        analysis.attempts += 1
        session.commit()
        sha = analysis.sha256
    # no connection is held while the model runs
    path = storage.path_for(settings.upload_dir, sha)
    try:
        outcome = analyze_file(path, res, derived_dir=storage.derived_dir(settings.upload_dir, sha))
    except AnalysisError as exc:
        with Session_() as session:
            _finish_failed(session, session.get(Analysis, analysis_id), str(exc))
        return Status.FAILED
    with Session_() as session:
        analysis = session.get(Analysis, analysis_id)
        analysis.status = Status.DONE
        analysis.finished_at = utcnow()
        analysis.error = None
        analysis.verdict = outcome.verdict
        analysis.fake_probability = outcome.fake_probability
        analysis.metadata_score = outcome.metadata_score
        analysis.model_version = outcome.model_version
        analysis.width, analysis.height = outcome.width, outcome.height
        analysis.result = outcome.result
        analysis.file_metadata = outcome.metadata
        session.commit()
    return Status.DONE


def fail(analysis_id: str, settings: Settings, reason: str) -> None:
    """Mark an analysis failed with a reason (time limit hit, retries exhausted)."""
    with sessions(settings.database_url)() as session:
        analysis = session.get(Analysis, analysis_id)
        if analysis is not None and analysis.status not in Status.FINAL:
            _finish_failed(session, analysis, reason)


def _finish_failed(session: Session, analysis: Analysis, reason: str) -> None:
    analysis.status = Status.FAILED
    analysis.error = reason
    analysis.finished_at = utcnow()
    session.commit()
