"""Re-analysis: run the stored file of an analysis (or of every analysis of a batch) again with the current model.

A re-analysis is a new analysis whose `reanalysis_of` names the old one; the worker never answers it from an earlier
result (worker/runner.py). Asking twice does not make two: an unfinished re-analysis of the same analysis is the
answer (a partial unique index keeps that true under concurrent requests), and an Idempotency-Key finds what its
request made even after it finished.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared import model_version, storage
from shared.models import Analysis, ApiKey, Batch, Maps, Status, iso
from shared.settings import Settings
from web.analyses.services import enqueue, owned
from web.analyses.uploads import UploadError, refused
from web.batches import services as batches
from web.core import queue
from web.core.params import IDEMPOTENCY_KEY_MAX, text_field
from web.core.schemas import BATCH_NAME_MAX

UNFINISHED = (Status.QUEUED, Status.RUNNING)


class CannotReanalyse(UploadError):
    """Why an analysis or batch cannot be re-analysed, with the HTTP status that says it (409, 410)."""


def refusal(a: Analysis, settings: Settings) -> CannotReanalyse | None:
    """Why this analysis cannot be re-analysed now, or None: it must be finished and its file still stored."""
    if a.status in UNFINISHED:
        return CannotReanalyse(409, f"analysis {a.id} is {a.status}: it can be re-analysed once it has finished")
    if not a.sha256:
        return CannotReanalyse(409, f"analysis {a.id} has no stored image to analyse again ({a.error})")
    if a.purged_at is not None:
        return CannotReanalyse(410, f"the image of analysis {a.id} was purged on {a.purged_at:%Y-%m-%d} (retention); "
                                    "its verdict is kept, but it cannot be re-analysed")
    if not storage.store_for(settings).exists(a.sha256):
        return CannotReanalyse(410, f"the image of analysis {a.id} is no longer stored; it cannot be re-analysed")
    return None


def copy_of(a: Analysis, **fields: Any) -> Analysis:
    """A new queued analysis of the same stored file and owner, linked to `a`."""
    return Analysis(filename=a.filename, sha256=a.sha256, media_type=a.media_type, size_bytes=a.size_bytes,
                    width=a.width, height=a.height, api_key_id=a.api_key_id, reanalysis_of=a.id, **fields)


def unfinished(session: Session, ids: list[str]) -> dict[str, Analysis]:
    """The unfinished re-analyses of these analyses, by the id of the one each re-runs (one each at most)."""
    if not ids:
        return {}
    rows = session.scalars(select(Analysis).where(Analysis.reanalysis_of.in_(ids), Analysis.status.in_(UNFINISHED)))
    return {r.reanalysis_of: r for r in rows}


def reanalyse(session: Session, a: Analysis, settings: Settings, owner: ApiKey | None,
              idempotency_key: str | None = None) -> tuple[Analysis, bool]:
    """Commit a re-analysis of `a`, then enqueue it; (analysis, created). An earlier identical request's comes back.

    A person is waiting for it: the interactive queue, and its maps follow the verdict.
    """
    key = text_field(idempotency_key, "Idempotency-Key", IDEMPOTENCY_KEY_MAX)
    if (earlier := _made_by(session, a, owner, key)) is not None:
        return earlier, False
    if (why := refusal(a, settings)) is not None:
        raise why
    new = copy_of(a, idempotency_key=key, maps_state=Maps.PENDING)
    session.add(new)
    try:
        session.commit()
    except IntegrityError:  # the same request arrived concurrently: answer with what that one made
        session.rollback()
        if (earlier := _made_by(session, a, owner, key)) is None:
            raise
        return earlier, False
    try:
        enqueue(session, [new.id])
    except queue.QueueUnavailable as exc:
        raise CannotReanalyse(503, f"{exc}; re-analysis {new.id} is saved and will run later") from None
    return new, True


def _made_by(session: Session, a: Analysis, owner: ApiKey | None, key: str | None) -> Analysis | None:
    """What an earlier identical request made: the re-analysis of this Idempotency-Key, else the unfinished one."""
    if key:
        found = session.scalars(owned(select(Analysis).where(Analysis.idempotency_key == key), owner)).first()
        if found is not None:
            if found.reanalysis_of != a.id:
                raise CannotReanalyse(409, "this Idempotency-Key was already used with a different request")
            return found
    return unfinished(session, [a.id]).get(a.id)


def reanalyse_batch(session: Session, batch: Batch, settings: Settings, owner: ApiKey | None,
                    idempotency_key: str | None = None) -> tuple[Batch, bool]:
    """A new batch re-analysing every analysis of a finished batch, on the bulk queue; (batch, created).

    An item that cannot be re-analysed (purged, refused at upload, being re-analysed already) becomes a failed
    analysis carrying the reason, as refused files do in an upload; when none can be, nothing is made (409, 410).
    """
    key = text_field(idempotency_key, "Idempotency-Key", IDEMPOTENCY_KEY_MAX)
    digest = hashlib.sha256(json.dumps(["reanalyse", batch.id]).encode()).hexdigest()
    if (earlier := _batch_made_by(session, batch, owner, key, digest)) is not None:
        return earlier, False
    if batch.finished_at is None:
        raise CannotReanalyse(409, f"batch {batch.id} is still running: it can be re-analysed once it has finished")
    items = list(session.scalars(select(Analysis).where(Analysis.batch_id == batch.id)
                                 .order_by(Analysis.created_at, Analysis.id)))
    rows, refusals = _batch_rows(session, items, settings)
    if refusals and (earlier := _batch_made_by(session, batch, owner, key, digest)) is not None:
        return earlier, False  # an identical request made it meanwhile: its items are what was refused
    if len(refusals) == len(rows):
        codes = {r.status for r in refusals}
        raise CannotReanalyse(410 if codes == {410} else 409, f"none of the {len(items)} analyses of batch {batch.id} "
                              "can be re-analysed" + (f": {refusals[0].message}" if refusals else ""))
    new = Batch(api_key_id=batch.api_key_id, reanalysis_of=batch.id, idempotency_key=key, request_sha256=digest,
                name=f"Re-analysis of {batch.name or batch.id}"[:BATCH_NAME_MAX], total=len(rows))
    session.add(new)
    try:
        session.flush()
        for r in rows:
            r.batch_id = new.id
        session.add_all(rows)
        session.commit()
    except IntegrityError:  # a concurrent request re-analysed this batch (or some of its items) first
        session.rollback()
        if (earlier := _batch_made_by(session, batch, owner, key, digest)) is None:
            raise CannotReanalyse(409, f"analyses of batch {batch.id} began being re-analysed meanwhile; "
                                       "try again once they have finished") from None
        return earlier, False
    batches.enqueue_items(session, new, rows)
    return new, True


def _batch_rows(session: Session, items: list[Analysis],
                settings: Settings) -> tuple[list[Analysis], list[CannotReanalyse]]:
    """One new row per item: queued, or failed with the reason it cannot be re-analysed; and those reasons."""
    open_ = unfinished(session, [a.id for a in items])
    rows, refusals = [], []
    for a in items:
        why = refusal(a, settings)
        if why is None and a.id in open_:
            why = CannotReanalyse(409, f"analysis {a.id} is being re-analysed already, as {open_[a.id].id}")
        if why is None:
            rows.append(copy_of(a))
            continue
        row = refused(a.filename, why.message)
        row.api_key_id, row.reanalysis_of = a.api_key_id, a.id
        rows.append(row)
        refusals.append(why)
    return rows, refusals


def _batch_made_by(session: Session, batch: Batch, owner: ApiKey | None, key: str | None,
                   digest: str) -> Batch | None:
    """The batch an earlier identical request made: by Idempotency-Key, else the unfinished re-analysis of it."""
    if key and (earlier := batches.by_idempotency_key(session, owner, key)) is not None:
        return batches.replay(earlier, digest)[0]
    return session.scalars(select(Batch).where(Batch.reanalysis_of == batch.id, Batch.finished_at.is_(None))
                           .order_by(Batch.created_at)).first()


def reanalyses(session: Session, a: Analysis | Batch) -> list:
    """The analyses (or batches) that re-ran this one, newest first."""
    model = type(a)
    return list(session.scalars(select(model).where(model.reanalysis_of == a.id)
                                .order_by(model.created_at.desc(), model.id)))


def page_context(session: Session, a: Analysis | Batch, settings: Settings) -> dict[str, Any]:
    """What a result or batch page's re-analysis section shows: its re-analyses, why it cannot be re-analysed,
    and the current model's version (an analysis it made is not offered to it again)."""
    why = refusal(a, settings) if isinstance(a, Analysis) else None
    return {"reanalyses": reanalyses(session, a), "reanalysis_refusal": why,
            "current_model": model_version.current(settings.model_path)}


def links(session: Session, a: Analysis) -> dict[str, Any]:
    """An analysis's re-analysis links for its JSON: what it re-runs, and what re-ran it (newest first).

    Only a finished analysis can have been re-run (refusal()), so the status poll of one in progress, the
    most frequent request of all, costs no query for it."""
    done = a.status in Status.FINAL
    body: dict[str, Any] = {"reanalysed_by": [link(r) for r in reanalyses(session, a)] if done else []}
    if a.reanalysis_of:
        body["comparison_url"] = comparison_url(a)
    return body


def link(a: Analysis) -> dict[str, Any]:
    """A short reference to a related analysis."""
    return {"id": a.id, "status": a.status, "verdict": a.verdict, "model_version": a.model_version,
            "created_at": iso(a.created_at), "status_url": url_for("analyses_api.get_analysis", analysis_id=a.id),
            "page_url": url_for("analyses.result", analysis_id=a.id)}


def comparison_url(a: Analysis) -> str:
    """The comparison of a re-analysis with the analysis it re-ran, on the API for a key's, the pages otherwise."""
    if a.api_key_id is not None:
        return url_for("reanalysis_api.get_comparison", analysis_id=a.id)
    return url_for("reanalysis.comparison", analysis_id=a.id)
