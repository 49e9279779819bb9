"""The thumbnail and forensic maps of a finished analysis, made after its verdict by their own job.

Safe to deliver twice: the job claims the analysis's maps (pending → running, with the claim's time) in one
conditional update, so a second delivery finds nothing to claim and does nothing; only the claim's holder
writes the result. A claim older than a job's hard time limit (its worker died) may be taken over.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import undefer

from shared import cleanup, storage
from shared.models import Analysis, Maps, Status, utcnow
from worker import decode
from worker.errors import AnalysisError
from worker.pipeline import Resources, _stage, with_maps, write_maps
from worker.runner import sessions
from worker.signals import forensics

log = logging.getLogger(__name__)


def _claim(session, analysis_id: str, settings):  # noqa: ANN001
    """(sha256, claim time) when this job may make the maps; None when there is nothing (left) to do."""
    row = session.execute(select(Analysis.status, Analysis.purged_at, Analysis.sha256)
                          .where(Analysis.id == analysis_id)).first()
    if row is None or row.status != Status.DONE:
        return None
    stale = utcnow() - timedelta(seconds=settings.task_time_limit + 60)
    claimable = or_(Analysis.maps_state == Maps.PENDING,
                    (Analysis.maps_state == Maps.RUNNING) & (Analysis.maps_started_at < stale))
    if row.purged_at is not None:  # nothing left to draw them from
        session.execute(update(Analysis).where(Analysis.id == analysis_id, claimable).values(
            maps_state=Maps.FAILED, maps_error="the image was purged before its maps were made"))
        session.commit()
        return None
    now = utcnow()
    taken = session.execute(update(Analysis).where(Analysis.id == analysis_id, claimable)
                            .values(maps_state=Maps.RUNNING, maps_started_at=now, maps_error=None)).rowcount
    session.commit()
    return (row.sha256, now) if taken else None


def make_maps(analysis_id: str, res: Resources) -> str | None:
    """Make and store one analysis's maps; returns the state written, or None when this job had nothing to do."""
    settings = res.settings
    Session_ = sessions(settings.database_url)
    with Session_() as session:
        claimed = _claim(session, analysis_id, settings)
    if claimed is None:
        return None
    sha, claimed_at = claimed
    store = storage.store_for(settings)
    mine = (Analysis.id == analysis_id, Analysis.maps_state == Maps.RUNNING, Analysis.maps_started_at == claimed_at)
    made, error = None, None
    try:  # no connection is held while the maps are drawn
        with _stage("the forensic maps"), store.fetch([sha]) as [path]:
            if not path.is_file():
                raise AnalysisError("the uploaded file is missing from storage")
            src = forensics.analysis_copy(decode.load_image(path, settings.max_image_pixels))
        with _stage("the forensic maps"), store.derived_writer(sha) as derived:
            made = write_maps(src, res.detector, derived)
    except AnalysisError as exc:
        error = str(exc)
    except storage.Unavailable:  # the task retries: give the claim back, so that delivery can take it
        with Session_() as session:
            session.execute(update(Analysis).where(*mine).values(maps_state=Maps.PENDING))
            session.commit()
        raise
    with Session_() as session:
        if made is None:
            values = {"maps_state": Maps.FAILED, "maps_error": error}
        else:
            result = session.scalar(select(Analysis).options(undefer(Analysis.result)).where(*mine))
            values = {"maps_state": Maps.READY, "result": with_maps(result.result or {}, made)} if result else {}
        written = bool(values) and session.execute(update(Analysis).where(*mine).values(**values)).rowcount
        session.commit()
        if not written and session.get(Analysis, analysis_id) is None:  # deleted meanwhile: drop what was drawn
            cleanup.remove_unused(session, store, {sha})
    return values.get("maps_state") if written else None
