"""Reviewers' labels on analyses: the label set, the current label (the latest row) and what "disagrees" means.

Disagreement is defined here once: the label says real and the verdict is fake, or the label says fake and the
verdict is real. An "uncertain" verdict or an "unsure" label never disagrees: neither side made a claim.
"""
from __future__ import annotations

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from shared.models import Analysis, ApiKey, Label, LabelAudit, utcnow

LABELS = ("real", "fake", "unsure")
LOCAL = "local"  # who set a label without an API key (the keyless web user)
DISAGREEMENTS = (("real", "fake"), ("fake", "real"))  # (label, verdict)
RULE = ("the label is real and the verdict fake, or the label is fake and the verdict real "
        "(an uncertain verdict or an unsure label never disagrees)")


def latest_ids() -> Select:
    """The id of each analysis's current label (labels are append-only, so the largest id is the latest)."""
    return select(func.max(Label.id).label("id")).group_by(Label.analysis_id)


def current() -> Select:
    """(analysis_id, label) of every current label, as a subquery to join analyses with."""
    return select(Label.analysis_id, Label.label).where(Label.id.in_(latest_ids()))


def disagrees(label_column: ColumnElement, verdict_column: ColumnElement) -> ColumnElement:
    """SQL: the label contradicts the verdict (see the module docstring)."""
    return or_(*(and_(label_column == lab, verdict_column == ver) for lab, ver in DISAGREEMENTS))


def is_disagreement(label: str | None, verdict: str | None) -> bool:
    """The same rule in Python."""
    return (label, verdict) in DISAGREEMENTS


def add(session: Session, analysis: Analysis, label: str, note: str | None, owner: ApiKey | None) -> Label:
    """Record a label (the caller commits); earlier labels stay as history."""
    row = Label(analysis_id=analysis.id, label=label, note=note or None, api_key_id=owner.id if owner else None,
                set_by=by(owner))
    session.add(row)
    session.flush()
    return row


def history(session: Session, analysis_id: str) -> list[Label]:
    """Every label of an analysis, newest first."""
    return list(session.scalars(select(Label).where(Label.analysis_id == analysis_id).order_by(Label.id.desc())))


def current_for(session: Session, analysis_ids: list[str]) -> dict[str, Label]:
    """The current label of each of these analyses that has one."""
    if not analysis_ids:
        return {}
    stmt = select(Label).where(Label.id.in_(latest_ids().where(Label.analysis_id.in_(analysis_ids))))
    return {row.analysis_id: row for row in session.scalars(stmt)}


def by(owner: ApiKey | None) -> str:
    """Who acts, as labels and their audit record name them: the key's name, or LOCAL."""
    return owner.name if owner else LOCAL


def archive(session: Session, analyses: list[Analysis], deleted_by: str) -> int:
    """Copy the labels of analyses about to be deleted into the audit record (the caller deletes and commits)."""
    ids = [a.id for a in analyses]
    by_id = {a.id: a for a in analyses}
    now, n = utcnow(), 0
    for i in range(0, len(ids), 500):
        for row in session.scalars(select(Label).where(Label.analysis_id.in_(ids[i:i + 500])).order_by(Label.id)):
            a = by_id[row.analysis_id]
            session.add(LabelAudit(analysis_id=a.id, owner_key_id=a.api_key_id, sha256=a.sha256, filename=a.filename,
                                   verdict=a.verdict, model_version=a.model_version, label=row.label, note=row.note,
                                   set_by=row.set_by, labelled_at=row.created_at, deleted_by=deleted_by,
                                   deleted_at=now))
            n += 1
    return n


def audit(session: Session, owner: ApiKey | None, limit: int, offset: int = 0) -> tuple[list[LabelAudit], int]:
    """The labels of the owner's deleted analyses, most recently deleted first, and how many there are."""
    where = LabelAudit.owner_key_id == owner.id if owner else LabelAudit.owner_key_id.is_(None)
    total = session.scalar(select(func.count()).select_from(LabelAudit).where(where)) or 0
    rows = session.scalars(select(LabelAudit).where(where).order_by(LabelAudit.id.desc()).offset(offset).limit(limit))
    return list(rows), total
