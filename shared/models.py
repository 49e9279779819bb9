"""Typed SQLAlchemy 2.0 models, shared by web, worker and migrations. Models never commit."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, DateTime, Float, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, deferred, mapped_column


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_id() -> str:
    """Unguessable public id."""
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    pass


class Status:
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    FINAL = (DONE, FAILED)


class Analysis(Base):
    """One uploaded image and everything the worker found about it."""

    __tablename__ = "analyses"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default=Status.QUEUED, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)

    filename: Mapped[str] = mapped_column(String(255))  # display only, never used as a path
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    media_type: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)

    verdict: Mapped[str | None] = mapped_column(String(16), index=True)
    fake_probability: Mapped[float | None] = mapped_column(Float)
    metadata_score: Mapped[float | None] = mapped_column(Float)
    model_version: Mapped[str | None] = mapped_column(String(64))
    # reasons, evidence, robustness scores, thresholds, maps: everything needed to explain the verdict later
    result: Mapped[dict[str, Any] | None] = deferred(mapped_column(JSON))
    # exiftool's output, grouped by family; large and only read by the metadata page
    file_metadata: Mapped[dict[str, Any] | None] = deferred(mapped_column(JSON))

    @property
    def megapixels(self) -> float | None:
        if self.width and self.height:
            return round(self.width * self.height / 1e6, 2)
        return None
