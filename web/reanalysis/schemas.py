"""Response models of re-analysis: the comparison of a re-analysis with the analysis it re-ran
(web/reanalysis/compare.py)."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from web.core.schemas import LEVELS, STATUSES, VERDICTS, Evidence, _Out
from web.reanalysis.compare import FIELDS


class Side(_Out):
    id: str
    status: Literal[STATUSES]  # type: ignore[valid-type]
    verdict: Literal[VERDICTS] | None = None  # type: ignore[valid-type]
    level: Literal[LEVELS] | None = None  # type: ignore[valid-type]
    level_label: str | None = None
    fake_probability: float | None = None
    metadata_score: float | None = None
    model_version: str | None = None
    finished_at: str | None = None
    error: str | None = None
    reasons: list[str]
    thresholds: dict[str, Any] | None = None
    page_url: str


class Change(_Out):
    old: Any = None
    new: Any = None
    changed: bool
    delta: float | None = Field(None, description="new - old, for numbers")


class Changes(_Out):
    verdict: Change
    level: Change
    model_version: Change
    fake_probability: Change
    metadata_score: Change


class DetectorChange(_Out):
    name: str
    old: float | None = Field(None, description="its fake probability before (null: it did not exist then)")
    new: float | None = Field(None, description="its fake probability now (null: it is gone)")
    delta: float | None = None
    old_version: str | None = None
    new_version: str | None = None


class EvidenceChange(_Out):
    kind: str
    source: str | None = None
    fields: list[Literal[FIELDS]]  # type: ignore[valid-type]
    old: Evidence
    new: Evidence


class EvidenceDiff(_Out):
    added: list[Evidence]
    removed: list[Evidence]
    changed: list[EvidenceChange]
    unchanged: int


class Comparison(_Out):
    """Both analyses side by side; the changes are null until both are done."""

    analysis_id: str = Field(description="the re-analysis")
    reanalysis_of: str = Field(description="the analysis it ran again")
    state: Literal[STATUSES] = Field(description="the re-analysis's status")  # type: ignore[valid-type]
    old: Side
    new: Side
    changes: Changes | None = None
    detectors: list[DetectorChange] | None = None
    evidence: EvidenceDiff | None = Field(None, description="forensic maps left out; private values redacted")
