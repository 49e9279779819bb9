"""Run queued analyses: take their leases, release the connection, compute, write the outcomes.

Safe to deliver twice (a job delivered twice runs the pipeline once): finished analyses and analyses whose
lease is live are skipped, results are written only by the lease's owner, and an image the same owner already
had analysed by the same model version is answered from the database.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker, undefer

from shared import cleanup, outbox, preview, storage
from shared.db import make_engine, make_sessionmaker
from shared.metrics import observe_stage_timings
from shared.models import Analysis, Batch, Maps, Status, utcnow
from shared.settings import Settings
from worker import lease
from worker.errors import AnalysisError
from worker.pipeline import Outcome, Resources, analyze_files

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3  # a file that kills the worker this often is failed instead of retried forever
DELETED = "deleted"  # what Finished says of an analysis deleted while it ran


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


def claim(session: Session, ids: list[str], owner: str, settings: Settings,
           model_version: str) -> tuple[list[Analysis], list[Finished]]:
    """Take the free leases; fail poison files, answer repeats from the database, start the pipeline on the rest.

    Rows with a live lease are left alone (a duplicate delivery). `pipeline_runs` is counted in the transaction
    that takes the lease, so it says how many times the pipeline really started. A re-analysis is never answered
    from the database: running the current model and pipeline again is what it was asked for.
    """
    todo, finished = [], []
    taken = lease.take(session, ids, owner, settings.lease_s)
    if busy := set(ids) - set(taken):
        busy = set(session.scalars(select(Analysis.id).where(Analysis.id.in_(busy), Analysis.status == Status.RUNNING)))
    if busy:
        log.warning("leased by another worker, left alone by this delivery: %s", sorted(busy))
    for a in session.scalars(select(Analysis).where(Analysis.id.in_(taken))).all() if taken else []:
        if a.attempts > MAX_ATTEMPTS:  # this is a lease taken over: the earlier ones lapsed with their workers
            values = _failed(f"the worker stopped {a.attempts - 1} times while analysing this file")
        elif a.reanalysis_of is None and (earlier := _earlier_result(session, a, model_version)) is not None:
            values = _copied(earlier)
        else:
            a.status, a.started_at, a.pipeline_runs = Status.RUNNING, utcnow(), a.pipeline_runs + 1
            todo.append(a)
            continue
        lease.write(session, a.id, owner, values)
        finished.append(Finished(a.id, values["status"], a.batch_id, a.callback_url))
    outbox.analyses_finished(session, finished)  # webhooks go out with the state change, or not at all
    session.commit()
    return todo, finished


def _earlier_result(session: Session, a: Analysis, model_version: str) -> Analysis | None:
    """The same file done by the same model for the same owner, its maps still on disk (never purged).

    Reuse stays inside one owner: another key's analysis is never copied nor named in `reused_from`.
    A deleted analysis is gone from the table, so it is never a source.
    """
    same_owner = Analysis.api_key_id == a.api_key_id if a.api_key_id is not None else Analysis.api_key_id.is_(None)
    stmt = (select(Analysis).options(undefer(Analysis.result), undefer(Analysis.file_metadata))
            .where(Analysis.sha256 == a.sha256, Analysis.status == Status.DONE, same_owner,
                   Analysis.model_version == model_version, Analysis.id != a.id, Analysis.purged_at.is_(None))
            .order_by(Analysis.finished_at).limit(1))
    return session.scalars(stmt).first()


def _copied(src: Analysis) -> dict[str, Any]:
    values = {field: getattr(src, field) for field in (
        "verdict", "level", "fake_probability", "metadata_score", "model_version", "width", "height", "result",
        "file_metadata", "phash", "has_provenance")}
    if src.maps_state == Maps.READY:  # the same file's maps, already on disk; otherwise its own maps job
        values["maps_state"] = Maps.READY
    return values | {"status": Status.DONE, "finished_at": utcnow(), "error": None, "reused_from": src.id}


def _failed(reason: str) -> dict[str, Any]:
    return {"status": Status.FAILED, "error": reason, "finished_at": utcnow()}


def _result(outcome: Outcome) -> dict[str, Any]:
    return {"status": Status.DONE, "finished_at": utcnow(), "error": None, "verdict": outcome.verdict,
            "level": outcome.level, "fake_probability": outcome.fake_probability, "metadata_score": outcome.metadata_score,
            "model_version": outcome.model_version, "width": outcome.width, "height": outcome.height,
            "result": outcome.result, "file_metadata": outcome.metadata, "phash": outcome.phash,
            "has_provenance": outcome.has_provenance}


def run_chunk(ids: list[str], res: Resources, owner: str | None = None) -> list[Finished]:
    """Analyse a chunk of queued analyses with one batched model pass; one transaction to write them all."""
    settings: Settings = res.settings
    Session_ = sessions(settings.database_url)
    owner = owner or lease.new_owner()
    with Session_() as session:
        todo, finished = claim(session, ids, owner, settings, res.detector.version)
        work = [(a.id, a.sha256, a.batch_id, a.callback_url) for a in todo]
    if not work:
        return finished
    # no connection is held while the model runs; a thread keeps the leases alive meanwhile
    try:
        with lease.kept(Session_, [w[0] for w in work], owner, settings.lease_s):
            with storage.store_for(settings).fetch([sha for _, sha, _, _ in work]) as paths:  # local copies
                outcomes = analyze_files(paths, res)  # the verdict only; the maps are their own job afterwards
            _store_previews(settings, work, outcomes)
        with Session_() as session:
            written = _write_outcomes(session, owner, work, outcomes, settings)
        observe_stage_timings(o.result["timings"] for o in outcomes if not isinstance(o, AnalysisError))
        return finished + written
    except Exception:  # a retry (database error) or the time-limit handler comes next: let the leases go
        lease.release(Session_, [w[0] for w in work], owner)
        raise


def _store_previews(settings: Settings, work: list[tuple], outcomes: list) -> None:
    """Each analysed file's preview, stored before its analysis is done: the web serves it as a file.

    A file's folder that cannot be written to costs that file its preview, not its chunk its verdicts; an object
    store that does not answer retries the job, as when it could not fetch the files.
    """
    for (analysis_id, sha, _, _), outcome in zip(work, outcomes):
        if not isinstance(outcome, AnalysisError) and outcome.preview is not None:
            try:
                preview.save(storage.store_for(settings), sha, outcome.preview)
            except OSError:
                log.warning("analysis %s: its preview could not be stored", analysis_id, exc_info=True)


def _write_outcomes(session: Session, owner: str, work: list[tuple], outcomes: list,
                    settings: Settings) -> list[Finished]:
    """Write what this worker still owns; an analysis deleted meanwhile is skipped and its new files removed."""
    finished, lost = [], []
    for (analysis_id, sha, batch_id, callback), outcome in zip(work, outcomes):
        values = _failed(str(outcome)) if isinstance(outcome, AnalysisError) else _result(outcome)
        if lease.write(session, analysis_id, owner, values):
            finished.append(Finished(analysis_id, values["status"], batch_id, callback))
        else:
            lost.append((analysis_id, sha, batch_id))
    outbox.analyses_finished(session, finished)
    session.commit()
    if not lost:
        return finished
    still_there = set(session.scalars(select(Analysis.id).where(Analysis.id.in_([x[0] for x in lost]))))
    for analysis_id, _, batch_id in lost:
        if analysis_id in still_there:
            log.warning("analysis %s: the lease was taken over; this worker's result is not written", analysis_id)
        else:  # deleted while it ran: nothing to write, but its batch may now be complete
            finished.append(Finished(analysis_id, DELETED, batch_id, None))
    cleanup.remove_unused(session, storage.store_for(settings), {sha for i, sha, _ in lost if i not in still_there})
    return finished


def close_finished_batches(settings: Settings, batch_ids: set[str],
                           session_factory: sessionmaker[Session] | None = None) -> list[str]:
    """Mark batches whose analyses are all final as finished; returns those this call finished (once each).

    The sweeper passes its own session factory: the worker's main process must not create this module's
    engine, which pool processes forked later would inherit.
    """
    closed = []
    with (session_factory or sessions(settings.database_url))() as session:
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


def fail(analysis_ids: list[str], settings: Settings, reason: str, owner: str) -> list[Finished]:
    """Mark the analyses `owner` still holds failed with a reason (time limit hit)."""
    out = []
    with sessions(settings.database_url)() as session:
        for a in session.scalars(select(Analysis).where(Analysis.id.in_(analysis_ids))).all():
            if lease.write(session, a.id, owner, _failed(reason)):
                out.append(Finished(a.id, Status.FAILED, a.batch_id, a.callback_url))
        outbox.analyses_finished(session, out)
        session.commit()
    return out
