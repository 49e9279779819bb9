"""Request and response models of the review API (labels, the labels export) and of the evaluation; see
web/core/schemas.py."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.models import LABEL_NOTE_MAX
from web.core.schemas import LABELS, Paging, _Input, _no_null_defaults, _Out

class LabelIn(BaseModel):
    """A reviewer's label (JSON body, or the result page's form)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_no_null_defaults)
    label: Literal[LABELS]  # type: ignore[valid-type]
    note: str = Field(None, max_length=LABEL_NOTE_MAX)

    @field_validator("note")
    @classmethod
    def _no_nul(cls, raw: str | None) -> str | None:
        if raw is not None and "\x00" in raw:
            raise ValueError("must not contain a NUL byte")
        return raw


class LabelOut(_Out):
    id: int
    analysis_id: str
    label: Literal[LABELS]  # type: ignore[valid-type]
    note: str | None = None
    set_by: str = Field(description="the API key's name, or 'local' for the keyless web user")
    api_key_id: int | None = None
    created_at: str


class LabelHistory(_Out):
    current: LabelOut | None = None
    history: list[LabelOut] = Field(description="every label, newest first")


class DeletedLabel(_Out):
    analysis_id: str = Field(description="the deleted analysis (its row and files are gone)")
    sha256: str
    filename: str
    verdict: str | None = None
    model_version: str | None = None
    label: Literal[LABELS]  # type: ignore[valid-type]
    note: str | None = None
    set_by: str
    labelled_at: str
    deleted_by: str = Field(description="the API key's name, or 'local' for the keyless web user")
    deleted_at: str


class DeletedLabels(_Out):
    items: list[DeletedLabel] = Field(description="most recently deleted first")
    total: int
    page: int
    per_page: int


class LabelsExportFormat(_Input):
    format: Literal["csv", "jsonl"] = "csv"


class Rates(_Out):
    threshold: float
    accuracy: float
    fpr: float | None = Field(None, description="share of real-labelled images with p >= threshold")
    tpr: float | None = Field(None, description="share of fake-labelled images with p >= threshold")


class DetectorAuc(_Out):
    name: str
    n: int
    roc_auc: float | None = Field(None, description="null unless both classes are labelled")


class Disagreement(_Out):
    id: str
    filename: str
    label: str
    verdict: str
    fake_probability: float | None = None
    page_url: str


class LevelEvaluation(_Out):
    """One level: how many labelled images landed there, beside its cross-validated rates."""

    name: str
    label: str
    verdict: str
    n_real: int = Field(description="labelled genuine photos at this level")
    n_fake: int = Field(description="labelled AI images at this level")
    observed_real: float | None = Field(None, description="share of the labelled genuine photos at this level")
    observed_ai: float | None = Field(None, description="share of the labelled AI images at this level")
    cross_validated_real: float | None = Field(None, description="share of held-out genuine photos there "
                                                                 "(source-held-out cross-validation)")
    cross_validated_ai: float | None = Field(None, description="share of held-out AI images there")


class ModelEvaluation(_Out):
    model_version: str | None = None
    n: int = Field(description="analyses labelled real or fake")
    n_real: int
    n_fake: int
    n_unsure: int
    thresholds: dict[str, float] | None = None
    confusion: dict[str, dict[str, int]] = Field(description="label (real, fake) x verdict (real, uncertain, fake)")
    at_fake_threshold: Rates | None = None
    at_real_threshold: Rates | None = None
    roc_auc: float | None = Field(None, description="of the combined fake_probability; null unless both classes")
    detectors: list[DetectorAuc]
    levels: list[LevelEvaluation] = Field(description="per graded level, most AI-like first")
    disagreements: list[Disagreement]


class Evaluation(_Out):
    disagreement: str
    models: list[ModelEvaluation]
