"""Every API request's parameters and fields, and every JSON response, as pydantic models.

Spectree (web/core/openapi.py) validates requests against these models and builds the OpenAPI document from them,
so the document cannot drift from what is enforced; the history page parses its filters with the same models
(web/core/params.py). Lengths come from the columns in shared/models.py.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from spectree.model_adapter.pydantic_adapter import BaseFile

from shared import addresses, callbacks, labels, levels, outbox
from shared.evidence import Effect, Kind
from shared.models import Analysis, Batch, Status
from web.analyses.services import SORTS

VERDICTS = ("real", "uncertain", "fake")  # shared/verdict.py's labels
LEVELS = levels.NAMES  # shared/levels.py, most AI-like first
LABELS = labels.LABELS
STATUSES = (Status.QUEUED, Status.RUNNING, Status.DONE, Status.FAILED)
SORT_KEYS = tuple(SORTS)
MAX_PAGE = 1_000_000
FILENAME_MAX = Analysis.__table__.c.filename.type.length
ID_MAX = Batch.__table__.c.id.type.length
BATCH_NAME_MAX = Batch.__table__.c.name.type.length
IDEMPOTENCY_KEY_MAX = Batch.__table__.c.idempotency_key.type.length
MODEL_VERSION_MAX = Analysis.__table__.c.model_version.type.length
CALLBACK_URL_MAX = callbacks.MAX_URL_LENGTH
LINK_URL_MAX = addresses.MAX_URL_LENGTH
TrueFalse = Literal["true", "false"]


def problems(errors: list[dict[str, Any]]) -> str:
    """A validation error as one line naming each field and what is wrong with it."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'request'}: {e['msg']}" for e in errors[:3])


def _no_null_defaults(schema: dict[str, Any], _model: Any) -> None:
    for prop in schema.get("properties", {}).values():
        if "default" in prop and prop["default"] is None:
            del prop["default"]


class _Input(BaseModel):
    """Query arguments, form fields, headers: an empty value means "not given" (the history form sends every field).

    Optional arguments default to None without admitting null, so the document says what a client may send.
    """

    model_config = ConfigDict(json_schema_extra=_no_null_defaults)

    @model_validator(mode="before")
    @classmethod
    def _drop_empty(cls, data: Any) -> Any:
        return {k: v for k, v in data.items() if v != ""} if isinstance(data, dict) else data


class Paging(_Input):
    page: int = Field(1, ge=1, le=MAX_PAGE)
    per_page: int = Field(None, ge=1, le=100, description="default: the server's page size (100 at most)")


class AnalysisFilters(Paging):
    verdict: Literal[VERDICTS] = None  # type: ignore[valid-type]
    level: Literal[LEVELS] = Field(None, description="a graded level")  # type: ignore[valid-type]
    status: Literal[STATUSES] = None  # type: ignore[valid-type]
    filename: str = Field(None, max_length=FILENAME_MAX, description="part of the file name")
    batch: str = Field(None, max_length=ID_MAX, description="a batch id")
    has_provenance: TrueFalse = None
    label: Literal[LABELS] = Field(None, description="the current reviewer label")  # type: ignore[valid-type]
    model_version: str = Field(None, max_length=MODEL_VERSION_MAX, description="a model version, or its first "
                                                                              "characters")
    disagrees: TrueFalse = Field(None, description="true: the label contradicts the verdict (label real and verdict "
                                                   "fake, or label fake and verdict real); false: it does not")
    created_after: str = Field(None, description="ISO 8601 date or date-time, e.g. 2026-01-31")
    created_before: str = Field(None, description="ISO 8601 date or date-time, e.g. 2026-01-31")
    sort: Literal[tuple(p + k for k in SORT_KEYS for p in ("", "-"))] = "-created_at"  # type: ignore[valid-type]

    @field_validator("created_after", "created_before")
    @classmethod
    def _iso_date(cls, raw: str) -> str:
        if raw is not None:
            parse_date(raw)
        return raw


def parse_date(raw: str) -> datetime:
    """An ISO 8601 date or date-time (Z allowed); naive values are UTC."""
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("must be an ISO 8601 date or date-time, e.g. 2026-01-31") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


class Private(_Input):
    private: TrueFalse = Field(None, description="true: include GPS positions and serial numbers")


class ResultsFormat(_Input):
    format: Literal["csv", "json", "jsonl"] = "csv"


class AnalysisUpload(_Input):
    """One image: the file itself, or a link the server fetches (exactly one of `file` and `url`)."""

    file: BaseFile = Field(None, description="the image (or send `url` instead)")
    url: str = Field(None, max_length=LINK_URL_MAX, description="an absolute http(s) link to the image, fetched by "
                     "the server (or send `file` instead); redirects are followed, private addresses refused")
    callback_url: str = Field(None, max_length=CALLBACK_URL_MAX, description="absolute http(s) URL")


class AnalysisLinkUpload(_Input):
    """One image by link, as a JSON body: {"url": "https://…"}."""

    url: str = Field(None, max_length=LINK_URL_MAX, description="an absolute http(s) link to the image, fetched by "
                     "the server; redirects are followed, private addresses refused (required)")
    callback_url: str = Field(None, max_length=CALLBACK_URL_MAX, description="absolute http(s) URL")


class BatchUpload(_Input):
    files: BaseFile | list[BaseFile] = Field(None, description="images, or one ZIP archive")
    name: str = Field(None, description=f"kept up to {BATCH_NAME_MAX} characters")
    callback_url: str = Field(None, max_length=CALLBACK_URL_MAX, description="absolute http(s) URL")
    maps: bool = Field(False, description="true: make every item's thumbnail and forensic maps after its verdict "
                                          "(otherwise only when its result page or a map file is requested)")


class BatchHeaders(_Input):
    idempotency_key: str = Field(None, alias="Idempotency-Key", max_length=IDEMPOTENCY_KEY_MAX)


# --- responses (extra fields allowed: clients must ignore what they do not know) ---

class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class Error(_Out):
    error: str
    status: int


class Evidence(_Out):
    kind: Kind
    source: str
    value: Any = None
    effect: Effect
    reason: str
    weight: float | None = None
    strong: bool | None = None
    detector: str | None = Field(None, description="for a model item: which detector's own score it is")


class DetectorScore(_Out):
    """One detector's own score for an analysis (the combined score decides the verdict)."""

    name: str
    version: str = Field(description="SHA-256 of the detector's file")
    fake_probability: float
    weight: float = Field(description="its weight in the combined logit")


class LevelRates(_Out):
    """How often held-out images landed at a level in the source-held-out cross-validation."""

    ai: float = Field(description="share of held-out AI images (generators the detectors never saw) at this level")
    real: float = Field(description="share of held-out genuine photos (sources they never saw) at this level")
    sentence: str


class LevelDetail(_Out):
    """A graded level and what it means."""

    name: Literal[LEVELS]  # type: ignore[valid-type]
    label: str
    verdict: Literal[VERDICTS]  # type: ignore[valid-type]
    meaning: str
    rates: LevelRates | None = Field(None, description="its measured rates (none for provenance)")


class AnalysisSummary(_Out):
    id: str
    status: Literal[STATUSES]  # type: ignore[valid-type]
    filename: str
    sha256: str
    created_at: str
    finished_at: str | None = None
    verdict: Literal[VERDICTS] | None = None  # type: ignore[valid-type]
    level: Literal[LEVELS] | None = Field(  # type: ignore[valid-type]
        None, description="the graded level, most AI-like first: " + ", ".join(
            f"{lv.name} ({lv.label}, verdict {lv.verdict})" for lv in levels.LEVELS)
        + "; null for analyses made before levels existed")
    level_label: str | None = Field(None, description="the level in words")
    fake_probability: float | None = Field(None, description="the detectors' combined score the verdict used; null "
                                                             "until done, and when not scored")
    scored: bool | None = Field(None, description="false: the image is too small for the detector, whose score "
                                                  "(in the evidence) the verdict did not use; null until done")
    metadata_score: float | None = None
    batch_id: str | None = None
    has_provenance: bool | None = None
    reused_from: str | None = None
    model_version: str | None = Field(None, description="the model that made the verdict (SHA-256 of its files)")
    reanalysis_of: str | None = Field(None, description="a re-analysis: the analysis it ran again")
    status_url: str
    page_url: str | None = None
    label: Literal[LABELS] | None = Field(  # type: ignore[valid-type]
        None, description="the current reviewer label, in listings")
    error: str | None = Field(None, description="why it failed (present when failed)")
    preview_url: str | None = Field(None, description="the image upright and downscaled (JPEG), once done; "
                                                      "absent once purged")
    source_url: str | None = Field(None, description="submitted by link: the URL as submitted (absent for uploaded "
                                                     "files)")
    source_final_url: str | None = Field(None, description="submitted by link: the URL the image came from, after "
                                                           "redirects")
    source_address: str | None = Field(None, description="submitted by link: the IP address the image was fetched "
                                                         "from")


class Similar(_Out):
    id: str
    distance_bits: int


class AnalysisLink(_Out):
    """A related analysis (a re-analysis of this one)."""

    id: str
    status: Literal[STATUSES]  # type: ignore[valid-type]
    verdict: Literal[VERDICTS] | None = None  # type: ignore[valid-type]
    model_version: str | None = None
    created_at: str
    status_url: str
    page_url: str


class Delivery(_Out):
    event_id: str | None = Field(None, description="X-Deepfake-Event-Id: the same on every attempt of one event")
    attempt: int
    succeeded: bool
    error: str | None = Field(None, description="HTTP <status>, or one of: " + ", ".join(outbox.Error.ALL))


class AnalysisDetail(AnalysisSummary):
    media_type: str | None = None
    size_bytes: int | None = None
    width: int | None = None
    height: int | None = None
    megapixels: float | None = None
    started_at: str | None = None
    attempts: int | None = None
    pipeline_runs: int | None = None  # how many times the pipeline started on it (leases: once, unless a lease lapsed)
    model_version: str | None = None
    error: str | None = None
    purged_at: str | None = None
    # the thumbnail and forensic maps, made after the verdict: not_requested (a batch's item nobody opened yet)
    maps_state: Literal["not_requested", "pending", "ready", "failed"] | None = None
    maps_error: str | None = None  # why they failed
    level_detail: LevelDetail | None = Field(None, description="the level, its meaning and its measured rates")
    reasons: list[str] | None = None
    evidence: list[Evidence] | None = None
    detectors: list[DetectorScore] | None = None
    result: dict[str, Any] | None = None
    similar: list[Similar] | None = None
    reanalysed_by: list[AnalysisLink] | None = Field(None, description="its re-analyses, newest first")
    comparison_url: str | None = Field(None, description="a re-analysis: what changed since the analysis it re-ran")
    webhook_deliveries: list[Delivery] | None = Field(None, description="with a callback_url: each attempt to "
                                                                        "deliver analysis.finished, oldest first")


class AnalysisList(_Out):
    items: list[AnalysisSummary]
    page: int
    per_page: int
    total: int
    pages: int


class Counts(_Out):
    queued: int
    running: int
    done: int
    failed: int


class BatchOut(_Out):
    id: str
    name: str | None = None
    created_at: str | None = None
    finished_at: str | None = None
    status: Literal["running", "done"]
    total: int
    counts: Counts
    progress: float = Field(ge=0, le=1)
    callback_url: str | None = None
    status_url: str
    results_url: str
    page_url: str | None = None
    items: list[AnalysisSummary] | None = None
    page: int | None = None
    per_page: int | None = None
    webhook_deliveries: list[Delivery] | None = None


class BatchList(_Out):
    items: list[BatchOut]
    page: int
    per_page: int
    total: int
    pages: int

