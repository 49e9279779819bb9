"""Delete analyses and purge old uploads; a file goes only when no remaining analysis needs it."""
from __future__ import annotations

import logging
import time
from collections import Counter
from datetime import timedelta

from sqlalchemy import select, true, update
from sqlalchemy.orm import Session

from shared import labels
from shared.models import Analysis, Batch, utcnow
from shared.storage import Store, Unavailable

log = logging.getLogger(__name__)


def remove_files(store: Store, sha256: str) -> None:
    """The upload and everything derived from it (thumbnail, maps).

    Runs after the commit that made them unused: an object store that does not answer then leaves them behind,
    logged with their digest, rather than failing a delete that is done.
    """
    try:
        store.remove(sha256)
    except ValueError:  # items refused at upload have no stored file
        return
    except Unavailable:
        log.warning("the object store did not answer: the files of %s were left in it", sha256, exc_info=True)


def _still_used(session: Session, sha256: str, excluding: set[str]) -> bool:
    stmt = select(Analysis.id).where(Analysis.sha256 == sha256, Analysis.purged_at.is_(None),
                                     Analysis.id.not_in(excluding) if excluding else true()).limit(1)
    return session.scalars(stmt).first() is not None


def remove_unused(session: Session, store: Store, shas: set[str]) -> None:
    """Remove the stored files of these digests that no analysis row references (a refused request's files,
    or the maps a worker wrote for an analysis deleted while it ran)."""
    used = set(session.scalars(select(Analysis.sha256).where(Analysis.sha256.in_(shas),
                                                             Analysis.purged_at.is_(None))))
    for sha in shas - used:
        remove_files(store, sha)


def delete_analyses(session: Session, store: Store, analyses: list[Analysis], deleted_by: str) -> int:
    """Delete rows and, after the commit, the files no other analysis shares.

    Their labels are copied to the audit record first (the rows cascade), their batches' totals shrink with them
    (so progress still reaches 1.0), and analyses answered from a deleted one, or re-analysing it, stop naming it.
    """
    ids = {a.id for a in analyses}
    shas = {a.sha256 for a in analyses}
    labels.archive(session, analyses, deleted_by)
    for batch_id, n in Counter(a.batch_id for a in analyses if a.batch_id).items():
        session.execute(update(Batch).where(Batch.id == batch_id).values(total=Batch.total - n))
    session.execute(update(Analysis).where(Analysis.reused_from.in_(ids)).values(reused_from=None)
                    .execution_options(synchronize_session=False))
    session.execute(update(Analysis).where(Analysis.reanalysis_of.in_(ids)).values(reanalysis_of=None)
                    .execution_options(synchronize_session=False))
    for a in analyses:
        session.delete(a)
    session.flush()
    orphaned = [sha for sha in shas if not _still_used(session, sha, ids)]
    session.commit()
    for sha in orphaned:
        remove_files(store, sha)
    return len(ids)


def remove_orphaned_derived(session: Session, store: Store, grace_s: float) -> int:
    """Remove derived files that no analysis names and nothing wrote to for `grace_s`; returns for how many uploads.

    A worker that dies after writing the thumbnail or maps of an analysis deleted while it ran leaves them
    behind: the delete removed the folder before they were written, and the worker's own clean-up
    (`remove_unused` after its write finds the row gone) never ran. Nobody else would ever remove them.
    The grace keeps a folder a live worker is writing to now.
    """
    cutoff = time.time() - grace_s
    stale = [sha for sha, written in store.derived_ages().items() if written < cutoff]
    named: set[str] = set()
    for i in range(0, len(stale), 500):
        named.update(session.scalars(select(Analysis.sha256).where(Analysis.sha256.in_(stale[i:i + 500]))))
    orphans = [sha for sha in stale if sha not in named]
    for sha in orphans:
        store.remove_derived(sha)
    return len(orphans)


def purge_older_than(session: Session, store: Store, days: int) -> int:
    """Remove the files of analyses older than `days`, keeping their rows and verdicts."""
    cutoff = utcnow() - timedelta(days=days)
    old = list(session.scalars(select(Analysis).where(Analysis.created_at < cutoff, Analysis.purged_at.is_(None))))
    now = utcnow()
    for a in old:
        a.purged_at = now
    session.flush()
    orphaned = {a.sha256 for a in old if not _still_used(session, a.sha256, set())}
    session.commit()
    for sha in orphaned:
        remove_files(store, sha)
    return len(old)
