"""Reviewers' labels on analyses: the label set, the current label (the latest row) and what "disagrees" means.

Disagreement is defined here once: the label says real and the verdict is fake, or the label says fake and the
verdict is real. An "uncertain" verdict or an "unsure" label never disagrees: neither side made a claim.
"""
from __future__ import annotations

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from shared.models import Analysis, ApiKey, Label

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
                set_by=owner.name if owner else LOCAL)
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
