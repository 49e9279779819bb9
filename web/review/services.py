"""Review: reviewers' labels on analyses as JSON, and the labels export (CSV or JSON Lines) for regression sets."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared import labels
from shared.models import Analysis, ApiKey, Label, LabelAudit, iso
from web.analyses.services import owned
from web.batches import export
from web.core import serialize

EXPORT_FIELDS = ["analysis_id", "sha256", "filename", "label", "note", "labelled_by", "labelled_at", "verdict",
                 "fake_probability", "model_version"]
EXPORT_TYPES = {"csv": "text/csv", "jsonl": "application/x-ndjson"}


def label_json(row: Label) -> dict[str, Any]:
    """One label as the API shows it."""
    return {"id": row.id, "analysis_id": row.analysis_id, "label": row.label, "note": row.note,
            "set_by": row.set_by, "api_key_id": row.api_key_id, "created_at": iso(row.created_at)}


def audit_json(row: LabelAudit) -> dict[str, Any]:
    """One label of a deleted analysis, as the audit record keeps it."""
    return {"analysis_id": row.analysis_id, "sha256": row.sha256, "filename": row.filename, "verdict": row.verdict,
            "model_version": row.model_version, "label": row.label, "note": row.note, "set_by": row.set_by,
            "labelled_at": iso(row.labelled_at), "deleted_by": row.deleted_by, "deleted_at": iso(row.deleted_at)}


def history_json(session: Session, analysis: Analysis) -> dict[str, Any]:
    """The current label and every earlier one, newest first."""
    rows = [label_json(r) for r in labels.history(session, analysis.id)]
    return {"current": rows[0] if rows else None, "history": rows}


def set_label(session: Session, analysis: Analysis, label: str, note: str | None, owner: ApiKey | None) -> Label:
    """Record a reviewer's label and commit it."""
    row = labels.add(session, analysis, label, note, owner)
    session.commit()
    return row


def export_rows(session: Session, owner: ApiKey | None, page_size: int = 500) -> Iterator[dict[str, Any]]:
    """One record per labelled analysis the owner may see (its current label), oldest analysis first."""
    stmt = (owned(select(Analysis, Label).join(Label, Label.analysis_id == Analysis.id), owner)
            .where(Label.id.in_(labels.latest_ids())).order_by(Analysis.created_at, Analysis.id))
    offset = 0
    while True:
        chunk = session.execute(stmt.offset(offset).limit(page_size)).all()
        if not chunk:
            return
        for a, lab in chunk:
            yield {"analysis_id": a.id, "sha256": a.sha256, "filename": a.filename, "label": lab.label,
                   "note": lab.note, "labelled_by": lab.set_by, "labelled_at": iso(lab.created_at),
                   "verdict": a.verdict, "fake_probability": a.fake_probability, "model_version": a.model_version}
        offset += page_size


def export_response(session: Session, owner: ApiKey | None, fmt: str) -> Response:
    """The streamed labels download (fmt already checked against EXPORT_TYPES)."""
    return export.stream(session, export.render(export_rows(session, owner), fmt, EXPORT_FIELDS), EXPORT_TYPES[fmt],
                         f"labels.{fmt}")


def summaries(session: Session, analyses: list[Analysis]) -> list[dict[str, Any]]:
    """Listing entries with each analysis's current label."""
    current = labels.current_for(session, [a.id for a in analyses])
    return [serialize.summary(a) | {"label": current[a.id].label if a.id in current else None} for a in analyses]
