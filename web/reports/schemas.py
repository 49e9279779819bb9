"""Response model of an analysis's report (web/reports/services.py); see web/core/schemas.py."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from web.core.schemas import STATUSES, VERDICTS, DetectorScore, Evidence, LevelDetail, _Out
from web.review.schemas import LabelHistory


class ReportService(_Out):
    name: str
    version: str = Field(description="the service's version (pyproject.toml)")


class ReportMeta(_Out):
    generated_at: str
    service: ReportService
    private: bool = Field(description="true: GPS positions and serial numbers are shown (?private=true)")


class ReportAnalysis(_Out):
    id: str
    status: Literal[STATUSES]  # type: ignore[valid-type]
    error: str | None = None
    batch_id: str | None = None
    reused_from: str | None = None
    page_url: str | None = None
    status_url: str


class ReportFile(_Out):
    filename: str
    sha256: str
    size_bytes: int
    media_type: str
    width: int | None = None
    height: int | None = None
    megapixels: float | None = None
    purged: bool = Field(description="true: the upload and its maps were removed; the verdict and this report stay")
    purged_at: str | None = None
    source_url: str | None = Field(None, description="submitted by link: the URL as submitted (absent for an "
                                                     "uploaded file)")
    source_final_url: str | None = Field(None, description="submitted by link: the URL after redirects")
    source_address: str | None = Field(None, description="submitted by link: the IP address it was fetched from")


class ReportTimes(_Out):
    created_at: str = Field(description="when the file was received")
    started_at: str | None = None
    finished_at: str | None = None


class ReportVerdict(_Out):
    label: Literal[VERDICTS] | None = None  # type: ignore[valid-type]
    level: LevelDetail | None = Field(None, description="the graded level, its meaning and measured rates")
    fake_probability: float | None = Field(None, description="the detectors' combined fake probability")
    metadata_score: float | None = None
    reasons: list[str]


class ReportThreshold(_Out):
    name: str
    value: float
    meaning: str | None = None


class ReportModel(_Out):
    version: str | None = None
    detectors: list[DetectorScore]
    thresholds: list[ReportThreshold] = Field(description="the thresholds this verdict was decided with")
    threshold_rule: str | None = Field(None, description="how the model's thresholds were chosen, while its spec "
                                                         "still ships them")


class ReportEvidence(Evidence):
    group: str | None = Field(None, description="the signal registry's group (null: a kind it no longer lists)")
    group_title: str | None = None
    title: str


class ReportMap(_Out):
    name: str
    title: str | None = None
    label: str | None = None
    url: str | None = Field(None, description="the image, while the maps are ready and the files not purged")


class ReportMaps(_Out):
    state: Literal["not_requested", "pending", "ready", "failed", "purged"] | None = Field(
        None, description="null until the verdict is in")
    error: str | None = None
    items: list[ReportMap]


class Report(_Out):
    report: ReportMeta
    analysis: ReportAnalysis
    file: ReportFile
    times: ReportTimes
    verdict: ReportVerdict
    model: ReportModel
    evidence: list[ReportEvidence]
    preview_url: str | None = Field(None, description="the image upright and downscaled; absent once purged")
    maps: ReportMaps
    labels: LabelHistory
