"""Typed SQLAlchemy 2.0 models, shared by web, worker and migrations. Models never commit."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (JSON, false, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint, text)
from sqlalchemy.orm import DeclarativeBase, Mapped, deferred, mapped_column


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with its offset, as the API and the webhooks write times (SQLite hands back naive
    datetimes, which are stored as UTC)."""
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat()


def new_id() -> str:
    """Unguessable public id."""
    return str(uuid.uuid4())


LEASE_OWNER_LENGTH = 100
IDEMPOTENCY_KEY_LENGTH = 200


class Base(DeclarativeBase):
    pass


class Status:
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    FINAL = (DONE, FAILED)


class ApiKey(Base):
    """An API client. Only the SHA-256 of the token is stored; the token is shown once at creation."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16), index=True)  # shown in listings to tell keys apart
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    webhook_secret: Mapped[str] = mapped_column(String(64))
    rate_limit_per_minute: Mapped[int] = mapped_column(Integer, default=120)
    max_batch_files: Mapped[int] = mapped_column(Integer, default=1000)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Batch(Base):
    """Many analyses submitted together; finished when all of them are done or failed."""

    __tablename__ = "batches"
    __table_args__ = (
        UniqueConstraint("api_key_id", "idempotency_key", name="uq_batches_key_idempotency"),
        # the keyless user's api_key_id is NULL, and NULLs are distinct in the constraint above (both databases)
        Index("uq_batches_keyless_idempotency", "idempotency_key", unique=True,
              sqlite_where=text("api_key_id IS NULL"), postgresql_where=text("api_key_id IS NULL")),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    callback_url: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(String(IDEMPOTENCY_KEY_LENGTH))
    request_sha256: Mapped[str | None] = mapped_column(String(64))  # same key with another body is refused
    total: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reanalysis_of: Mapped[str | None] = mapped_column(String(36), index=True)  # re-runs this batch's analyses


class WebhookDelivery(Base):
    """One attempt to deliver a webhook, kept so users can see what was sent and what came back."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[str | None] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"), index=True)
    analysis_id: Mapped[str | None] = mapped_column(ForeignKey("analyses.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    attempt: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    event_id: Mapped[str | None] = mapped_column(String(36), index=True)  # the WebhookEvent this attempt sent


class WebhookEvent(Base):
    """The outbox: one webhook to deliver, written in the transaction that finished its batch or analysis.

    The worker's dispatcher claims due rows with a lease and sends them (worker/dispatch.py); `attempt` is
    the number of attempts started, so each attempt number is sent at most once.
    """

    __tablename__ = "webhook_events"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)  # X-Deepfake-Event-Id
    kind: Mapped[str] = mapped_column(String(16))  # "batch" | "analysis"
    object_id: Mapped[str] = mapped_column(String(36), index=True)
    url: Mapped[str] = mapped_column(Text)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # shared.outbox.State
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Lock(Base):
    """A named lock held until `expires_at` by one owner (the sweeper of one worker acts per round)."""

    __tablename__ = "locks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(LEASE_OWNER_LENGTH))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Maps:
    """States of an analysis's thumbnail and forensic maps (made by their own task after the verdict).

    NULL: not asked for (a batch without maps=true, until its result page or a map file is requested).
    """

    PENDING, RUNNING, READY, FAILED = "pending", "running", "ready", "failed"


UNFINISHED = text(f"status IN ('{Status.QUEUED}', '{Status.RUNNING}')")
KEYED_IDEMPOTENCY = text("idempotency_key IS NOT NULL")
KEYLESS_IDEMPOTENCY = text("api_key_id IS NULL AND idempotency_key IS NOT NULL")
# a single upload (not a batch item, not a re-analysis) that has not finished: identical ones share it
IN_FLIGHT_UPLOAD = text(f"status IN ('{Status.QUEUED}', '{Status.RUNNING}') AND batch_id IS NULL "
                        "AND reanalysis_of IS NULL")


class Analysis(Base):
    """One uploaded image and everything the worker found about it."""

    __tablename__ = "analyses"
    __table_args__ = (
        # a re-analysis request's Idempotency-Key, per owner (NULLs are distinct, so the keyless user has its own)
        Index("uq_analyses_key_idempotency", "api_key_id", "idempotency_key", unique=True,
              sqlite_where=KEYED_IDEMPOTENCY, postgresql_where=KEYED_IDEMPOTENCY),
        Index("uq_analyses_keyless_idempotency", "idempotency_key", unique=True,
              sqlite_where=KEYLESS_IDEMPOTENCY, postgresql_where=KEYLESS_IDEMPOTENCY),
        # at most one unfinished re-analysis of an analysis: a double click or a retried request finds that one
        Index("uq_analyses_unfinished_reanalysis", "reanalysis_of", unique=True,
              sqlite_where=UNFINISHED, postgresql_where=UNFINISHED),
        # at most one single upload of the same bytes in flight per owner (0: the keyless user) and callback:
        # concurrent identical uploads, on any number of web processes, share it (web/analyses/services.py submit)
        Index("uq_analyses_in_flight_upload", text("coalesce(api_key_id, 0)"), "sha256",
              text("coalesce(callback_url, '')"), unique=True,
              sqlite_where=IN_FLIGHT_UPLOAD, postgresql_where=IN_FLIGHT_UPLOAD),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default=Status.QUEUED, index=True)
    enqueued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # NULL: never reached the queue
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # leases taken; a live lease found is not one
    error: Mapped[str | None] = mapped_column(Text)
    # the lease: which worker process works on it and until when (renewed while the work runs)
    lease_owner: Mapped[str | None] = mapped_column(String(LEASE_OWNER_LENGTH))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    pipeline_runs: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # pipeline starts

    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"), index=True)
    batch_id: Mapped[str | None] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"), index=True)
    callback_url: Mapped[str | None] = mapped_column(Text)
    # submitted by link (shared/link_fetch.py): the URL as given, after redirects, and the IP address connected to
    source_url: Mapped[str | None] = mapped_column(Text)
    source_final_url: Mapped[str | None] = mapped_column(Text)
    source_address: Mapped[str | None] = mapped_column(String(45))

    filename: Mapped[str] = mapped_column(String(255))  # display only, never used as a path
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    media_type: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)

    verdict: Mapped[str | None] = mapped_column(String(16), index=True)
    level: Mapped[str | None] = mapped_column(String(24), index=True)  # shared.levels name; NULL before levels
    fake_probability: Mapped[float | None] = mapped_column(Float)
    metadata_score: Mapped[float | None] = mapped_column(Float)
    model_version: Mapped[str | None] = mapped_column(String(64), index=True)
    has_provenance: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), index=True)
    phash: Mapped[str | None] = mapped_column(String(16), index=True)  # 64-bit difference hash, hex
    reused_from: Mapped[str | None] = mapped_column(String(36))  # answered from this earlier analysis
    purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # upload removed, verdict kept
    maps_state: Mapped[str | None] = mapped_column(String(16))  # Maps.*; NULL: not asked for
    maps_error: Mapped[str | None] = mapped_column(Text)  # why the maps failed
    maps_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # the maps task's claim
    # a re-analysis: the analysis whose stored file it runs again with the current model (never answered by reuse)
    reanalysis_of: Mapped[str | None] = mapped_column(String(36), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(IDEMPOTENCY_KEY_LENGTH))  # the re-analysis request's
    # reasons, evidence, robustness scores, thresholds, maps: everything needed to explain the verdict later
    result: Mapped[dict[str, Any] | None] = deferred(mapped_column(JSON))
    # exiftool's output, grouped by family; large and only read by the metadata page
    file_metadata: Mapped[dict[str, Any] | None] = deferred(mapped_column(JSON))

    @property
    def scored(self) -> bool | None:
        """Whether the verdict used the detectors' score (None until done); an image too small for the detector
        is not scored, and its row keeps no fake_probability (the score it was not given is in its evidence)."""
        return None if self.status != Status.DONE else self.fake_probability is not None

    @property
    def megapixels(self) -> float | None:
        if self.width and self.height:
            return round(self.width * self.height / 1e6, 2)
        return None


LABEL_NOTE_MAX = 1000
LABEL_BY_MAX = 100  # ApiKey.name's length, or "local"


class Label(Base):
    """A reviewer's label on an analysis; rows are never updated, the latest one is the current label."""

    __tablename__ = "labels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # increasing: the current label has the largest id
    analysis_id: Mapped[str] = mapped_column(ForeignKey("analyses.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(8))  # shared.labels.LABELS
    note: Mapped[str | None] = mapped_column(String(LABEL_NOTE_MAX))
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))  # None: the keyless local user
    set_by: Mapped[str] = mapped_column(String(LABEL_BY_MAX))  # the key's name then, or "local"
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LabelAudit(Base):
    """A label of an analysis since deleted, with who deleted it and when: labels outlive what they labelled.

    No foreign key to analyses: the row it names is gone. `owner_key_id` is the analysis's owner, so each API key
    (and the keyless user) sees only the record of its own analyses.
    """

    __tablename__ = "label_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    analysis_id: Mapped[str] = mapped_column(String(36), index=True)
    owner_key_id: Mapped[int | None] = mapped_column(Integer, index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)  # the same image analysed again is found by it
    filename: Mapped[str] = mapped_column(String(255))
    verdict: Mapped[str | None] = mapped_column(String(16))
    model_version: Mapped[str | None] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(8))
    note: Mapped[str | None] = mapped_column(String(LABEL_NOTE_MAX))
    set_by: Mapped[str] = mapped_column(String(LABEL_BY_MAX))
    labelled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deleted_by: Mapped[str] = mapped_column(String(LABEL_BY_MAX))
    deleted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
