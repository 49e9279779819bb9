"""Re-analyse everything an older model made (`flask --app web reanalyse`), on the bulk queue, resumably.

Chunk by chunk: the re-analyses are committed, then enqueued. An analysis that already has an unfinished
re-analysis, or one the current model finished, is skipped, so running the command again after an interruption
continues where it stopped and re-analyses none twice.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from shared.models import Analysis, Status
from shared.settings import Settings
from web.analyses.services import enqueue
from web.reanalysis.services import UNFINISHED, copy_of, refusal

MAX_RACES = 5  # chunks in a row lost to concurrent re-analyses before giving up


def resolve(session: Session, prefix: str, current: str) -> str:
    """The one model version of the analyses that starts with `prefix`; ValueError naming why there is none."""
    found = list(session.scalars(select(Analysis.model_version).distinct()
                                 .where(Analysis.model_version.startswith(prefix, autoescape=True))))
    if not found:
        raise ValueError(f"no analysis was made with a model version starting {prefix!r}")
    if len(found) > 1:
        raise ValueError(f"{prefix!r} names {len(found)} model versions: " + ", ".join(sorted(v[:16] for v in found)))
    if found[0] == current:
        raise ValueError(f"{found[0][:12]} is the current model version (MODEL_PATH): nothing to re-analyse")
    return found[0]


def pending(old: str, current: str) -> Select:
    """Done analyses of model `old`, files kept, without an unfinished re-analysis or one the current model made."""
    later = aliased(Analysis)
    covered = select(later.id).where(later.reanalysis_of == Analysis.id, or_(
        later.status.in_(UNFINISHED), and_(later.status == Status.DONE, later.model_version == current))).exists()
    return (select(Analysis).where(Analysis.model_version == old, Analysis.status == Status.DONE,
                                   Analysis.purged_at.is_(None), ~covered)
            .order_by(Analysis.created_at, Analysis.id))


def count(session: Session, old: str, current: str) -> int:
    return session.scalar(select(func.count()).select_from(pending(old, current).subquery())) or 0


@dataclass
class Progress:
    queued: int = 0
    missing: int = 0  # skipped: the image is no longer stored


def run(session: Session, settings: Settings, old: str, current: str, limit: int | None = None, chunk: int = 100,
        report: Callable[[Progress], None] = lambda _: None) -> Progress:
    """Queue re-analyses of model `old`'s analyses, oldest first, `chunk` at a time; at most `limit` this run.

    Raises web.core.queue.QueueUnavailable when the broker is down: the chunk is saved and the workers' sweep sends it.
    """
    progress, after, races = Progress(), None, 0
    while limit is None or progress.queued < limit:
        stmt = pending(old, current)
        if after is not None:  # past the items skipped for a missing file (keyset: created_at, id)
            stmt = stmt.where(or_(Analysis.created_at > after[0],
                                  and_(Analysis.created_at == after[0], Analysis.id > after[1])))
        items = list(session.scalars(stmt.limit(chunk if limit is None else min(chunk, limit - progress.queued))))
        if not items:
            break
        rows = [copy_of(a) for a in items if refusal(a, settings) is None]
        session.add_all(rows)
        try:
            session.commit()
        except IntegrityError:  # someone re-analysed one of these meanwhile: the next query leaves it out
            session.rollback()
            races += 1
            if races > MAX_RACES:
                raise
            continue
        races, after = 0, (items[-1].created_at, items[-1].id)
        progress.missing += len(items) - len(rows)
        if rows:
            enqueue(session, [r.id for r in rows], batch=True)
            progress.queued += len(rows)
            report(progress)
    return progress
